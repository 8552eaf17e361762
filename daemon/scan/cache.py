"""Scan each distinct content once: a bounded LRU of scan results by content hash.

Agent workers copy the same document into many sessions (the same PDF
extracted again, the same tool-call cache). The pipeline hashes every file it
scans anyway; a second file with the same SHA-256 (and the same name suffix,
since extraction sniffs by suffix too) gets the first one's findings without
extraction or detection. Findings hold offsets, locators and keyed
fingerprints, never values, so the cache holds no detected value.

Bounded by entries AND by the total number of findings held (a file with
100k findings must not pin 100k records forever). One cache per Scanner, i.e.
per worker process; the daemon and ``scratchwarden scan`` get it through
``Scanner``."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from scratchwarden.observations import Finding

MAX_ENTRIES = 4096
MAX_FINDINGS = 200_000


@dataclass(frozen=True, slots=True)
class CachedScan:
    """What a scan of some content produced (independent of path and stat)."""

    mime: str
    findings: tuple[Finding, ...]
    partial: str | None = None   # the extraction's partial-scan reason, if any


class ScanCache:
    """LRU map ``(sha256, suffix) -> CachedScan`` with entry and findings bounds."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_findings: int = MAX_FINDINGS) -> None:
        if max_entries < 0 or max_findings < 0:
            raise ValueError(f"expected non-negative bounds, found entries={max_entries} "
                             f"findings={max_findings}")
        self.max_entries = max_entries
        self.max_findings = max_findings
        self._items: OrderedDict[tuple[str, str], CachedScan] = OrderedDict()
        self._findings = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def findings_held(self) -> int:
        return self._findings

    def get(self, digest: str, suffix: str) -> CachedScan | None:
        item = self._items.get((digest, suffix))
        if item is None:
            self.misses += 1
            return None
        self._items.move_to_end((digest, suffix))
        self.hits += 1
        return item

    def put(self, digest: str, suffix: str, scan: CachedScan) -> None:
        """Remember ``scan``; a result bigger than the findings bound is not kept."""
        if len(scan.findings) > self.max_findings or self.max_entries == 0:
            return
        key = (digest, suffix)
        old = self._items.pop(key, None)
        if old is not None:
            self._findings -= len(old.findings)
        self._items[key] = scan
        self._findings += len(scan.findings)
        while len(self._items) > self.max_entries or self._findings > self.max_findings:
            _, evicted = self._items.popitem(last=False)
            self._findings -= len(evicted.findings)
