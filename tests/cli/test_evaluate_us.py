"""`chartcoder evaluate` against US-chart gold (`.jsonl`), on a hand-made chart."""

from __future__ import annotations

import json
from argparse import Namespace

import pytest

from cli.commands import main
from cli.engine import load_coder

GOLD = {
    "id": "a",
    "setting": "outpatient",
    "note_type": "progress note",
    "age": 74,
    "sex": "F",
    "text": "Type 2 diabetes with diabetic CKD. Father had colon cancer.",
    "gold": [
        {"code": "E11.22", "alt": [], "evidence": "", "why": ""},
        {"code": "N18.31", "alt": ["N18.30"], "evidence": "", "why": ""},
    ],
    "optional": [{"code": "Z79.84", "why": ""}],
    "must_not": [{"code": "C18", "why": "the father's"}],
}


@pytest.fixture
def cache(fixture_build) -> str:
    return str(fixture_build.path.parent.parent)


def prediction(code: str, score: float, assertion: str = "present") -> dict:
    return {"code": code, "score": score, "assertion": assertion}


def test_evaluate_against_us_gold(tmp_path, capsys):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps(GOLD) + "\n", encoding="utf-8")
    predictions = tmp_path / "pred.jsonl"
    predictions.write_text(
        json.dumps(
            {
                "chart_id": "a",
                "model_version": "m",
                "error": None,
                "codes": [
                    prediction("E11.22", 0.9),
                    prediction("N18.30", 0.8),  # the alternative: a hit
                    prediction("Z79.84", 0.7),  # optional: ignored
                    prediction("C18.9", 0.4, "family"),  # a prediction whatever its assertion
                ],
            }
        )
        + "\n",
        encoding="utf-8",
    )
    assert main(["evaluate", str(predictions), str(gold)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("us_exact P=0.667 R=1.000 F1=0.800")
    assert lines[2] == "must_not charts with a violation: 1/1 (1.000)"
    report = json.loads(lines[-1])
    assert report["us_exact"] == {
        "precision": 0.6667,
        "recall": 1.0,
        "f1": 0.8,
        "right": 2,
        "predicted": 3,
        "gold": 2,
        "ignored": 1,
    }
    # gold {37, 329 (CKD 3a)}; predicted adds 22 (colon cancer)
    assert report["hcc"]["right"] == 2 and report["hcc"]["predicted"] == 3
    assert report["must_not"]["violations"] == {"a": ["C18.9"]}
    assert report["raf_mae"] > 0
    assert report["calibration"]["codes"] == 3


def test_bad_us_gold_is_a_usage_error(tmp_path, capsys):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({**GOLD, "sex": "unknown"}) + "\n", encoding="utf-8")
    predictions = tmp_path / "pred.jsonl"
    predictions.write_text("", encoding="utf-8")
    assert main(["evaluate", str(predictions), str(gold)]) == 2
    assert "gold.jsonl:1: sex 'unknown' is not one of F, M" in capsys.readouterr().err


def test_us_errors_leave_ignored_codes_out(tmp_path, cache, capsys):
    charts = tmp_path / "charts.jsonl"
    text = "Assessment: type 2 diabetes. Denies chest pain. Fever.\n"
    charts.write_text(json.dumps({"id": "a", "text": text}) + "\n", encoding="utf-8")
    predictions = tmp_path / "pred.jsonl"
    assert main(["code", str(charts), "-o", str(predictions), "--cache", cache]) == 0
    gold = tmp_path / "gold.jsonl"
    items = [{"code": code, "alt": []} for code in ("E11.9", "R07.9", "K35.80")]
    record = {**GOLD, "gold": items, "optional": [{"code": "R50.9"}], "must_not": []}
    gold.write_text(json.dumps(record) + "\n", encoding="utf-8")
    command = ["evaluate", str(predictions), str(gold), "--errors", str(charts), "--cache", cache]
    assert main([*command, "--convention", "us"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["us_exact"]["right"] == 1 and report["us_exact"]["ignored"] == 1  # R50.9
    # chest pain is negated (context); appendicitis is nowhere in the chart (no candidate)
    assert report["errors"]["by_cause"] == {"missed": {"context": 1, "no candidate": 1}}


def test_load_coder_takes_the_convention(cache):
    options = {"cache": cache, "data": None, "inpatient": False, "threshold": None}
    assert load_coder(Namespace(**options, convention="codiesp")).convention == "codiesp"
    assert load_coder(Namespace(**options)).convention == "us"  # a namespace without --convention
