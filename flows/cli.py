"""The `chartcoder` command line: a thin layer over `nlp`.

chartcoder train [--train-only] [--force]
chartcoder code PATH... --output FILE.jsonl [--threshold P] [--top-k K] [--inpatient]
                [--convention {us,codiesp}]
chartcoder evaluate PRED.jsonl GOLD.tsv|GOLD.jsonl [--errors CHARTS] [--convention us|codiesp]
chartcoder run SOURCE --output DEST [--inpatient] [--convention {us,codiesp}] [...]
chartcoder review RESULTS --output DIR
chartcoder bridge --queue-url URL --landing s3://bucket/prefix --results s3://bucket/prefix [...]
chartcoder up | down | status [--state-dir DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flows import stack
from flows.bridge import add_bridge_parser, run_bridge
from review import command as review_command

if TYPE_CHECKING:
    from nlp.coder import ChartCoder

log = logging.getLogger("chartcoder")

BATCH_SIZE = 64


def _probability(value: str) -> float:
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is not a probability between 0 and 1")
    return number


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive whole number")
    return number


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="chartcoder", description=__doc__.splitlines()[0])
    root.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    sub = root.add_subparsers(dest="command", required=True)

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
        help=".txt file, .jsonl file of {id, text} records, or folder",
    )
    code.add_argument("--output", "-o", required=True, type=Path, help="JSON lines to write")
    code.add_argument("--threshold", type=_probability, help="minimum score (default: trained)")
    code.add_argument("--top-k", type=_positive, default=30, help="codes per chart at most")
    _add_coding_options(code)
    code.add_argument("--data", help="data folder (default: $CHARTCODER_DATA)")
    code.add_argument("--cache", help="cache folder (default: $CHARTCODER_CACHE)")

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
    evaluate.add_argument("--threshold", type=_probability, help="threshold the predictions used")
    evaluate.add_argument("--inpatient", action="store_true", help="the predictions were inpatient")
    evaluate.add_argument(
        "--convention",
        choices=("us", "codiesp"),
        default="us",
        help="coding convention of the engine that --errors re-runs (default: us)",
    )
    evaluate.add_argument("--data", help="data folder (default: $CHARTCODER_DATA)")
    evaluate.add_argument("--cache", help="cache folder (default: $CHARTCODER_CACHE)")
    add_run_parser(sub)
    review = sub.add_parser("review", help="write a static review site of a run's results")
    review_command.add_arguments(review)
    add_bridge_parser(sub)
    stack.add_parsers(sub)
    return root


def _add_coding_options(command: argparse.ArgumentParser) -> None:
    """`--inpatient` and `--convention` (`nlp.coding_rules`): how `code` and `run` code charts."""
    command.add_argument(
        "--inpatient",
        action="store_true",
        help="code uncertain diagnoses as established (inpatient guideline); a chart's own "
        "setting (a record's 'setting', an inpatient/ or outpatient/ folder) wins",
    )
    command.add_argument(
        "--convention",
        choices=("us", "codiesp"),
        default="us",
        help="coding convention: us (ICD-10-CM guidelines, default) or codiesp (the benchmark's)",
    )


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return {
            "train": run_train,
            "code": run_code,
            "evaluate": run_evaluate,
            "run": run_pipeline,
            "review": review_command.main,
            "bridge": run_bridge,
            **stack.COMMANDS,
        }[args.command](args)
    except UsageError as exc:
        print(f"chartcoder: error: {exc}", file=sys.stderr)
        return 2


class UsageError(Exception):
    pass


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

    options.setdefault("convention", getattr(args, "convention", "us"))
    return ChartCoder.load(
        cache_dir=args.cache,
        data_dir=args.data,
        setting="inpatient" if args.inpatient else "outpatient",
        threshold=args.threshold,
        **options,
    )


def run_code(args: argparse.Namespace) -> int:
    from nlp.reading import ChartSourceError, read_charts

    for path in args.paths:
        if not path.exists():
            raise UsageError(f"{path}: no such file or folder")
    coder = load_coder(args, top_k=args.top_k)
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
                    _write(coder, batch, out, counts, progress)
                    batch = []
            _write(coder, batch, out, counts, progress)
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


def _write(coder, batch, out, counts, progress) -> None:
    if not batch:
        return
    for result in coder.code(batch):
        out.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
        counts["charts"] += 1
        counts["errors"] += result.error is not None
        counts["codes"] += len(result.codes)
    if progress is not None:
        progress.update(len(batch))


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


def add_run_parser(sub) -> None:
    run = sub.add_parser("run", help="code a batch on an ephemeral Ray cluster (Prefect flow)")
    run.add_argument("source", help="folder, .txt/.jsonl file, or s3://bucket/prefix")
    run.add_argument("--output", "-o", required=True, help="folder or s3://bucket/prefix")
    run.add_argument("--workers", type=_positive, default=2, help="Ray actors (default: 2)")
    run.add_argument(
        "--shard-size",
        type=_positive,
        help="charts per shard (default: about 8 shards per worker, at most 500 charts each)",
    )
    run.add_argument("--address", help="an existing Ray cluster to use (host:port, ray://...)")
    run.add_argument("--cluster-config", help="a Ray cluster-launcher YAML to launch and tear down")
    run.add_argument("--ray-temp-dir", help="folder for Ray's session files ($RAY_TMPDIR)")
    run.add_argument("--cache", help="cache folder (default: $CHARTCODER_CACHE)")
    run.add_argument("--artifacts", help="a built artefact folder (default: newest in the cache)")
    run.add_argument("--s3-endpoint-url", help="S3-compatible endpoint (default: AWS)")
    run.add_argument("--aws-credentials-block", help="saved prefect-aws AwsCredentials block")
    run.add_argument("--notify", help="notification: a file, an http(s) webhook or block:TYPE/NAME")
    run.add_argument("--price-per-hour", type=float, default=None, help="USD per node-hour")
    run.add_argument("--shard-retries", type=int, default=2, help="retries of a failed shard")
    run.add_argument("--max-chart-bytes", type=_positive, help="largest chart read")
    _add_coding_options(run)


def run_pipeline(args: argparse.Namespace) -> int:
    from flows.code_charts import code_charts, run_summary

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per API call otherwise

    options = {
        "workers": args.workers,
        "shard_size": args.shard_size,
        "ray_address": args.address,
        "cluster_config": args.cluster_config,
        "ray_temp_dir": args.ray_temp_dir,
        "cache_dir": args.cache,
        "artifacts": args.artifacts,
        "s3_endpoint_url": args.s3_endpoint_url,
        "aws_credentials_block": args.aws_credentials_block,
        "notify_target": args.notify,
        "instance_price_per_hour": args.price_per_hour,
        "shard_retries": args.shard_retries,
        "max_chart_bytes": args.max_chart_bytes,
        "setting": "inpatient" if args.inpatient else "outpatient",
        "convention": args.convention,
    }
    state = code_charts(
        args.source,
        args.output,
        **{k: v for k, v in options.items() if v is not None},
        return_state=True,
    )
    summary = run_summary(args.output, options, state)
    print(summary, file=sys.stdout if state.is_completed() else sys.stderr)
    return 0 if state.is_completed() else 1


if __name__ == "__main__":
    sys.exit(main())
