"""The `chartcoder` command line: a thin layer over `nlp`.

chartcoder train [--train-only] [--force]
chartcoder code PATH... --output FILE.jsonl [--threshold P] [--top-k K] [--inpatient]
                [--convention {us,codiesp}]
chartcoder evaluate PRED.jsonl GOLD.tsv|GOLD.jsonl [--errors CHARTS] [--convention us|codiesp]
chartcoder run SOURCE --output DEST [--inpatient] [--convention {us,codiesp}] [...]
chartcoder review RESULTS --output DIR
chartcoder bridge --queue-url URL --landing s3://bucket/prefix --results s3://bucket/prefix [...]
chartcoder up | down | status [--state-dir DIR]

The root parser and the dispatch; each command group lives in its own module: `cli.engine`
(`train`, `code` over `nlp`), `cli.evaluate`, `cli.pipeline` (`run`, the Prefect flow), and the
services' own parsers and commands (`bridge`, `up`, `down`, `status`).
"""

from __future__ import annotations

import argparse
import logging
import sys

from bridge.command import add_bridge_parser, run_bridge
from cli import engine, evaluate, pipeline
from cli.arguments import UsageError
from review import command as review
from stack import command as stack


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="chartcoder", description=__doc__.splitlines()[0])
    root.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    sub = root.add_subparsers(dest="command", required=True)
    engine.add_parsers(sub)
    evaluate.add_parser(sub)
    pipeline.add_parser(sub)
    review.add_arguments(
        sub.add_parser("review", help="write a static review site of a run's results")
    )
    add_bridge_parser(sub)
    stack.add_parsers(sub)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return {
            "train": engine.run_train,
            "code": engine.run_code,
            "evaluate": evaluate.run_evaluate,
            "run": pipeline.run_pipeline,
            "review": review.main,
            "bridge": run_bridge,
            **stack.COMMANDS,
        }[args.command](args)
    except UsageError as exc:
        print(f"chartcoder: error: {exc}", file=sys.stderr)
        return 2
