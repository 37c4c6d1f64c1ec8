"""What the flow keeps for review beside its results: `texts.jsonl`, and the review site.

Both are chart text, so they are written by tasks that take references and return a file's
address: no chart text crosses a task boundary, reaches a log or an artifact.

- `write_texts` writes `texts.jsonl` beside `charts.jsonl`, while the coders are still up: a
  PDF's text is the one its coder read (OCR included; taken from the coders through Ray, so no
  page is recognised twice), and every other chart is read again through the coders' own
  `ChartReader` (the same decoding), so evidence offsets index into the text as coded.
- `write_review` builds the static site of `review/` from what the destination holds (the same
  files `chartcoder review` reads) and writes it under the destination's `review/`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows import outputs
from flows.actors import CoderPool
from flows.sources import ChartReader, ChartRef, Location
from flows.storage import Destination

TEXT_READERS = 8  # S3 GETs in flight while reading the texts back
REVIEW_FOLDER = "review"


@task(persist_result=False, cache_policy=NO_CACHE)
def write_texts(
    destination: Destination, pool: CoderPool, reader: ChartReader, refs: list[ChartRef]
) -> str:
    """A chart that cannot be read back (its shard failed on the same error) has no line; the
    warning names it and the error's type, never the text."""
    logger = get_run_logger()
    kept = pool.take_texts()

    def read(ref: ChartRef) -> tuple[str, str] | BaseException:
        if ref.chart_id in kept:
            return ref.chart_id, kept[ref.chart_id]
        try:
            return ref.chart_id, reader.read(ref).chart.text
        except Exception as exc:  # that chart's I/O error: reported below, the rest written
            return exc

    with ThreadPoolExecutor(max_workers=TEXT_READERS) as readers:
        found = list(readers.map(read, refs))
    texts = [item for item in found if isinstance(item, tuple)]
    unread = [
        (ref.chart_id, item)
        for ref, item in zip(refs, found, strict=True)
        if not isinstance(item, tuple)
    ]
    if unread:
        logger.warning(
            "%d charts not read back for %s: %s",
            len(unread),
            outputs.TEXTS,
            ", ".join(f"{chart_id} ({type(exc).__name__})" for chart_id, exc in unread[:20]),
        )
    written = destination.write(outputs.TEXTS, outputs.texts_jsonl(texts))
    logger.info(
        "wrote %s (%d charts, %d PDFs as their coders read them)", written, len(texts), len(kept)
    )
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
