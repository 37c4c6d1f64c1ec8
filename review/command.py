"""`chartcoder review RESULTS --output DIR`: the static review site of a run's results.

RESULTS is a `chartcoder run` destination (a folder or `s3://bucket/prefix`); DIR receives
`index.html`, one page per chart and the site's CSS and JS. Open DIR/index.html in a browser:
the site needs no server and no network.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from review.results import ResultsError, load, reader_for
from review.site import build, write_folder

log = logging.getLogger(__name__)


def add_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("results", metavar="RESULTS", help="a run's destination: folder or s3://")
    command.add_argument("--output", "-o", required=True, type=Path, help="folder for the site")
    command.add_argument("--s3-endpoint-url", help="S3-compatible endpoint (default: AWS)")


def main(args: argparse.Namespace) -> int:
    try:
        read, where = reader_for(args.results, args.s3_endpoint_url)
        results = load(read, where)
    except ResultsError as exc:
        print(f"chartcoder: error: {exc}", file=sys.stderr)
        return 2
    if not results.has_texts:
        log.warning("%s has no texts.jsonl: the pages show the codes without the chart text", where)
    index = write_folder(build(results), args.output)
    log.info("review site of %d charts written", len(results.records))
    print(f"review site: {index.resolve()}")
    return 0
