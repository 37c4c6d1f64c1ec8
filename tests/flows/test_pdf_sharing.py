"""A big scanned PDF's OCR is shared among the coders on Ray (`flows.pdf_sharing`): the chart is
read and coded exactly as one reader would, its text reaches texts.jsonl without a second OCR,
and a peer that dies leaves its pages to be read by the coder that asked."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from cli.engine import coded_records
from flows.actors import coder_actor_class
from flows.code_charts import code_charts
from flows.options import RunOptions
from flows.pdf_sharing import PeerPdfReader
from flows.ray_cluster import RaySpec, ray_cluster
from flows.sources import ChartReader
from nlp.artifacts import Bundle
from nlp.coder import ChartCoder
from nlp.meat import MeatFinder
from nlp.reading import read_charts
from records import PdfLimits, read_pdf
from risk.model import RiskModel
from tests.flows import pipeline_runs as runs
from tests.flows.pipeline_charts import from_flow
from tests.records.pdf_builders import mixed_pdf, scanned_pdf

VISIT_1 = (
    "OFFICE VISIT\nDate of Service: 02/10/2026\n"
    "Assessment: Type 2 diabetes mellitus without complications.\nPlan: continue metformin."
)
VISIT_2 = (
    "PROGRESS NOTE\nDate of Service: 03/16/2026\n"
    "Assessment: Chronic obstructive pulmonary disease.\nPlan: continue tiotropium."
)
VISIT_3 = "Review of systems negative.\nVitals stable.\nFollow up in three months."


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.usefixtures("prefect_api")
def test_two_coders_share_a_scanned_pdf_and_code_it_as_one_would(
    tmp_path: Path, built: Bundle, ray_tmp: str, no_ray_left: None
) -> None:
    source, dest = tmp_path / "charts", tmp_path / "out"
    source.mkdir()
    pages = [("scan", VISIT_1), ("scan", VISIT_3), ("text", VISIT_3), ("scan", VISIT_2)]
    data = mixed_pdf([*pages, ("scan", VISIT_3), ("scan", VISIT_3)])
    (source / "record.pdf").write_bytes(data)
    (source / "note.txt").write_text("Assessment: essential hypertension.\n", encoding="utf-8")
    charts = list(read_charts([source]))
    expected = coded_records(
        ChartCoder.from_artifacts(built.path), charts, MeatFinder(), RiskModel()
    )

    state = code_charts(
        str(source),
        str(dest),
        RunOptions(workers=2, shard_size=1, artifacts=str(built.path), ray_temp_dir=ray_tmp),
        return_state=True,
    )

    assert state.is_completed(), state.message
    records = read_lines(dest / "charts.jsonl")
    assert [from_flow(r) for r in records] == expected  # as `chartcoder code` reads it whole
    pdf = next(r for r in records if r["chart_id"] == "record")
    assert [p["source"] for p in pdf["pages"]] == ["ocr", "ocr", "text_layer", "ocr", "ocr", "ocr"]
    assert {"E11.9", "J44.9"} <= {c["code"] for c in pdf["codes"]}
    assert [e["date_of_service"] for e in pdf["encounters"]] == ["2026-02-10", "2026-03-16"]
    texts = {t["chart_id"]: t["text"] for t in read_lines(dest / "texts.jsonl")}
    assert texts == {c.chart_id: c.text for c in charts}
    assert texts["record"] == read_pdf(data).text
    said = runs.logs(state.state_details.flow_run_id)
    assert sum("(0 errors, 0 reused, 1 PDFs read with peers)" in line for line in said) == 1
    assert not any("could not read pages" in line for line in said)
    assert any("wrote" in line and "1 PDFs as their coders read them" in line for line in said)


def test_pages_a_dead_peer_was_asked_for_are_read_by_the_coder_that_asked(
    built: Bundle, ray_tmp: str, no_ray_left: None, caplog: pytest.LogCaptureFixture
) -> None:
    import ray

    data = scanned_pdf([VISIT_1, VISIT_3, VISIT_2, VISIT_3])
    with ray_cluster(RaySpec.choose(1, temp_dir=ray_tmp)):
        peer = coder_actor_class(num_cpus=0).remote(str(built.path), ChartReader())
        ray.kill(peer, no_restart=True)
        reader = PeerPdfReader([peer])
        with caplog.at_level(logging.WARNING, logger="flows.pdf_sharing"):
            read = reader(data, PdfLimits())
        del peer, reader
    assert read == read_pdf(data)
    assert "a peer could not read pages 3-4 (ActorDiedError): read here" in caplog.text


def test_few_pages_to_recognise_are_read_without_peers() -> None:
    class Unreachable:
        def __getattr__(self, name: str) -> None:
            raise AssertionError("a peer was asked")

    data = mixed_pdf([("text", VISIT_1), ("scan", VISIT_2), ("text", VISIT_3), ("text", VISIT_3)])
    reader = PeerPdfReader([Unreachable()])
    assert reader(data, PdfLimits()) == read_pdf(data)
    assert reader.shared == 0
