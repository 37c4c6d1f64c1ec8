"""`chartcoder code` and `chartcoder evaluate` end to end, on the fixture artefacts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.commands import main, parser

CHARTS = Path(__file__).parents[1] / "fixtures" / "charts"


@pytest.fixture
def cache(fixture_build) -> str:
    return str(fixture_build.path.parent.parent)


def read_records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_code_writes_one_record_per_chart_in_input_order(tmp_path, cache):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "binary.txt").write_bytes(b"\x00\x01")
    out = tmp_path / "out" / "codes.jsonl"
    status = main(
        [
            "code",
            str(CHARTS),
            str(bad),
            "--output",
            str(out),
            "--cache",
            cache,
            "--threshold",
            "0",
            "--top-k",
            "5",
        ]
    )
    assert status == 0
    records = read_records(out)
    assert [r["chart_id"] for r in records] == ["clinic/htn", "empty", "family", "binary"]
    htn, empty, family, binary = records
    assert htn["error"] is None and "I10" in [c["code"] for c in htn["codes"]]
    assert "R07.9" not in [c["code"] for c in htn["codes"]]  # "denies chest pain"
    assert len(htn["codes"]) <= 5
    first = htn["codes"][0]
    assert set(first) == {
        "code",
        "description",
        "score",
        "billable",
        "hcc",
        "assertion",
        "evidence",
        "notes",
    }
    # risk adjustment: the chart's HCCs and RAF, the chart its own member (default demographics)
    assert set(htn) >= {"hccs", "raf"} and isinstance(htn["raf"], float)
    assert empty == {
        "chart_id": "empty",
        "model_version": htn["model_version"],
        "codes": [],
        "error": "empty chart: no text to code",
        "notes": [],
        "hccs": [],
        "raf": empty["raf"],  # the default demographics' score: age and sex alone
        "codes_out_of_year": [],
        "pages": [],
        "encounters": [],
    }
    assert "Z80.0" in [c["code"] for c in family["codes"]]
    assert binary["error"] == "binary content (NUL bytes): not a text chart"


def test_scores_are_ranked_and_above_the_threshold(tmp_path, cache):
    out = tmp_path / "codes.jsonl"
    assert (
        main(
            ["code", str(CHARTS / "clinic"), "-o", str(out), "--cache", cache, "--threshold", "0.3"]
        )
        == 0
    )
    (record,) = read_records(out)
    scores = [c["score"] for c in record["codes"]]
    assert scores == sorted(scores, reverse=True)
    assert all(s >= 0.3 for s in scores)


def test_usage_errors_exit_non_zero(tmp_path, cache, capsys):
    assert (
        main(["code", str(tmp_path / "missing"), "-o", str(tmp_path / "o.jsonl"), "--cache", cache])
        == 2
    )
    assert "no such file or folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["code", str(CHARTS), "-o", str(tmp_path / "o.jsonl"), "--threshold", "2"])
    assert exit_info.value.code == 2


def test_evaluate_prints_scores(tmp_path, capsys):
    predictions = tmp_path / "pred.jsonl"
    predictions.write_text(
        json.dumps(
            {
                "chart_id": "a",
                "model_version": "m",
                "error": None,
                "codes": [{"code": "R51.9", "score": 0.9}, {"code": "X00", "score": 0.4}],
            }
        )
        + "\n",
        encoding="utf-8",
    )
    gold = tmp_path / "gold.tsv"
    gold.write_text("doc_id\ticd10cm_code\tstatus\na\tR51\tcategory_nonleaf\n", encoding="utf-8")
    assert main(["evaluate", str(predictions), str(gold)]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["code"]["recall"] == 1.0 and report["code"]["precision"] == 0.5
    assert report["code_exact"]["recall"] == 0.0
    assert report["code"]["map"] == 1.0
    # one right at 0.9, one wrong at 0.4: Brier ((0.1)^2 + (0.4)^2) / 2
    assert report["calibration"]["brier"] == pytest.approx(0.085)
    assert report["calibration"]["codes"] == 2


def test_evaluate_groups_errors_by_cause(tmp_path, cache, capsys):
    charts = tmp_path / "charts"
    charts.mkdir()
    (charts / "a.txt").write_text(
        "Assessment: type 2 diabetes. Denies chest pain. Fever.\n", encoding="utf-8"
    )
    predictions = tmp_path / "pred.jsonl"
    assert main(["code", str(charts), "-o", str(predictions), "--cache", cache]) == 0
    coded = {c["code"] for c in read_records(predictions)[0]["codes"]}
    assert "E11.9" in coded and "R07.9" not in coded
    gold = tmp_path / "gold.tsv"
    gold.write_text("doc_id\ticd10cm_code\na\tE11.9\na\tR07.9\na\tK35.80\n", encoding="utf-8")
    status = main(
        ["evaluate", str(predictions), str(gold), "--errors", str(charts), "--cache", cache]
    )
    assert status == 0
    out = capsys.readouterr().out
    errors = json.loads(out.strip().splitlines()[-1])["errors"]
    # chest pain is negated (context); appendicitis is nowhere in the chart (no candidate)
    assert errors["by_cause"]["missed"] == {"context": 1, "no candidate": 1}
    assert "largest error classes:" in out
    assert "negated: chest pain" in out


def test_a_chart_setting_from_its_record_or_folder_overrides_inpatient(tmp_path, cache):
    charts = tmp_path / "charts"
    for relative in ("inpatient/a.txt", "outpatient/b.txt", "c.txt"):
        (charts / relative).parent.mkdir(parents=True, exist_ok=True)
        (charts / relative).write_text("Assessment: probable pneumonia.\n", encoding="utf-8")
    batch = tmp_path / "batch.jsonl"
    batch.write_text(
        "".join(
            json.dumps({"id": chart_id, "text": "Assessment: probable pneumonia.", **extra}) + "\n"
            for chart_id, extra in (
                ("rec-in", {"setting": "inpatient"}),
                ("rec-out", {"setting": "outpatient"}),
                ("rec-plain", {}),
                ("rec-bad", {"setting": "emergency"}),
            )
        ),
        encoding="utf-8",
    )

    def coded(*flags: str) -> dict[str, list[str]]:
        out = tmp_path / "out.jsonl"
        assert (
            main(["code", str(charts), str(batch), "-o", str(out), "--cache", cache, *flags]) == 0
        )
        return {r["chart_id"]: [c["code"] for c in r["codes"]] for r in read_records(out)}

    # an uncertain diagnosis is coded under the inpatient rule only
    assert coded() == {
        "c": [],
        "inpatient/a": ["J18.9"],
        "outpatient/b": [],
        "rec-in": ["J18.9"],
        "rec-out": [],
        "rec-plain": [],
        "rec-bad": [],
    }
    assert coded("--inpatient") == {
        "c": ["J18.9"],
        "inpatient/a": ["J18.9"],
        "outpatient/b": [],
        "rec-in": ["J18.9"],
        "rec-out": [],
        "rec-plain": ["J18.9"],
        "rec-bad": [],
    }
    bad = next(r for r in read_records(tmp_path / "out.jsonl") if r["chart_id"] == "rec-bad")
    assert bad["error"] == "record setting 'emergency' is not one of outpatient, inpatient"


def test_code_takes_a_convention(tmp_path, cache, capsys):
    out = tmp_path / "codes.jsonl"
    status = main(
        [
            "code",
            str(CHARTS / "clinic"),
            "-o",
            str(out),
            "--cache",
            cache,
            "--convention",
            "codiesp",
        ]
    )
    assert status == 0
    assert [r["chart_id"] for r in read_records(out)] == ["htn"]
    assert parser().parse_args(["code", "x", "-o", "y"]).convention == "us"
    run = parser().parse_args(["run", "x", "-o", "y", "--inpatient", "--convention", "codiesp"])
    assert (run.inpatient, run.convention) == (True, "codiesp")
    for command in (["code", str(CHARTS), "-o", str(out)], ["run", str(CHARTS), "-o", str(out)]):
        with pytest.raises(SystemExit) as exit_info:
            main([*command, "--convention", "bogus"])
        assert exit_info.value.code == 2
        assert "invalid choice: 'bogus'" in capsys.readouterr().err
