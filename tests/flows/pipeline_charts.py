"""Test charts: the examples, a canary planted in one, and three unreadable ones."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from cli.engine import coded_records
from flows.outputs import RUN_FIELDS
from nlp.artifacts import Bundle
from nlp.coder import ChartCoder
from nlp.meat import MeatFinder
from nlp.reading import read_charts
from nlp.settings import MAX_CHART_BYTES
from risk.model import RiskModel

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "charts"
CANARY = "ZEBRA-CANARY-7f3a9c"
SMALL_LIMIT = 20_000  # bytes: the "huge" chart of the tests is over it
# What the flow adds to a `chartcoder code` record: how it was coded, and the chart's member
FLOW_FIELDS = (*RUN_FIELDS, "member_id")


def code_records(
    bundle: Bundle, paths: list[Path], max_bytes: int = MAX_CHART_BYTES
) -> dict[str, dict[str, Any]]:
    """What `chartcoder code` writes for the same charts (MEAT, HCCs and RAF with the default
    demographics included), by chart id."""
    coder = ChartCoder.from_artifacts(bundle.path)
    charts = list(read_charts(paths, max_bytes=max_bytes))
    records = coded_records(coder, charts, MeatFinder(), RiskModel())
    return {r["chart_id"]: r for r in records}


def from_flow(record: dict[str, Any]) -> dict[str, Any]:
    """A flow record without what the flow adds to the `chartcoder code` record."""
    return {k: v for k, v in record.items() if k not in FLOW_FIELDS}


def write_charts(folder: Path) -> dict[str, str]:
    """The example charts, one with the canary, and three bad ones; returns expected errors."""
    shutil.copytree(EXAMPLES, folder, ignore=shutil.ignore_patterns("*.md"))
    planted = folder / "outpatient" / "copd_osa_visit.txt"
    planted.write_text(
        planted.read_text(encoding="utf-8") + f"\nPatient code word {CANARY}.\n", encoding="utf-8"
    )
    bad = folder / "bad"
    bad.mkdir()
    (bad / "binary.txt").write_bytes(b"%PDF-1.4\x00\x01\x02 not text")
    (bad / "empty.txt").write_bytes(b"  \n\n")
    (bad / "huge.txt").write_bytes(b"Hypertension. " * 2000)
    return {
        "bad/binary": "binary content (NUL bytes): not a text chart",
        "bad/empty": "empty chart: no text to code",
        "bad/huge": f"too large: 28000 bytes, the limit is {SMALL_LIMIT}",
    }
