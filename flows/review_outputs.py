"""What the flow keeps for review beside its results: `texts.jsonl`, and the review site.

Both are chart text, so they are written by tasks that take references and return a file's
address: no chart text crosses a task boundary, reaches a log or an artifact.

- `write_texts` reads every chart again through the coders' own `ChartReader` (the same
  decoding, so the text is exactly what was coded and evidence offsets index into it) and
  writes `texts.jsonl` beside `charts.jsonl`.
- `write_review` builds the static site of `review/` from what the destination holds (the same
  files `chartcoder review` reads) and writes it under the destination's `review/`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows import outputs
from flows.sources import ChartReader, ChartRef, Location
from flows.storage import Destination

TEXT_READERS = 8  # S3 GETs in flight while reading the texts back
REVIEW_FOLDER = "review"


@task(persist_result=False, cache_policy=NO_CACHE)
def write_texts(destination: Destination, reader: ChartReader, refs: list[ChartRef]) -> str:
    with ThreadPoolExecutor(max_workers=TEXT_READERS) as pool:
        read = list(pool.map(reader.read, refs))
    data = outputs.texts_jsonl((r.chart.chart_id, r.chart.text) for r in read)
    written = destination.write(outputs.TEXTS, data)
    get_run_logger().info("wrote %s (%d charts)", written, len(read))
    return written


@task(persist_result=False, cache_policy=NO_CACHE)
def write_review(destination: Destination) -> str:
    from review.results import load
    from review.site import build

    files = build(load(destination.read, destination.uri("")))
    folder = Destination(Location.parse(destination.uri(REVIEW_FOLDER)), destination.bucket)
    for name, data in files.items():
        folder.write(name, data)
    index = folder.uri("index.html")
    get_run_logger().info("wrote the review site: %s (%d files)", index, len(files))
    return index
