#!/usr/bin/env python3
"""Generate ``examples/scratch/``: a small, realistic agent scratch tree.

Every person, number and secret in it is FAKE: example.com/.org addresses,
555-01xx phone numbers, the documentation SSN 078-05-1120, card-network test
numbers (4111 1111 1111 1111, 5555 5555 5555 4444), the textbook IBAN
GB82 WEST 1234 5698 7654 32, an AWS-shaped key pair typed for this sample
(it belongs to nobody) beside AWS's documented example key
AKIAIOSFODNN7EXAMPLE (which the scanner does not report: a documentation
example is not a finding), a GitHub-shaped token of sequential characters and
a PEM block whose body is not a key. The generated files are committed; rerun
to rebuild them (``python examples/make_samples.py [OUT_DIR]``). Needs
python-docx; the PDF is written by hand (no PDF writer is installed).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import sqlite3
import sys
import zipfile
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent / "scratch" / "acme" / "sessions"
S1 = "2026-11-20-a1b2"   # claims agent: documents, mail, tool calls
S2 = "2026-11-21-c3d4"   # CRM agent: exports, caches, office files
S3 = "2026-11-22-e5f6"   # deploy agent: credentials pasted into notes; a clean file

PEOPLE = [
    ("Alice Example", "alice.example@example.com", "555-0101", "078-05-1120", "4111111111111111"),
    ("Bob Sample", "bob.sample@example.org", "555-0102", "", "5555555555554444"),
    ("Carol Testwell", "carol.testwell@example.net", "555-0103", "", ""),
]
GITHUB_TOKEN = "ghp_" + "0123456789abcdefghijklmnopqrstuvwxyz"
PEM = ("-----BEGIN RSA PRIVATE KEY-----\n"
       "MIIEFAKEKEYFORTESTSONLYAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
       "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\n"
       "-----END RSA PRIVATE KEY-----\n")

PDF_TEXT_TXT = """\
CLAIM FORM - extracted by pdf-to-text (agent tool call 7)

Policy holder: Alice Example
Date of birth: 1984-03-02
Social Security Number: 078-05-1120
Phone: (555) 555-0101
Email: alice.example@example.com
Address: 100 Example Street, Springfield, IL 62701

Incident: water damage, kitchen. Estimated cost USD 4,200.
"""

TRANSCRIPT = """\
# Session 2026-11-20-a1b2 transcript

user: Please file the water damage claim for Alice Example, policy P-77120.
assistant: I'll read the claim form first.
tool_call: pdf_to_text(path="inbox/claim-form.pdf") -> extracted/claim-form.txt
assistant: The claim form lists phone (555) 555-0101 and the SSN on file.
user: Refund to card 4111 1111 1111 1111 if approved.
assistant: Noted. I will not store the card number.
"""

CRM_JSON = {
    "tool": "crm.lookup",
    "request": {"query": "Alice Example"},
    "response": {
        "users": [
            {"id": 1001, "name": "Alice Example", "email": "alice.example@example.com",
             "phone": "555-0101", "iban": "GB82WEST12345698765432"},
            {"id": 1002, "name": "Bob Sample", "email": "bob.sample@example.org",
             "phone": "555-0102"},
        ],
        "next_page": None,
    },
}

EVENTS = [
    {"ts": "2026-11-20T09:00:00Z", "event": "session.start", "agent": "claims-bot"},
    {"ts": "2026-11-20T09:00:05Z", "event": "tool.call", "tool": "mail.fetch",
     "args": {"mailbox": "claims@example.com"}},
    {"ts": "2026-11-20T09:00:09Z", "event": "tool.result", "tool": "crm.lookup",
     "result": {"email": "bob.sample@example.org", "phone": "555-0102"}},
]

CLEAN = """\
Scratch notes for the deploy agent.

