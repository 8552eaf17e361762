"""A shape trigger must be NECESSARY: every match of its recognizer's regexes
contains an occurrence of the trigger (prefilter.SHAPES). Checked directly on
Presidio's compiled patterns over digit-heavy generated texts. Values are synthetic."""

from __future__ import annotations

from typing import Any

import re2
import regex
from hypothesis import given, settings
from hypothesis import strategies as st
from presidio_analyzer.predefined_recognizers import CreditCardRecognizer

from daemon.scan.prefilter import shape_of


def _card_regexes() -> list[Any]:
    recognizer: Any = CreditCardRecognizer()
    return [regex.compile(p.regex, recognizer.global_regex_flags) for p in recognizer.patterns]


_DIGITY = st.text(alphabet=st.sampled_from(list("0123456789012345- x\n\u0663")), max_size=60)


@settings(max_examples=400, deadline=None)
@given(text=_DIGITY)
def test_card_shape_is_in_every_card_match(text: str) -> None:
    trigger = re2.compile(str(shape_of(CreditCardRecognizer())))
    for compiled in _card_regexes():
        for m in compiled.finditer(text):
            assert trigger.search(m.group()) is not None, f"no trigger in match at {m.span()}"


def test_card_shape_accepts_every_leading_digit_the_pattern_does() -> None:
    """Cards open with 1, 3, 4, 5 or 6 (Presidio's alternatives); others never match."""
    trigger = re2.compile(str(shape_of(CreditCardRecognizer())))
    for lead in "0123456789":
        number = lead + "111 2222 3333 4444"
        matched = any(compiled.search(number) for compiled in _card_regexes())
        assert matched == (trigger.search(number) is not None), f"leading {lead}"
