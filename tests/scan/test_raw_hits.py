"""Trigger hits listed through google-re2's compiled object (windows._raw_spans)
must be exactly the wrapper's ``finditer`` spans. Values are synthetic."""

from __future__ import annotations

import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.scan.prefilter import SHAPES
from daemon.scan.windows import HitFinder, _raw_matcher, _raw_spans

_TRIGGERS = [t.replace(r"\p{Nd}", "[0-9]") for t in SHAPES.values()
             if "\\p" not in t.replace(r"\p{Nd}", "")] + ["x*", "a|"]  # empty matches too
_ASCII = st.text(alphabet=st.sampled_from(list("0123456789 -.:/@abcxAKIAGBZ\n")), max_size=120)


@settings(max_examples=200, deadline=None)
@given(text=_ASCII, trigger=st.sampled_from(_TRIGGERS))
def test_raw_spans_equal_finditer(text: str, trigger: str) -> None:
    compiled = re2.compile(trigger)
    raw = _raw_matcher(compiled)
    assert raw is not None, "expected this google-re2 to expose its compiled object"
    data = text.encode("ascii")
    assert list(_raw_spans(raw, data)) == [m.span() for m in compiled.finditer(data)]


def test_hit_finder_uses_the_raw_path_on_ascii() -> None:
    finder = HitFinder(SHAPES["UsSsnRecognizer"])
    text = "a 536-22-1490 b 536221490"
    assert list(finder.spans(text)) == [(2, 13), (16, 25)]
    assert list(finder.spans(text + "\u00e9")) == [(2, 13), (16, 25)]
