"""Scoring against US-chart gold, on hand-made charts with hand-computed figures."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from nlp.us_evaluation import GoldChart, RiskModel, align, as_scored, gold_chart, read_gold, score

RECORDS = [
    {
        "id": "a",
        "setting": "outpatient",
        "age": 74,
        "sex": "F",
        "text": "not read by the scoring",
        "gold": [
            {"code": "E11.22", "alt": [], "evidence": "T2DM with CKD", "why": "with"},
            {"code": "F11.20", "alt": ["F11.21"], "evidence": "OUD", "why": "remission?"},
            {"code": "E78.5", "alt": [], "evidence": "HLD", "why": "NOS"},
        ],
        "optional": [{"code": "Z79.84", "why": "oral hypoglycemic"}],
        "must_not": [{"code": "E11.9", "why": "unspecified"}, {"code": "C18", "why": "family"}],
    },
    {
        "id": "b",
        "setting": "inpatient",
        "age": 70,
        "sex": "M",
        "text": "",
        "gold": [{"code": "J44.9", "alt": ["J43.9", "J44.1"], "evidence": "", "why": ""}],
        "optional": [],
        "must_not": [{"code": "R05", "why": "integral to COPD"}],
    },
    {
        "id": "c",
        "setting": "outpatient",
        "age": 80,
        "sex": "F",
        "text": "",
        "gold": [{"code": "I10", "alt": [], "evidence": "", "why": ""}],
        "optional": [],
        "must_not": [],
    },
]
PREDICTIONS = {
    "a": [
        ("E11.22", 0.9),  # hit
        ("f1121", 0.8),  # hit through the alternative, whatever the dots and case
        ("F11.20", 0.7),  # main code of an item already hit: ignored
        ("Z79.84", 0.6),  # optional: ignored
        ("C18.7", 0.4),  # wrong, and under the must_not prefix C18
        ("E1122", 0.3),  # the same code again: counted once
    ],
    "b": [
        ("J43.9", 0.7),  # hit through an alternative
        ("J44.1", 0.6),  # another alternative of the item already hit: ignored
        ("R05.9", 0.5),  # wrong, under R05
    ],
    # "c" has no prediction record: no codes
    "x": [("A00.0", 0.9)],  # not in the gold: left out
}


@pytest.fixture(scope="module")
def gold() -> list[GoldChart]:
    return [gold_chart(record) for record in RECORDS]


@pytest.fixture(scope="module")
def risk() -> RiskModel:
    return RiskModel()


def test_alignment_of_one_chart(gold):
    found = align([code for code, _ in PREDICTIONS["a"]], gold[0])
    assert found.hits == (("E11.22", "E11.22"), ("f1121", "F11.20"))
    assert found.ignored == ("F11.20", "Z79.84")
    assert found.wrong == ("C18.7",)
    assert found.missed == ("E78.5",)
    assert found.violations == ("C18.7",)


def test_exact_figures_and_must_not_share(gold, risk):
    result = score(PREDICTIONS, gold, risk)
    # hits: E11.22, F11.21 (a), J43.9 (b); wrong: C18.7, R05.9; gold items: 3 + 1 + 1
    assert (result.exact.right, result.exact.predicted, result.exact.gold) == (3, 5, 5)
    assert result.exact.precision == pytest.approx(0.6)
    assert result.exact.recall == pytest.approx(0.6)
    assert result.exact.f1 == pytest.approx(0.6)
    assert result.ignored == 3
    assert result.charts == 3
    assert result.violations == {"a": ("C18.7",), "b": ("R05.9",)}
    assert result.must_not_share == pytest.approx(2 / 3)
    # hits at 0.9, 0.8, 0.7 and wrong codes at 0.4, 0.5; ignored codes left out
    assert result.calibration.codes == 5
    assert result.calibration.brier == pytest.approx((0.01 + 0.04 + 0.09 + 0.16 + 0.25) / 5)


def test_hcc_figures_and_raf_error(gold, risk):
    result = score(PREDICTIONS, gold, risk)
    # a: gold {37, 137}, predicted {37, 137, 22 (C18.7)}; b: {280} both; c: none
    assert (result.hcc.right, result.hcc.predicted, result.hcc.gold) == (3, 4, 3)
    assert result.hcc.precision == pytest.approx(0.75)
    assert result.hcc.recall == pytest.approx(1.0)
    # only chart a differs, by V28's community non-dual aged coefficient of HCC 22 (0.363)
    assert result.raf_mae == pytest.approx(0.363 / 3)
    assert result.as_dict()["must_not"] == {
        "charts": 2,
        "of": 3,
        "share": 0.6667,
        "violations": {"a": ["C18.7"], "b": ["R05.9"]},
    }


def test_hcc_after_hierarchies(risk):
    diabetes = risk(["E11.22"], 74, "F")
    assert diabetes.hccs == {"37"}
    assert risk(["E1122"], 74, "F") == diabetes
    assert risk(["E11.9", "E11.22"], 74, "F").hccs == {"37"}  # HCC 37 outranks HCC 38
    assert diabetes.raf - risk([], 74, "F").raf == pytest.approx(0.166)


def test_no_predictions_score_zero(gold, risk):
    result = score({}, gold, risk)
    assert (result.exact.right, result.exact.predicted, result.exact.gold) == (0, 0, 5)
    assert result.exact.f1 == 0.0
    assert result.violations == {}
    assert result.raf_mae > 0


def test_error_analysis_sees_the_scoring(gold):
    codes = {chart: [code for code, _ in ranked] for chart, ranked in PREDICTIONS.items()}
    predicted, expected = as_scored(codes, gold)
    assert predicted == {"a": ["E11.22", "F11.20", "C18.7"], "b": ["J44.9", "R05.9"], "c": []}
    assert expected == {"a": ["E11.22", "F11.20", "E78.5"], "b": ["J44.9"], "c": ["I10"]}


def test_read_gold(tmp_path: Path):
    path = tmp_path / "gold.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS) + "\n", encoding="utf-8")
    charts = read_gold(path)
    assert [c.chart_id for c in charts] == ["a", "b", "c"]
    assert charts[1].gold[0].alt == ("J43.9", "J44.1")
    assert charts[1].setting == "inpatient" and charts[1].sex == "M" and charts[1].age == 70
    assert charts[0].must_not[1].code == "C18"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sex": "X"}, "sex 'X' is not one of F, M"),
        ({"setting": "ed"}, "setting 'ed' is not one of outpatient, inpatient"),
        ({"age": "74"}, "age '74' is not a whole number"),
        ({"gold": [{"code": "diabetes"}]}, "'diabetes' is not an ICD-10-CM code"),
        ({"gold": [{"code": "E11.9", "alt": "E11.8"}]}, "'alt' is 'E11.8', not a list of codes"),
        ({"gold": None}, "'gold' is None, not a list of objects"),
        ({"id": "b"}, "chart id 'b' appears twice"),
    ],
)
def test_bad_gold_names_line_and_value(tmp_path: Path, change: dict, message: str):
    path = tmp_path / "gold.jsonl"
    bad = {**RECORDS[0], **change}
    path.write_text(json.dumps(RECORDS[1]) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"gold\.jsonl:2: .*{re.escape(message)}"):
        read_gold(path)


def test_bad_gold_files(tmp_path: Path):
    path = tmp_path / "gold.jsonl"
    path.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"gold\.jsonl:1: "):
        read_gold(path)
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no gold charts"):
        read_gold(path)
    missing = {k: v for k, v in RECORDS[0].items() if k != "gold"}
    path.write_text(json.dumps(missing) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="record has no 'gold'"):
        read_gold(path)
