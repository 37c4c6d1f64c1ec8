"""Code references in instructional notes, and the FY2026 code set's facts."""

from __future__ import annotations

import pytest

from nlp.codeset import in_range, parse_code_ranges
from nlp.text import normalize


@pytest.mark.parametrize(
    ("note", "ranges"),
    [
        ("code to identify stage of chronic kidney disease (N18.1-N18.6)", (("N181", "N186"),)),
        ("diabetes mellitus due to underlying condition (E08.-)", (("E08", "E08"),)),
        (
            "hypertensive disease complicating pregnancy (O10-O11, O13-O16)",
            (("O10", "O11"), ("O13", "O16")),
        ),
        ("insulin (Z79.4)", (("Z794", "Z794"),)),
    ],
)
def test_parse_code_ranges(note, ranges):
    assert parse_code_ranges(note) == ranges


def test_in_range():
    assert in_range("N18.31", (("N181", "N186"),))
    assert not in_range("N18.9", (("N181", "N186"),))
    assert in_range("E08.22", (("E08", "E08"),))
    assert in_range("O11.1", (("O10", "O11"),))


def test_code_set_holds_fy2026_codes_with_notes_and_hcc(coder):
    codeset = coder.codeset
    e1122 = codeset["E11.22"]
    assert e1122.billable and e1122.hcc == "37"
    assert ("N181", "N186") in e1122.use_additional
    assert ("E10", "E10") in e1122.excludes1  # inherited from category E11
    assert codeset["B20"].description == "Human immunodeficiency virus [HIV] disease"
    assert not codeset["G57.6"].billable
    assert codeset.billable_descendants("G57.6") == ["G57.60", "G57.61", "G57.62", "G57.63"]
    assert codeset.canonical("e1122") == "E11.22"
    assert codeset["E66.813"].hcc == "48"


@pytest.mark.parametrize(
    ("word", "norm"),
    [
        ("Diseases", "disease"),
        ("arteries", "artery"),
        ("Crohn's", "crohn"),
        ("diagnosis", "diagnosis"),
        ("Fièvre", "fievre"),
        ("HTN", "htn"),
    ],
)
def test_normalize(word, norm):
    assert normalize(word) == norm
