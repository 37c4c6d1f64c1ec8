"""Two charts of one id (`a.txt` and `a.pdf`, two `.jsonl` records): the first in path order is
coded, the second is an error record naming the first, and the run completes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.engine import coded_records
from flows.code_charts import code_charts
from flows.options import RunOptions
from flows.outputs import Previous
from flows.sources import ChartRef, Location, discover, split_duplicates
from nlp.artifacts import Bundle
from nlp.coder import ChartCoder
from nlp.meat import MeatFinder
from nlp.reading import read_charts
from risk.model import RiskModel
from tests.flows.pipeline_charts import from_flow
from tests.records.pdf_builders import text_layer_pdf

VISIT = "OFFICE VISIT\nDate of Service: 02/10/2026\nAssessment: Essential hypertension."


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def write_folder(folder: Path) -> None:
    folder.mkdir()
    (folder / "a.pdf").write_bytes(text_layer_pdf([VISIT]))
    (folder / "a.txt").write_text("Assessment: type 2 diabetes mellitus.\n", encoding="utf-8")
    (folder / "b.txt").write_text("Assessment: asthma.\n", encoding="utf-8")


def test_the_second_of_an_id_in_path_order_names_the_first(tmp_path: Path):
    write_folder(tmp_path / "charts")
    location = Location.parse(str(tmp_path / "charts"))
    unique, duplicates = split_duplicates(discover(location), location)
    assert [(r.chart_id, Path(r.key).name) for r in unique] == [("a", "a.pdf"), ("b", "b.txt")]
    assert [(d.ref.chart_id, Path(d.ref.key).name, d.first) for d in duplicates] == [
        ("a", "a.txt", "a.pdf")
    ]
    assert duplicates[0].reason == "duplicate chart id: already read from a.pdf"


def test_jsonl_records_of_one_id_follow_the_same_rule(tmp_path: Path):
    path = tmp_path / "batch.jsonl"
    lines = [{"id": "x", "text": "HTN."}, {"id": "y", "text": "CKD."}, {"id": "x", "text": "?"}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    location = Location.parse(str(path))
    unique, duplicates = split_duplicates(discover(location), location)
    assert [(r.chart_id, r.line_no) for r in unique] == [("x", 1), ("y", 2)]
    assert [(d.ref.line_no, d.reason) for d in duplicates] == [
        (3, "duplicate chart id: already read from batch.jsonl:1")
    ]


def test_earlier_results_keep_the_first_record_of_an_id():
    coded = {"chart_id": "a", "error": None, "codes": [{"code": "I10"}]}
    duplicate = {"chart_id": "a", "error": "duplicate chart id: already read from a.pdf"}
    data = "".join(json.dumps(r) + "\n" for r in (coded, duplicate)).encode()
    assert Previous.parse(data).records == {"a": coded}


@pytest.mark.usefixtures("prefect_api")
def test_a_duplicate_id_is_an_error_record_and_the_run_goes_on(
    tmp_path: Path, built: Bundle, ray_tmp: str, no_ray_left: None
) -> None:
    source, dest = tmp_path / "charts", tmp_path / "out"
    write_folder(source)
    charts = list(read_charts([source]))
    expected = coded_records(
        ChartCoder.from_artifacts(built.path), charts, MeatFinder(), RiskModel()
    )
    options = RunOptions(workers=1, artifacts=str(built.path), ray_temp_dir=ray_tmp)

    state = code_charts(str(source), str(dest), options, return_state=True)

    assert state.is_completed(), state.message
    records = read_lines(dest / "charts.jsonl")
    # the records of `chartcoder code`, in its order: the PDF coded, the .txt an error record
    assert [from_flow(r) for r in records] == expected
    assert [(r["chart_id"], r["error"]) for r in records] == [
        ("a", None),
        ("a", "duplicate chart id: already read from a.pdf"),
        ("b", None),
    ]
    assert records[0]["pages"][0]["source"] == "text_layer" and records[0]["codes"]
    assert [r["member_id"] for r in records] == ["a", "a", "b"]
    manifest = json.loads((dest / "manifest.json").read_text())
    assert (manifest["charts_total"], manifest["charts_coded"], manifest["charts_failed"]) == (
        3,
        2,
        1,
    )
    assert manifest["errors"] == [
        {"chart_id": "a", "reason": "duplicate chart id: already read from a.pdf"}
    ]
    texts = read_lines(dest / "texts.jsonl")
    assert [(t["chart_id"], t["text"]) for t in texts] == [
        ("a", charts[0].text),
        ("b", charts[2].text),
    ]

    # a rerun reuses the coded chart of the id, not the error record, and writes the same
    again = code_charts(str(source), str(dest), options, return_state=True)
    assert again.is_completed(), again.message
    manifest = json.loads((dest / "manifest.json").read_text())
    assert (manifest["charts_total"], manifest["charts_reused"]) == (3, 2)
    assert read_lines(dest / "charts.jsonl") == records


def test_under_s3_the_first_is_named_by_its_key_below_the_prefix():
    location = Location.parse("s3://landing/incoming/b1")
    refs = [
        ChartRef("x/a", "incoming/b1/x/a.pdf", 10),
        ChartRef("x/a", "incoming/b1/x/a.txt", 5),
        ChartRef("y", "incoming/b1/batch.jsonl", 8, offset=0, line_no=1),
        ChartRef("y", "incoming/b1/batch.jsonl", 8, offset=8, line_no=2),
    ]
    unique, duplicates = split_duplicates(refs, location)
    assert unique == [refs[0], refs[2]]
    assert [(d.ref, d.first) for d in duplicates] == [
        (refs[1], "x/a.pdf"),
        (refs[3], "batch.jsonl:1"),
    ]
