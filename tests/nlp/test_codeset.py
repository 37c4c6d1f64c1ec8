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


def test_a_reference_narrowed_by_with_is_no_whole_range():
    note = "diabetic acidosis - see categories E08-E10, E11, E13 with ketoacidosis"
    assert parse_code_ranges(note, qualified=False) == ()
    assert ("E11", "E11") in parse_code_ranges(note)


def test_diabetes_without_coma_is_not_excludes1_with_somnolence(coder):
    # R40 excludes "somnolence, stupor and coma in diabetes (E08-E13)": a diabetic coma code,
    # but the whole-category reference is all the tabular list gives; E87.2's "with
    # ketoacidosis" reference is narrowed and must not exclude E11.9
    assert not coder.rules.excludes1("E11.9", "E87.20")
    assert coder.rules.excludes1("N17.9", "N19")


@pytest.mark.parametrize(
    ("code", "scope"),
    [
        ("R59.9", "R59"),  # enlarged lymph nodes, unspecified: R59.0 replaces it
        ("G43.909", "G43"),  # migraine, unspecified: G43.009 replaces it
        ("F17.200", "F17"),
        ("E11.9", "E11"),
        ("R10.9", "R10"),
        ("R11.10", "R11.1"),  # vomiting, unspecified: not replaced by R11.0 nausea
        ("R11.2", None),  # nausea with vomiting is not "nausea and vomiting" unspecified
        ("K92.2", None),
        ("G43.009", None),  # not an unspecified code
    ],
)
def test_unspecified_scope(coder, code, scope):
    assert coder.rules.unspecified_scope(code) == scope


def test_the_specific_documented_code_wins_whatever_the_scores(coder):
    # a ranker trained on CodiEsp scores E11.9 above E11.22 (its gold favours unspecified codes);
    # the coding rule still reports the most specific code the text supports
    kept = coder._resolve_conflicts(["E11.9", "I10", "E11.22"])
    assert list(kept) == ["I10", "E11.22"]
    assert [(n.kind, n.codes) for n in kept["E11.22"]] == [("more-specific-documented", ("E11.9",))]
