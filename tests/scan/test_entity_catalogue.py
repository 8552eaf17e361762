"""The one catalogue of entity types: every recognizer the detector runs emits
only catalogued types, under a recognizer name the entry declares; the readers
(policy lint, sensitivity, metrics) take their vocabulary from it; and it is
pure data that imports none of the packages reading it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scratchwarden.entities import ENTITY_TYPES, KNOWN_TYPES, SECRET_TYPES, names_at

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_every_recognizer_emits_only_catalogued_types() -> None:
    from daemon.scan.detect import Detector

    detector = Detector(use_ner=True)
    recognizers = detector.analyzer.registry.get_recognizers(language="en", all_fields=True)
    assert len(recognizers) > 20
    for r in recognizers:
        for entity in r.supported_entities:
            assert entity in ENTITY_TYPES, f"{r.name} emits {entity}, which has no entry"
            entry = ENTITY_TYPES[entity]
            assert r.name in entry.recognizers, \
                f"{entity}'s entry does not name its recognizer {r.name}"


def test_column_classifier_types_are_catalogued() -> None:
    from daemon.scan.columns import COLUMN_TYPES

    assert set(COLUMN_TYPES) <= KNOWN_TYPES
    for entity in COLUMN_TYPES:
        assert "ColumnClassifier" in ENTITY_TYPES[entity].recognizers


def test_readers_use_the_catalogue() -> None:
    from daemon.node.metrics import BASE_ENTITY_TYPES
    from inventory.sensitivity import RESTRICTED_TYPES, Sensitivity, level_of_type
    from policies.lint import KNOWN_ENTITIES

    assert KNOWN_ENTITIES == KNOWN_TYPES == BASE_ENTITY_TYPES
    assert RESTRICTED_TYPES == names_at("restricted")
    for name, entry in ENTITY_TYPES.items():
        assert level_of_type(name).value == entry.level, name
    # The inconsistency: an assigned API key is a secret like any other.
    assert level_of_type("API_KEY_ASSIGNMENT") is Sensitivity.RESTRICTED
    assert all(ENTITY_TYPES[s].level == "restricted" for s in SECRET_TYPES)


def test_every_secret_type_of_the_scanner_is_catalogued_as_secret() -> None:
    from daemon.scan.recognizers.secrets import SECRET_ENTITIES

    assert SECRET_ENTITIES <= SECRET_TYPES


def test_catalogue_is_pure_data() -> None:
    probe = ("import sys; import scratchwarden.entities; "
             "bad = [m for m in sys.modules if m.split('.')[0] in "
             "('daemon', 'inventory', 'policies', 'presidio_analyzer', 'spacy')]; "
             "print(bad)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True,
                         text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