- Build finished in 4m12s; 312 tests passed.
- Next step: roll out to the staging cluster after the change window.
- Nothing customer-related is kept in this folder.
"""

DEPLOY_NOTES = f"""\
Deploy notes (pasted by the agent from the operator's message)

export AWS_ACCESS_KEY_ID=AKIAZ7Q4NVJ2W6KT3PXR
export AWS_SECRET_ACCESS_KEY=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
# as in the AWS docs: export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
GITHUB_TOKEN={GITHUB_TOKEN}

deploy key:
{PEM}"""

LOG = "\n".join([
    "2026-11-21T10:00:00Z INFO agent started session 2026-11-21-c3d4",
    "2026-11-21T10:00:02Z INFO export customers -> exports/customers.csv",
    "2026-11-21T10:00:03Z WARN retry sending receipt to carol.testwell@example.net",
    "2026-11-21T10:00:04Z INFO done",
]) + "\n"


def customers_csv() -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["name", "email", "phone", "card_number"])
    for name, email, phone, _ssn, card in PEOPLE:
        w.writerow([name, email, phone, card])
    return buf.getvalue().encode()


def claim_eml() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Alice Example <alice.example@example.com>"
    msg["To"] = "claims@example.com"
    msg["Cc"] = "Bob Sample <bob.sample@example.org>"
    msg["Subject"] = "Claim P-77120: receipts attached"
    msg["Date"] = "Fri, 20 Nov 2026 08:55:00 +0000"
    msg["Message-ID"] = "<claim-77120@example.com>"
    msg.set_content("Hello,\n\nplease find my receipts attached. You can reach me at "
                    "(555) 555-0101.\n\nAlice\n")
    msg.add_alternative("<html><body><p>Hello,</p><p>please find my receipts attached. "
                        "You can reach me at <b>(555) 555-0101</b>.</p>"
                        "<script>var x=1;</script></body></html>", subtype="html")
    receipts = "date,amount,card\n2026-11-02,129.00,4111111111111111\n"
    msg.add_attachment(receipts.encode(), maintype="text", subtype="csv",
                       filename="receipts.csv")
    msg.set_boundary("==sample-boundary-1==")
    return msg.as_bytes()


def sqlite_cache(path: Path) -> None:
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE contacts (id INTEGER PRIMARY KEY, full_name TEXT, email TEXT, "
                "phone TEXT)")
    con.execute("CREATE TABLE http_cache (url TEXT, status INTEGER, body BLOB)")
    for i, (name, email, phone, _s, _c) in enumerate(PEOPLE, start=1):
        con.execute("INSERT INTO contacts VALUES (?, ?, ?, ?)", (i, name, email, phone))
    con.execute("INSERT INTO http_cache VALUES (?, ?, ?)",
                ("https://crm.example.com/api/users/1002", 200,
                 json.dumps({"email": "bob.sample@example.org"}).encode()))
    con.commit()
    con.execute("VACUUM")
    con.close()


def intake_docx(path: Path) -> None:
    import docx

    d = docx.Document()
    d.add_heading("Customer intake form", level=1)
    d.add_paragraph("Customer: Carol Testwell")
    d.add_paragraph("Contact email: carol.testwell@example.net")
    table = d.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Phone"
    table.cell(0, 1).text = "555-0103"
    table.cell(1, 0).text = "IBAN"
    table.cell(1, 1).text = "GB82WEST12345698765432"
    d.core_properties.author = "intake-agent"
    d.save(str(path))


def minimal_pdf(pages: list[list[str]]) -> bytes:
    """A valid PDF 1.4 with one Helvetica text page per entry (hand-written:
    objects, a cross-reference table with exact byte offsets, a trailer)."""
    objs: list[bytes] = []
    n_pages = len(pages)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n_pages))
    font_id = 3 + 2 * n_pages
    objs.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objs.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    for i, lines in enumerate(pages):
        content = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
        for line in lines:
            esc = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            content.append(f"({esc}) Tj T*")
        content.append("ET")
        stream = "\n".join(content).encode("latin-1")
        objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                    f"/Resources << /Font << /F1 {font_id} 0 R >> >> "
                    f"/Contents {4 + 2 * i} 0 R >>".encode())
        objs.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
                b"/Encoding /WinAnsiEncoding >>")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for num, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % num + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1,
                                                                           xref)
    return bytes(out)


INVOICE_PAGES = [
    ["INVOICE 2026-118", "Bill to: Bob Sample", "bob.sample@example.org"],
    ["Payment", "Card: 5555 5555 5555 4444", "Phone: 555-0102"],
]


def zip_export() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo("export/customers_q3.csv", date_time=(2026, 11, 21, 10, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, customers_csv())
    return buf.getvalue()


def write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def main(root: Path = ROOT) -> None:
    s1, s2, s3 = root / S1, root / S2, root / S3
    write(s1 / "extracted" / "claim-form.txt", PDF_TEXT_TXT)
    write(s1 / "transcript.md", TRANSCRIPT)
    write(s1 / "inbox" / "claim-77120.eml", claim_eml())
    write(s1 / "tool-cache" / "crm_lookup.json", json.dumps(CRM_JSON, indent=2) + "\n")
    write(s1 / "tool-cache" / "events.ndjson", "".join(json.dumps(e) + "\n" for e in EVENTS))
    write(s2 / "exports" / "customers.csv", customers_csv())
    (s2 / "cache").mkdir(parents=True, exist_ok=True)
    sqlite_cache(s2 / "cache" / "crm-cache.sqlite")
    (s2 / "docs").mkdir(parents=True, exist_ok=True)
    intake_docx(s2 / "docs" / "intake-form.docx")
    write(s2 / "docs" / "invoice.pdf", minimal_pdf(INVOICE_PAGES))
    write(s2 / "bundle" / "exports.zip", zip_export())
    write(s2 / "logs" / "agent.log.gz", gzip.compress(LOG.encode(), mtime=0))
    write(s3 / "notes" / "README.txt", CLEAN)
    write(s3 / "config" / "deploy-notes.txt", DEPLOY_NOTES)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT)
