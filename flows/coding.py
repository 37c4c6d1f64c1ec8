"""The coding stage: the model found, coders started on Ray, every coder kept busy with one
shard task at a time, and the shards' results merged into one record per chart.

Charts whose id an earlier chart already has are not coded: `duplicate_records` are their
error records (naming the first), added after the coded ones, so that nothing keyed by chart id
(the merge, risk adjustment, the reuse of earlier results) sees two records of one id.

A shard is one Prefect task run (`code-shard-0003`), retried on failure; a shard that fails
after its retries does not stop the others: its charts become error records. Tasks pass chart
references and return plain records and metrics (`flows.actors.ShardResult`), never chart text.
"""

from __future__ import annotations

import queue
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.utilities.annotations import quote

from flows import artifacts_report, outputs
from flows.actors import ArtifactFiles, CoderPool, ShardResult, WorkerInfo
from flows.outputs import Previous
from flows.sources import ChartReader, ChartRef, DuplicateRef


@dataclass(frozen=True, slots=True)
class Model:
    """The built artefacts a run codes with: their folder and their model version."""

    path: Path
    version: str


def find_model(artifacts: str | None, cache_dir: str | None) -> Model:
    """The artefact folder asked for (verified), else the newest valid one in the cache."""
    from nlp.artifacts import find_valid, verify

    if artifacts:
        path = Path(artifacts)
        return Model(path, verify(path)["model_version"])
    bundle = find_valid(cache_dir)
    if bundle is None:
        raise FileNotFoundError("no built artefacts in the cache: run `chartcoder train` first")
    return Model(bundle.path, bundle.manifest["model_version"])


@task(persist_result=False, cache_policy=NO_CACHE)
def start_coders(
    workers: int,
    artifacts: str | ArtifactFiles,
    reader: ChartReader,
    options: dict[str, Any] | None = None,
) -> tuple[CoderPool, list[WorkerInfo]]:
    """`options` go to each actor's `ChartCoder` (`setting`, `convention`)."""
    pool = CoderPool.start(workers, artifacts, reader, options)
    infos = pool.wait_ready()
    get_run_logger().info(
        "%d coders ready (load %s s)",
        len(infos),
        ", ".join(f"{i.load_seconds:.1f}" for i in infos),
    )
    return pool, infos


@task(persist_result=False, cache_policy=NO_CACHE, task_run_name="code-shard-{shard:04d}")
def code_shard(
    pool: CoderPool,
    slot: int,
    shard: int,
    refs: list[ChartRef],
    known: dict[str, str],
    timeout: float,
) -> ShardResult:
    result = pool.code(slot, shard, refs, known, timeout)
    get_run_logger().info(
        "shard %d on %s: %d charts (%d errors, %d reused, %d PDFs read with peers), "
        "%d characters, read %.2f s, coded %.2f s",
        shard,
        result.worker,
        len(result.outcomes),
        result.errors,
        result.reused,
        result.shared_pdfs,
        result.characters,
        result.read_seconds,
        result.code_seconds,
    )
    return result


def run_shards(
    shards: list[list[ChartRef]],
    pool: CoderPool,
    previous: Previous,
    model_version: str,
    shard_task: Any,
    timeout: float,
) -> tuple[dict[int, ShardResult], dict[int, str]]:
    """Keep every coder busy with one shard task at a time; collect results as they finish."""
    logger = get_run_logger()
    progress = artifacts_report.Progress(len(shards), sum(map(len, shards)))
    finished: queue.Queue[PrefectFuture[ShardResult]] = queue.Queue()
    pending = list(range(len(shards)))
    running: dict[PrefectFuture[ShardResult], tuple[int, int]] = {}
    results: dict[int, ShardResult] = {}
    failed: dict[int, str] = {}
    while pending or running:
        while pending and pool.idle:
            shard = pending.pop(0)
            slot = pool.take()
            known = previous.reusable((r.chart_id for r in shards[shard]), model_version)
            # quote(): Prefect passes the shard's references through without walking them
            future = shard_task.submit(pool, slot, shard, quote(shards[shard]), known, timeout)
            future.add_done_callback(finished.put)
            running[future] = (shard, slot)
        future = finished.get()
        shard, slot = running.pop(future)
        pool.give_back(slot)
        outcome = future.result(raise_on_failure=False)
        if isinstance(outcome, ShardResult):
            results[shard] = outcome
        else:
            failed[shard] = type(outcome).__name__
            logger.error(
                "shard %d failed after its retries (%s): %d charts not coded",
                shard,
                failed[shard],
                len(shards[shard]),
            )
        percent = progress.shard_done(len(shards[shard]))
        logger.info(
            "progress: %d/%d shards (%.0f%%)", len(results) + len(failed), len(shards), percent
        )
    return results, failed


def merge(
    shards: list[list[ChartRef]],
    results: dict[int, ShardResult],
    failed: dict[int, str],
    previous: Previous,
    model_version: str,
) -> tuple[list[dict[str, Any]], int]:
    """One record per input chart, keyed by chart id (a retried shard cannot double a chart)."""
    records: dict[str, dict[str, Any]] = {}
    characters = 0
    for result in results.values():
        characters += result.characters
        for outcome in result.outcomes:
            if outcome.reused:
                records[outcome.chart_id] = previous.records[outcome.chart_id]
            else:
                assert outcome.record is not None
                records[outcome.chart_id] = outputs.with_run_fields(
                    outcome.record, outcome.sha256, outcome.setting, outcome.convention
                )
    for shard, reason in failed.items():
        for ref in shards[shard]:
            records[ref.chart_id] = outputs.failed_record(
                ref.chart_id,
                model_version,
                f"not coded: shard {shard} failed after its retries ({reason})",
            )
    return sorted(records.values(), key=lambda r: r["chart_id"]), characters


def duplicate_records(duplicates: list[DuplicateRef], model_version: str) -> list[dict[str, Any]]:
    """The error record of each duplicate (no codes; it names the chart coded under its id),
    in discovery order. They join the records after risk adjustment
    (`flows.risk_adjustment.with_codeless_risk`) and are sorted after the coded chart of their id
    (a stable sort), which is the record a later run reuses (`flows.outputs.Previous`)."""
    return [outputs.failed_record(d.ref.chart_id, model_version, d.reason) for d in duplicates]
