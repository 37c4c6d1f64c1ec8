"""MEAT evidence on hand-labelled charts (tests/fixtures/meat/charts.json): kinds and exact
spans, list-only mentions unsupported, and the rules file validated on load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlp.meat import CodeMentions, MeatFinder, MeatRules, load_meat_rules
from nlp.rule_files import ResourceError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "meat" / "charts.json"
CHARTS = json.loads(FIXTURES.read_text(encoding="utf-8"))["charts"]


@pytest.fixture(scope="module")
def finder() -> MeatFinder:
    return MeatFinder()


def _mentions(text: str, phrase: str) -> CodeMentions:
    start = text.find(phrase)
    assert start >= 0 and text.find(phrase, start + 1) < 0, f"{phrase!r} must occur once"
    return CodeMentions("", ((start, start + len(phrase)),))


@pytest.mark.parametrize(
    ("chart", "expected"),
    [(chart, code) for chart in CHARTS for code in chart["codes"]],
    ids=[f"{chart['id']}:{code['code']}" for chart in CHARTS for code in chart["codes"]],
)
def test_meat_kinds_and_spans_match_the_hand_labels(
    finder: MeatFinder, chart: dict, expected: dict
) -> None:
    text = chart["text"]
    mention = _mentions(text, expected["mention"])
    (finding,) = finder.find(text, [CodeMentions(expected["code"], mention.spans)])
    assert finding.code == expected["code"]
    assert finding.supported is expected["supported"]
    found = [[span.kind, text[span.start : span.end]] for span in finding.meat]
    assert found == expected["meat"]


def test_list_only_mentions_are_unsupported(finder: MeatFinder) -> None:
    chart = next(c for c in CHARTS if c["id"] == "problem-list-only")
    codes = [
        CodeMentions(code["code"], _mentions(chart["text"], code["mention"]).spans)
        for code in chart["codes"]
    ]
    findings = finder.find(chart["text"], codes)
    assert [(f.code, f.supported, f.meat) for f in findings] == [
        ("F33.1", False, ()),
        ("I48.19", False, ()),
        ("M06.042", False, ()),
    ]


def test_annotate_gives_hcc_codes_offsets_only(finder: MeatFinder) -> None:
    chart = next(c for c in CHARTS if c["id"] == "discharge-list")
    text = chart["text"]
    start = text.index("Chronic kidney disease stage 3b")
    record = {
        "chart_id": "discharge-list",
        "codes": [
            {"code": "N18.32", "hcc": "328", "evidence": [{"start": start, "end": start + 31}]},
            {"code": "E87.5", "hcc": None, "evidence": []},
        ],
    }
    annotated = finder.annotate(text, record)
    kidney, potassium = annotated["codes"]
    assert kidney["supported"] is True
    baseline, creatinine = text.index("at baseline"), text.index("creatinine")
    assert kidney["meat"] == [
        {"kind": "assess", "start": baseline, "end": baseline + len("at baseline")},
        {"kind": "evaluate", "start": creatinine, "end": creatinine + len("creatinine")},
    ]
    assert "supported" not in potassium and "meat" not in potassium
    assert "supported" not in record["codes"][0], "the input record is left as it was"


def test_a_code_without_a_family_gets_statement_words_only(finder: MeatFinder) -> None:
    text = "ASSESSMENT:\nProtein-calorie malnutrition, moderate: stable.\n"
    start = text.index("Protein")
    (finding,) = finder.find(text, [CodeMentions("Q99.9", ((start, start + 28),))])
    assert [(s.kind, text[s.start : s.end]) for s in finding.meat] == [("assess", "stable")]


def test_shipped_rules_load_and_cover_the_main_families() -> None:
    rules = load_meat_rules()
    for code in ("E11.22", "I50.23", "J44.1", "N18.32", "I48.91", "Z79.4", "C34.90"):
        assert rules.families_of(code), code


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kinds": ["monitor", "evaluate"]}, "'kinds' must be"),
        ({"families": [{"name": "x", "prefixes": ["11"], "treat": ["a"]}]}, "no ICD-10 prefix"),
        ({"families": [{"name": "x", "prefixes": ["E11"], "cure": ["a"]}]}, "unknown keys"),
        ({"families": [{"name": "x", "prefixes": ["E11"], "treat": []}]}, "non-empty list"),
        ({"max_spans_per_kind": 0}, "max_spans_per_kind"),
    ],
)
def test_bad_rules_are_rejected_with_the_bad_value(change: dict, message: str) -> None:
    from importlib import resources

    data = json.loads(resources.files("nlp.resources").joinpath("meat.json").read_text())
    with pytest.raises(ResourceError, match=message):
        MeatRules.from_dict(data | change)


def test_a_negated_or_family_mention_of_the_condition_links_nothing(finder: MeatFinder) -> None:
    text = (
        "HPI:\nNo history of heart failure; furosemide 20 mg daily for ankle edema.\n\n"
        "FAMILY HISTORY:\nMother with heart failure, on carvedilol.\n\n"
        "PROBLEM LIST:\nHeart failure with preserved ejection fraction\n"
    )
    start = text.index("Heart failure with")
    (finding,) = finder.find(text, [CodeMentions("I50.30", ((start, start + 46),))])
    assert (finding.supported, finding.meat) == (False, ())
