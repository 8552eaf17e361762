"""Mail: single messages (EML) and mailboxes (mbox), with the stdlib parser.

Per message ``N`` (1-based; always 1 for an EML): the address and subject
headers (``part=headers``), every text body (``part=body``, ``part=body.2``
...; HTML reduced to its text), and every attachment extracted by content
through the same dispatcher as a file (``part=<filename>``, or ``part=#K``
for an unnamed part, K its 1-based position among the leaf parts).

An mbox is split on ``From `` lines while streaming, so a mailbox of any
size costs one message of memory; one message is bounded by
``max_file_bytes``.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterable, Iterator
from email.message import EmailMessage, Message
from html.parser import HTMLParser

from daemon.scan.extract.archives import Recurse, nested
from daemon.scan.extract.segmenting import SegmentPacker
from daemon.scan.extract.sniff import MIME
from daemon.scan.extract.source import Ctx, Input, escape_locator_part
from daemon.scan.segments import Segment
from scratchwarden.errors import Unscannable

Result = tuple[str, Iterator[Segment]]
HEADERS = ("From", "To", "Cc", "Bcc", "Reply-To", "Subject")


def extract_eml(inp: Input, ctx: Ctx, recurse: Recurse) -> Result:
    data = inp.read_all(ctx.limits.max_file_bytes)
    return MIME["eml"], _message_segments(data, 1, ctx, recurse)


def extract_mbox(inp: Input, ctx: Ctx, recurse: Recurse) -> Result:
    def gen() -> Iterator[Segment]:
        for n, raw in enumerate(split_mbox(inp.chunks(), ctx.limits.max_file_bytes), start=1):
            yield from _message_segments(raw, n, ctx, recurse)
    return MIME["mbox"], gen()


def split_mbox(chunks: Iterable[bytes], cap: int) -> Iterator[bytes]:
    """Raw messages of an mbox: each starts at a ``From `` line at the start
    of the file or after an empty line; the ``From `` line is dropped.

    Raises:
        Unscannable: a line or a message over the cap (``too-large``).
    """
    current: list[bytes] = []
    size = 0
    prev_blank = True
    pending = b""
    for chunk in chunks:
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        for line in lines:
            if prev_blank and line.startswith(b"From "):
                if current:
                    yield b"\n".join(current) + b"\n"
                current, size = [], 0
            else:
                current.append(line)
                size += len(line) + 1
                if size > cap:
                    raise Unscannable("too-large", f"expected mail messages of at most {cap} "
                                                   "bytes, found a bigger one")
            prev_blank = not line.strip()
        if len(pending) > cap:
            raise Unscannable("too-large", f"expected lines of at most {cap} bytes")
    if pending:
        current.append(pending)
    if current:
        yield b"\n".join(current) + b"\n"


def _message_segments(raw: bytes, n: int, ctx: Ctx, recurse: Recurse) -> Iterator[Segment]:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    prefix = f"message={n}"
    headers = "".join(f"{h}: {v}\n" for h in HEADERS for v in _header_values(msg, h))
    if headers:
        yield Segment(text=headers, locator=f"{prefix};part=headers", context=HEADERS)
    bodies = 0
    for k, part in enumerate(_leaves(msg, ctx), start=1):
        if _is_body(part):
            bodies += 1
            label = "body" if bodies == 1 else f"body.{bodies}"
            packer = SegmentPacker(ctx.limits, locator=f"{prefix};part={label}",
                                   cap=ctx.limits.max_text_chars)
            yield from packer.add(None, _body_text(part))
            yield from packer.flush()
        else:
            yield from _attachment(part, k, prefix, ctx, recurse)


def _header_values(msg: Message, name: str) -> list[str]:
    try:
        return [str(v) for v in msg.get_all(name, [])]
    except Exception:  # noqa: BLE001 - hostile input: the typed parser fails in many ways
        # It gave up on a malformed value (IndexError, AttributeError... seen
        # fuzzing): keep it raw (``raw_items``: ``get_all`` would parse again).
        return [_unescaped(v) for k, v in msg.raw_items() if k.lower() == name.lower()]


def _unescaped(raw: str) -> str:
    """A raw header value with the bytes that were not ASCII (kept by the
    parser as lone surrogates) as U+FFFD, one for one."""
    return raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _leaves(msg: Message, ctx: Ctx) -> Iterator[Message]:
    count = 0
    for part in msg.walk():
        count += 1
        if count > ctx.limits.max_mail_parts:
            raise Unscannable("archive-limit", f"expected at most {ctx.limits.max_mail_parts} "
                                               "mail parts, found more")
        if not part.is_multipart():
            yield part


def _is_body(part: Message) -> bool:
    return (part.get_content_type() in ("text/plain", "text/html")
            and part.get_content_disposition() != "attachment"
            and not part.get_filename())


def _body_text(part: Message) -> str:
    try:
        text = part.get_content() if isinstance(part, EmailMessage) else None
    except (LookupError, ValueError, UnicodeError):
        text = None
    if not isinstance(text, str):
        payload = part.get_payload(decode=True)
        text = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    if part.get_content_type() == "text/html":
        text = html_to_text(text)
    return text


def _attachment(part: Message, k: int, prefix: str, ctx: Ctx,
                recurse: Recurse) -> Iterator[Segment]:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes) or not payload:
        return
    if ctx.depth >= ctx.limits.max_archive_depth:
        raise Unscannable("archive-limit", "expected attachments nested at most "
                                           f"{ctx.limits.max_archive_depth} deep, found deeper")
    ctx.budget.add_member()
    filename = part.get_filename() or ""
    label = escape_locator_part(filename) if filename else f"#{k}"
    yield from nested(Input.from_bytes(payload, filename), ctx, recurse,
                      f"{prefix};part={label}")


class _TextOfHtml(HTMLParser):
    _BLOCK = frozenset({"p", "div", "br", "li", "tr", "td", "th", "h1", "h2", "h3", "h4",
                        "h5", "h6", "table", "ul", "ol", "pre", "blockquote", "hr", "title"})
    _SKIP = frozenset({"script", "style"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """The visible text of an HTML body, block elements on their own lines."""
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n"))
    return "\n".join(line for line in lines if line) + "\n"
