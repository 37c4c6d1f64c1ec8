"""`chartcoder evaluate`: score predictions against CodiEsp gold (.tsv) or US-chart gold
(.jsonl), and with `--errors` give every error its cause by running the engine again.

The figures come from `nlp.evaluation`, `nlp.us_evaluation` and `nlp.error_analysis`; this
module reads the files, prints the report and turns bad input into usage errors.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from cli.arguments import UsageError, add_convention, probability
from cli.engine import load_coder


def add_parser(sub: Any) -> None:
    evaluate = sub.add_parser("evaluate", help="score predictions against gold codes")
    evaluate.add_argument("predictions", type=Path, metavar="PRED.jsonl")
    evaluate.add_argument(
        "gold",
        type=Path,
        metavar="GOLD",
        help="CodiEsp gold (.tsv) or US-chart gold (.jsonl: gold, alt, optional, must_not codes)",
    )
    evaluate.add_argument(
        "--exact",
        action="store_true",
        help="count only exact matches in the headline figures (US-chart gold: always exact)",
    )
    evaluate.add_argument(
        "--errors",
        type=Path,
        metavar="CHARTS",
        help="group the errors by cause: re-run the engine on these charts (the input of "
        "`chartcoder code`; examples print short spans of chart text)",
    )
    evaluate.add_argument("--threshold", type=probability, help="threshold the predictions used")
    evaluate.add_argument("--inpatient", action="store_true", help="the predictions were inpatient")
    add_convention(evaluate, "coding convention of the engine that --errors re-runs (default: us)")
    evaluate.add_argument("--data", help="data folder (default: $CHARTCODER_DATA)")
    evaluate.add_argument("--cache", help="cache folder (default: $CHARTCODER_CACHE)")


def read_gold(path: Path) -> dict[str, list[str]]:
    gold: dict[str, list[str]] = defaultdict(list)
    with path.open(encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        missing = {"doc_id", "icd10cm_code"} - set(reader.fieldnames or ())
        if missing:
            raise UsageError(f"{path}: header lacks {', '.join(sorted(missing))}")
        for row in reader:
            gold[row["doc_id"]].append(row["icd10cm_code"].strip().upper())
    return dict(gold)


def read_predictions(path: Path) -> dict[str, list[tuple[str, float]]]:
    """chart id -> its ranked (code, score) pairs."""
    predictions = {}
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                predictions[record["chart_id"]] = [
                    (c["code"], float(c["score"])) for c in record["codes"]
                ]
            except (ValueError, KeyError, TypeError) as exc:
                raise UsageError(f"{path}:{line_no}: not a chartcoder record ({exc})") from exc
    return predictions


def run_evaluate(args: argparse.Namespace) -> int:
    from nlp.evaluation import calibration, score

    for path in (args.predictions, args.gold, *([args.errors] if args.errors else [])):
        if not path.exists():
            raise UsageError(f"{path}: no such file or folder")
    if args.gold.suffix == ".jsonl":
        return evaluate_us(args)
    gold = read_gold(args.gold)
    scored = read_predictions(args.predictions)
    predictions = {chart: [code for code, _ in codes] for chart, codes in scored.items()}
    report: dict[str, Any] = {}
    for name, descendants, category in (
        ("code", not args.exact, False),
        ("code_exact", False, False),
        ("category", False, True),
    ):
        report[name] = score(
            predictions, gold, descendants=descendants, category=category
        ).as_dict()
    for name, figures in report.items():
        print(
            f"{name:11s} P={figures['precision']:.3f} R={figures['recall']:.3f} "
            f"F1={figures['f1']:.3f} MAP={figures['map']:.3f} "
            f"(charts {figures['charts']}, predicted {figures['predicted']}, "
            f"gold {figures['gold']})"
        )
    calibrated = calibration(scored, gold, descendants=not args.exact)
    report["calibration"] = calibrated.as_dict()
    print(
        f"calibration Brier={calibrated.brier:.3f} ECE={calibrated.ece:.3f} "
        f"over {calibrated.codes} predicted codes (score vs. matched gold)"
    )
    if args.errors:
        report["errors"] = error_analysis(args, predictions, gold, descendants=not args.exact)
    print(json.dumps(report))
    return 0


def evaluate_us(args: argparse.Namespace) -> int:
    """Score against US-chart gold: exact codes, CMS-HCC V28 categories, must_not traps, RAF."""
    from nlp import us_evaluation

    try:
        gold = us_evaluation.read_gold(args.gold)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    scored = read_predictions(args.predictions)
    found = us_evaluation.score(scored, gold)
    for name, figures, more in (
        ("us_exact", found.exact, f", ignored {found.ignored}"),
        ("hcc", found.hcc, ""),
    ):
        print(
            f"{name:8s} P={figures.precision:.3f} R={figures.recall:.3f} F1={figures.f1:.3f} "
            f"(charts {found.charts}, right {figures.right}, predicted {figures.predicted}, "
            f"gold {figures.gold}{more})"
        )
    print(
        f"must_not charts with a violation: {len(found.violations)}/{found.charts} "
        f"({found.must_not_share:.3f})"
    )
    print(f"raf mean abs error={found.raf_mae:.3f}")
    print(
        f"calibration Brier={found.calibration.brier:.3f} ECE={found.calibration.ece:.3f} "
        f"over {found.calibration.codes} predicted codes (score vs. hit; ignored codes left out)"
    )
    report: dict[str, Any] = found.as_dict()
    if args.errors:
        predictions = {chart: [code for code, _ in codes] for chart, codes in scored.items()}
        seen, expected = us_evaluation.as_scored(predictions, gold)
        report["errors"] = error_analysis(args, seen, expected, descendants=False)
    print(json.dumps(report))
    return 0


def error_analysis(
    args: argparse.Namespace,
    predictions: dict[str, list[str]],
    gold: dict[str, list[str]],
    *,
    descendants: bool,
) -> dict[str, Any]:
    """Re-run the engine on the charts and print the errors grouped by cause."""
    from nlp.error_analysis import ErrorAnalysis
    from nlp.reading import ChartSourceError, read_charts

    coder = load_coder(args)
    try:
        charts = list(read_charts([args.errors]))
    except ChartSourceError as exc:
        raise UsageError(str(exc)) from exc
    found = ErrorAnalysis(coder, descendants=descendants)(charts, predictions, gold)
    summary = found.as_dict()
    for kind in ("missed", "wrong"):
        causes = summary["by_cause"].get(kind, {})
        print(
            f"{kind} ({sum(causes.values())}): " + ", ".join(f"{c} {n}" for c, n in causes.items())
        )
    print("largest error classes:")
    for item in summary["largest"]:
        print(f"  {item['count']:5d}  {item['kind']}: {item['cause']}")
        for example in item["examples"]:
            print(f"         {example['chart_id']} {example['code']}  {example['detail']}")
    return summary
