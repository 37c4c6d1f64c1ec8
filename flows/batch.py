"""What a run codes: the batch's charts found at the source, planned into shards, and the
results of earlier runs at the destination that can be reused.

Tasks take and return chart references (`flows.sources.ChartRef`: id, location, size), never
chart text. Every task keeps its result in memory only (`persist_result=False`) and is never
cached by its inputs (`NO_CACHE`): nothing a task sees or returns is written to a result store.
"""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows import outputs
from flows.outputs import Previous
from flows.sources import (
    ChartRef,
    Location,
    auto_shard_size,
    balanced_shards,
    discover,
)
from flows.storage import Destination
from nlp.reading import ChartSourceError


@task(persist_result=False, cache_policy=NO_CACHE)
def discover_charts(location: Location, bucket: Any) -> list[ChartRef]:
    """Every chart at `location`, duplicate ids included (`flows.sources.split_duplicates`
    makes the later ones error records); a source with no chart is an error."""
    logger = get_run_logger()
    refs = discover(location, bucket)
    if not refs:
        raise ChartSourceError(f"{location.uri}: no charts (.txt or .pdf files, .jsonl records)")
    logger.info(
        "found %d charts (%d bytes) at %s", len(refs), sum(r.size for r in refs), location.uri
    )
    return refs


@task(persist_result=False, cache_policy=NO_CACHE)
def plan_shards(refs: list[ChartRef], shard_size: int | None, workers: int) -> list[list[ChartRef]]:
    """About `shard_size` charts per shard (by default `auto_shard_size`), balanced by size;
    largest shards first."""
    shards = balanced_shards(refs, shard_size or auto_shard_size(len(refs), workers))
    get_run_logger().info(
        "planned %d shards of %d-%d charts",
        len(shards),
        min(map(len, shards)),
        max(map(len, shards)),
    )
    return shards


@task(persist_result=False, cache_policy=NO_CACHE)
def read_previous(destination: Destination) -> Previous:
    """The records an earlier run wrote to `destination` (none for a new destination)."""
    previous = Previous.parse(destination.read(outputs.CHARTS))
    get_run_logger().info("%d records at the destination from earlier runs", len(previous.records))
    return previous
