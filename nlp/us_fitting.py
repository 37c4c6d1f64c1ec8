"""Fits the US score calibration (`nlp.us_calibration`) on the US development charts at build
time: the coder is run on them at each candidate floor, and its codes are checked against gold.

The development charts are read from `us-charts/dev.jsonl` in the data folder; without them
there is no US calibration and the ranker's own threshold is used.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from nlp.coder import ChartCoder
from nlp.records import Chart
from nlp.us_calibration import FLOORS, ChartPairs, UsCalibration, fit
from nlp.us_evaluation import GoldChart, align, gold_chart

log = logging.getLogger(__name__)

US_DEV = Path("us-charts") / "dev.jsonl"


def us_dev_path(data_dir: Path | None) -> Path | None:
    path = data_dir / US_DEV if data_dir else None
    return path if path is not None and path.is_file() else None


def us_dev_stamp(data_dir: Path | None) -> str:
    path = us_dev_path(data_dir)
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path else "none"


def read_us_dev(path: Path) -> list[tuple[GoldChart, str]]:
    charts = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                charts.append((gold_chart(record), record["text"]))
    return charts


def chart_pairs(coder: ChartCoder, charts: list[tuple[GoldChart, str]]) -> list[ChartPairs]:
    """Each chart's coded output as (score, right, stratum); optional codes are left out."""
    coder.strata = {}
    results = coder.code([Chart(g.chart_id, text, setting=g.setting) for g, text in charts])
    out = []
    for (gold, _), result in zip(charts, results, strict=True):
        score_of: dict[str, float] = {}
        for finding in result.codes:
            score_of.setdefault(finding.code, finding.score)
        strata = coder.strata[result.chart_id]
        found = align(list(score_of), gold)
        pairs = [(score_of[code], True, strata[code]) for code, _ in found.hits]
        pairs += [(score_of[code], False, strata[code]) for code in found.wrong]
        out.append(ChartPairs(tuple(pairs), len(gold.gold)))
    coder.strata = None
    return out


def fit_us_calibration(coder: ChartCoder, data_dir: Path | None) -> UsCalibration | None:
    """The calibration of `coder` (US convention, uncalibrated) on the US development charts,
    or None without them."""
    path = us_dev_path(data_dir)
    if path is None:
        return None
    charts = read_us_dev(path)
    by_floor = {}
    for floor in FLOORS:
        coder.floor = coder.threshold = floor
        by_floor[floor] = chart_pairs(coder, charts)
    calibration = fit(by_floor)
    log.info(
        "US calibration on %d charts: floor %.2f, threshold %.2f, cross-validated %s",
        len(charts),
        calibration.floor,
        calibration.threshold,
        calibration.report["cross_validated"],
    )
    return calibration
