"""A `chartcoder run` destination for the review tests, coded by the real engine.

The session's fixture artefacts (tests/conftest.py) code a few charts: the fixture charts, one
carrying markup, one whose id carries markup, an empty one (an error record) and a 200-page
chart for load time. The files are written with the flow's own writers (`flows.outputs`).
One record gets `hccs`, `raf` and `member_id` in the shape the run writes them
(`risk.charts.ChartHcc.to_dict`), and `hccs.parquet` / `opportunities.parquet` are written
beside with the run's writers (`risk.outputs`), so the pages that show them are tested.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from flows import outputs
from nlp.coder import ChartCoder
from nlp.records import Chart
from risk.outputs import hccs_parquet, opportunities_parquet

FIXTURES = Path(__file__).parents[1] / "fixtures" / "charts"
MARKUP = "<script>alert('x')</script> <img src=x onerror=alert(1)>"
MARKUP_ID = "clinic/</script><b>odd id</b> o'brien & co"
BIG_ID = "clinic/two-hundred-pages"
CONDITIONS = (
    "Hypertension",
    "Type 2 diabetes mellitus with hyperglycemia",
    "Asthma",
    "Hyperlipidemia",
    "Atrial fibrillation",
    "Hypothyroidism",
    "Major depressive disorder",
    "Migraine",
    "Obesity",
    "Anemia",
)
LAST_PAGE_CONDITION = "Gout"  # only on the last page: its evidence is 200 pages down
FILLER = "Vital signs reviewed. Exam unremarkable. Continue current medications. " * 30


def big_chart(pages: int = 200) -> str:
    """A long chart: each page's assessment names one condition, the last page one more."""
    return "".join(
        f"PROGRESS NOTE page {n}\n\nASSESSMENT:\n{CONDITIONS[n % len(CONDITIONS)]}, stable."
        + (f" {LAST_PAGE_CONDITION}." if n == pages else "")
        + f" Patient denies chest pain.\n{FILLER}\n\f"
        for n in range(1, pages + 1)
    )


def chart_texts() -> dict[str, str]:
    return {
        "clinic/htn": (FIXTURES / "clinic" / "htn.txt").read_text(encoding="utf-8"),
        "family": (FIXTURES / "family.txt").read_text(encoding="utf-8"),
        "clinic/markup": f"ASSESSMENT:\nHypertension {MARKUP} & type 2 diabetes.\n</textarea>\n",
        MARKUP_ID: "ASSESSMENT:\nHypertension.\n",
        "empty": "   ",
        BIG_ID: big_chart(),
    }


def risk_fields(record: dict) -> dict:
    """`hccs`, `raf` and `member_id` as the run writes them, on the codes the record has."""
    codes = [c for c in record["codes"] if c["hcc"]]
    hccs = [
        {
            "hcc": c["hcc"],
            "label": f"label of HCC {c['hcc']}",
            "coefficient": 0.166,
            "codes": [c["code"]],
            "dropped": False,
            "dropped_by": [],
            "supported": i == 0,
            "meat": [
                {
                    "code": c["code"],
                    "kind": "treat",
                    **{k: c["evidence"][0][k] for k in ("start", "end")},
                }
            ]
            if i == 0
            else [],
        }
        for i, c in enumerate(codes)
    ]
    return {**record, "hccs": hccs, "raf": 0.5 + 0.166 * len(hccs), "member_id": "m-1"}


def write_results(folder: Path, coder: ChartCoder) -> dict[str, dict]:
    texts = chart_texts()
    charts = [
        Chart(cid, t if t.strip() else "", None if t.strip() else "empty chart: no text to code")
        for cid, t in texts.items()
    ]
    records = {}
    for chart, result in zip(charts, coder.code(charts), strict=True):
        digest = hashlib.sha256(texts[chart.chart_id].encode()).hexdigest()
        records[chart.chart_id] = outputs.with_run_fields(
            result.to_dict(), digest, "outpatient", "us"
        )
    records["clinic/markup"] = risk_fields(records["clinic/markup"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / outputs.CHARTS).write_bytes(outputs.charts_jsonl(records.values()))
    (folder / outputs.TEXTS).write_bytes(
        outputs.texts_jsonl((cid, "" if records[cid]["error"] else t) for cid, t in texts.items())
    )
    (folder / outputs.MANIFEST).write_bytes(
        outputs.manifest_json(
            {"run_id": "run-1", "destination": str(folder), "model_version": coder.model_version}
        )
    )
    hccs = records["clinic/markup"]["hccs"]
    (folder / outputs.HCCS).write_bytes(
        hccs_parquet([{"chart_id": "clinic/markup", "member_id": "m-1", **h} for h in hccs])
    )
    claims_only = {"member_id": "m-1", "hcc": "999", "label": "claims only", "status": "delete"}
    (folder / outputs.OPPORTUNITIES).write_bytes(
        opportunities_parquet(
            [
                {"member_id": "m-1", "hcc": h["hcc"], "label": h["label"], "status": "add",
                 "raf_effect": 0.166, "chart_codes": h["codes"], "claim_codes": [],
                 "chart_ids": ["clinic/markup"]}
                for h in hccs
            ]
            + [{**claims_only, "raf_effect": -0.2, "chart_codes": [], "claim_codes": ["X1"],
                "chart_ids": []}]
        )
    )  # fmt: skip
    return records


@pytest.fixture(scope="session")
def results(tmp_path_factory: pytest.TempPathFactory, coder: ChartCoder) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("results")
    return folder, write_results(folder, coder)


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory, results: tuple[Path, dict]) -> Path:
    from review.results import load, local_reader
    from review.site import build, write_folder

    folder = tmp_path_factory.mktemp("site")
    write_folder(build(load(local_reader(results[0]), f"{results[0]}/")), folder)
    return folder
