"""`chartcoder train` and `chartcoder code`: build the artefacts, code charts to JSON lines.

Both are thin: `nlp.training.build` and `nlp.coder.ChartCoder` do the work. `chartcoder code`
also risk-adjusts each chart on its own (`coded_records`): the MEAT evidence of its HCC-bearing
codes (`nlp.meat`), then its CMS-HCCs and RAF under the default demographics (`risk.charts`).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.arguments import UsageError, add_coding_options, add_service_year, positive, probability

if TYPE_CHECKING:
    from nlp.coder import ChartCoder
    from nlp.meat import MeatFinder
    from nlp.records import Chart
    from risk.model import RiskModel

log = logging.getLogger("chartcoder")

BATCH_SIZE = 64


def add_parsers(sub: Any) -> None:
    train = sub.add_parser("train", help="build the knowledge base and train the ranker")
    train.add_argument(
        "--train-only",
        action="store_true",
        help="train on CodiEsp train only (keep dev out for honest dev numbers)",
    )
    train.add_argument("--force", action="store_true", help="rebuild even if up to date")
    train.add_argument("--data", help="data folder (default: $CHARTCODER_DATA)")
    train.add_argument("--cache", help="cache folder (default: $CHARTCODER_CACHE)")

    code = sub.add_parser("code", help="code charts to ICD-10-CM")
    code.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help=".txt, .pdf or .tif(f) file, .jsonl file of {id, text} records, or folder",
    )
    code.add_argument("--output", "-o", required=True, type=Path, help="JSON lines to write")
    code.add_argument("--threshold", type=probability, help="minimum score (default: trained)")
    code.add_argument("--top-k", type=positive, default=30, help="codes per chart at most")
    add_coding_options(code)
    add_service_year(code)
    code.add_argument("--data", help="data folder (default: $CHARTCODER_DATA)")
    code.add_argument("--cache", help="cache folder (default: $CHARTCODER_CACHE)")


def run_train(args: argparse.Namespace) -> int:
    from nlp import settings
    from nlp.training import build

    data = settings.data_dir(args.data)
    if data is None:
        log.warning(
            "no data folder (%s): building from the ICD-10-CM tabular list alone", settings.DATA_ENV
        )
    bundle = build(
        cache_dir=args.cache, data_dir=data, train_only=args.train_only, force=args.force
    )
    print(
        json.dumps(
            {"artifacts": str(bundle.path), "model_version": bundle.manifest["model_version"]}
        )
    )
    return 0


def load_coder(args: argparse.Namespace, **options: Any) -> ChartCoder:
    """The engine as `--cache`, `--data`, `--inpatient`, `--threshold` and `--convention` ask."""
    from nlp.coder import ChartCoder
    from nlp.training import find_or_build

    options.setdefault("convention", getattr(args, "convention", "us"))
    bundle = find_or_build(cache_dir=args.cache, data_dir=args.data)
    return ChartCoder.from_artifacts(
        bundle.path,
        setting="inpatient" if args.inpatient else "outpatient",
        threshold=args.threshold,
        **options,
    )


def coded_records(
    coder: ChartCoder,
    charts: list[Chart],
    meat: MeatFinder,
    risk_model: RiskModel,
    service_year: int | None = None,
) -> list[dict[str, Any]]:
    """`chartcoder code`'s records: each chart's codes, the MEAT evidence of its HCC-bearing
    codes (`supported`, `meat`), and its `hccs` and `raf` as a member of its own with the
    default demographics (what `chartcoder run` writes too when it has no members file), of
    the codes that count for `service_year` (`risk.charts.chart_risk`)."""
    from risk.charts import chart_risk
    from risk.model import DEFAULT_DEMOGRAPHICS

    if not charts:
        return []
    records = []
    for chart, result in zip(charts, coder.code(charts), strict=True):
        record = meat.annotate(chart.text, result.to_dict())
        records.append(
            record
            | chart_risk(record, DEFAULT_DEMOGRAPHICS, risk_model, service_year).record_fields()
        )
    return records


def run_code(args: argparse.Namespace) -> int:
    from nlp.meat import MeatFinder
    from nlp.reading import ChartSourceError, read_charts
    from risk.model import RiskModel

    for path in args.paths:
        if not path.exists():
            raise UsageError(f"{path}: no such file or folder")
    coder = load_coder(args, top_k=args.top_k)
    annotate = partial(
        coded_records, meat=MeatFinder(), risk_model=RiskModel(), service_year=args.service_year
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    counts = {"charts": 0, "errors": 0, "codes": 0}
    progress = _progress()
    try:
        charts = read_charts(args.paths)
        with args.output.open("w", encoding="utf-8") as out:
            batch = []
            for chart in charts:
                batch.append(chart)
                if len(batch) >= BATCH_SIZE:
                    _write(annotate(coder, batch), out, counts, progress)
                    batch = []
            _write(annotate(coder, batch), out, counts, progress)
    except ChartSourceError as exc:
        raise UsageError(str(exc)) from exc
    finally:
        if progress is not None:
            progress.close()
    log.info(
        "coded %d charts (%d with errors, %d codes) into %s",
        counts["charts"],
        counts["errors"],
        counts["codes"],
        args.output,
    )
    return 0


def _progress():
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(unit="chart", file=sys.stderr)


def _write(records, out, counts, progress) -> None:
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        counts["charts"] += 1
        counts["errors"] += record["error"] is not None
        counts["codes"] += len(record["codes"])
    if progress is not None and records:
        progress.update(len(records))
