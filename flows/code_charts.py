"""The pipeline: code a batch of charts on an ephemeral Ray cluster, visible in Prefect.

    discover -> plan shards -> provision Ray -> start coders -> code shards (one task each)
             -> write texts.jsonl / charts.jsonl / codes.parquet / manifest.json
             [-> review site under review/] -> report -> notify
             (Ray is released in every case)

Chart text never reaches Prefect: tasks take chart references and return plain records; no
task result is persisted and nothing is cached by input.

Each chart is coded under its own setting (a `.jsonl` record's `"setting"`, or an `inpatient/` or
`outpatient/` folder: `nlp.reading`), else the run's `setting`, and under the run's `convention`.
"""

from __future__ import annotations

import functools
import inspect
import json
import queue
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from flows import artifacts_report, notify, outputs
from flows.actors import ArtifactFiles, CoderPool, ShardResult, WorkerInfo, read_artifact_files
from flows.outputs import Previous
from flows.ray_cluster import RaySpec, ray_cluster, teardown_in_background
from flows.review_outputs import write_review, write_texts
from flows.sources import (
    ChartReader,
    ChartRef,
    Location,
    auto_shard_size,
    balanced_shards,
    discover,
    duplicate_ids,
)
from flows.storage import Destination
from nlp.reading import ChartSourceError
from nlp.settings import MAX_CHART_BYTES

if TYPE_CHECKING:
    from prefect_aws.s3 import S3Bucket

MAX_PARALLEL_SHARDS = 64
# The coder's options (`nlp.coding_rules.SETTINGS`, `CONVENTIONS`), spelled out so that Prefect
# shows and checks them without the flow importing the engine (a test keeps them equal).
Setting = Literal["outpatient", "inpatient"]
Convention = Literal["us", "codiesp"]
DEFAULT_PRICE_PER_HOUR = 0.192  # an m5.xlarge on demand, us-east-1, USD

# Every task keeps its result in memory only (persist_result=False) and is never cached by its
# inputs (NO_CACHE): nothing a task sees or returns is written to a result store.


class ShardsFailed(RuntimeError):
    """Some shards failed after their retries; their charts are in the manifest's errors."""


@dataclass(frozen=True, slots=True)
class Model:
    path: Path
    version: str


def as_is(value: Any) -> Any:
    """A task argument Prefect passes through without walking it (big collections)."""
    return quote(value)


def finish_time[T](
    future: PrefectFuture[T], timings: dict[str, float], name: str
) -> PrefectFuture[T]:
    """Record in `timings[name]` how long a submitted task took from now until it finished."""
    started = time.perf_counter()

    def record(_: PrefectFuture[T]) -> None:
        timings[name] = round(time.perf_counter() - started, 3)

    future.add_done_callback(record)
    return future


@contextmanager
def stage(timings: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = round(time.perf_counter() - started, 3)


def s3_bucket(
    location: Location, endpoint_url: str | None, credentials_block: str | None
) -> S3Bucket | None:
    """The prefect-aws `S3Bucket` for an s3:// location (None for a local path)."""
    if not location.is_s3:
        return None
    from prefect_aws import AwsClientParameters, AwsCredentials
    from prefect_aws.s3 import S3Bucket

    credentials: AwsCredentials
    if credentials_block:
        credentials = AwsCredentials.load(credentials_block)  # type: ignore[assignment]
        if endpoint_url:
            credentials.aws_client_parameters = AwsClientParameters(endpoint_url=endpoint_url)
    else:
        credentials = AwsCredentials(
            aws_client_parameters=AwsClientParameters(endpoint_url=endpoint_url)
        )
    return S3Bucket(bucket_name=str(location.bucket), credentials=credentials)


@task(persist_result=False, cache_policy=NO_CACHE)
def discover_charts(location: Location, bucket: Any) -> list[ChartRef]:
    logger = get_run_logger()
    refs = discover(location, bucket)
    if not refs:
        raise ChartSourceError(f"{location.uri}: no charts (.txt files or .jsonl records)")
    dups = duplicate_ids(refs)
    if dups:
        raise ChartSourceError(f"{location.uri}: duplicate chart ids: {', '.join(dups[:10])}")
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
    previous = Previous.parse(destination.read(outputs.CHARTS))
    get_run_logger().info("%d records at the destination from earlier runs", len(previous.records))
    return previous


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
        "shard %d on %s: %d charts (%d errors, %d reused), %d characters, "
        "read %.2f s, coded %.2f s",
        shard,
        result.worker,
        len(result.outcomes),
        result.errors,
        result.reused,
        result.characters,
        result.read_seconds,
        result.code_seconds,
    )
    return result


@task(persist_result=False, cache_policy=NO_CACHE)
def write_outputs(
    destination: Destination, records: list[dict[str, Any]], manifest: dict[str, Any]
) -> list[str]:
    written = [
        destination.write(outputs.CHARTS, outputs.charts_jsonl(records)),
        destination.write(outputs.CODES, outputs.codes_parquet(records)),
        destination.write(outputs.MANIFEST, outputs.manifest_json(manifest)),
    ]
    get_run_logger().info("wrote %s", ", ".join(written))
    return written


@task(persist_result=False, cache_policy=NO_CACHE)
def publish_report(
    manifest: dict[str, Any], code_counts: Counter[tuple[str, str]], hcc_counts: Counter[str]
) -> None:
    artifacts_report.publish(manifest, code_counts, hcc_counts, run_ui_url())


@task(persist_result=False, cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def send_notification(target: str | None, default_file: str, subject: str, body: str) -> None:
    notify.send(notify.notifier(target, Path(default_file)), body, subject)


LOCK_LEASE_SECONDS = 120.0  # a crashed run's slots free themselves after this (renewed while alive)


def lock_name(location: Location) -> str:
    """The global concurrency limit of one location (Prefect bans / % & < > in names)."""
    uri = f"s3://{location.bucket}/{location.prefix}" if location.is_s3 else location.uri
    return "chartcoder-location:" + re.sub(r"[/%&<>]+", ":", uri.rstrip("/"))


@contextmanager
def location_lock(locations: list[Location]) -> Iterator[list[str]]:
    """Hold one slot of a one-slot global concurrency limit per location, all at once.

    Prefect 3.9 no longer creates a limit on first acquisition, so each is created here when
    missing (a second creator gets a conflict, which is fine); `strict=True` then refuses to run
    unlocked. Slots are leased: renewed while the run lives, released when it ends, and freed by
    the server `LOCK_LEASE_SECONDS` after a run that died without releasing them.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.concurrency.sync import concurrency
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    names = sorted({lock_name(location) for location in locations})
    with get_client(sync_client=True) as client:
        for name in names:
            try:
                client.read_global_concurrency_limit_by_name(name)
            except ObjectNotFound:
                # a rerun finds its limit; creating it again makes the server log an error
                with suppress(ObjectAlreadyExists):
                    client.create_global_concurrency_limit(
                        GlobalConcurrencyLimitCreate(name=name, limit=1)
                    )
    logger = get_run_logger()
    waited = time.perf_counter()
    with concurrency(
        names,
        occupy=1,
        strict=True,
        lease_duration=LOCK_LEASE_SECONDS,
        raise_on_lease_renewal_failure=False,
    ):
        logger.info("holding %s (waited %.1f s)", ", ".join(names), time.perf_counter() - waited)
        yield names


def one_run_per_location[**P, R](fn: Callable[P, R]) -> Callable[P, R]:
    """Runs of the decorated flow never overlap on the same `source` or `destination`: a second
    run for a prefix waits until the first is over (two batch events for one prefix, a retried
    event, a manual run). Runs on other prefixes go on in parallel."""

    @functools.wraps(fn)
    def locked(*args: P.args, **kwargs: P.kwargs) -> R:
        bound = inspect.signature(fn).bind(*args, **kwargs)
        where = [Location.parse(bound.arguments[name]) for name in ("source", "destination")]
        with location_lock(where):
            return fn(*args, **kwargs)

    return locked


@flow(
    name="code-charts",
    persist_result=False,
    task_runner=ThreadPoolTaskRunner(max_workers=MAX_PARALLEL_SHARDS),  # type: ignore[arg-type]
)
@one_run_per_location
def code_charts(
    source: str,
    destination: str,
    workers: int = 2,
    shard_size: int | None = None,
    ray_address: str | None = None,
    cluster_config: str | None = None,
    ray_temp_dir: str | None = None,
    cache_dir: str | None = None,
    artifacts: str | None = None,
    ship_artifacts: bool | None = None,
    s3_endpoint_url: str | None = None,
    aws_credentials_block: str | None = None,
    notify_target: str | None = None,
    instance_price_per_hour: float = DEFAULT_PRICE_PER_HOUR,
    shard_retries: int = 2,
    shard_timeout_seconds: float = 3600.0,
    max_chart_bytes: int = MAX_CHART_BYTES,
    setting: Setting = "outpatient",
    convention: Convention = "us",
    review_site: bool = False,
) -> dict[str, Any]:
    """Code every chart at `source` into `destination`; see the module docstring."""
    check_choice("setting", setting, get_args(Setting))
    check_choice("convention", convention, get_args(Convention))
    logger = get_run_logger()
    run_started = time.perf_counter()
    timings: dict[str, float] = {}
    spec = RaySpec.choose(workers, ray_address, cluster_config, ray_temp_dir)
    src, dst = Location.parse(source), Location.parse(destination)
    src_bucket = s3_bucket(src, s3_endpoint_url, aws_credentials_block)
    dest = Destination(dst, s3_bucket(dst, s3_endpoint_url, aws_credentials_block))
    model = find_model(artifacts, cache_dir)

    # Discovery and the previous results are read while Ray starts.
    refs_future = finish_time(discover_charts.submit(src, src_bucket), timings, "discover")
    previous_future = finish_time(read_previous.submit(dest), timings, "read_previous")
    # Ray is released on a thread while the outputs are written, and waited for before the end.
    with teardown_in_background() as teardown:
        with ray_cluster(spec, teardown) as cluster:
            timings["ray_start"] = round(cluster.start_seconds, 3)
            # What can fail is settled before the actors start: no task may still be calling
            # Ray when a failed run shuts it down (such a call never returns).
            refs = refs_future.result()
            previous = previous_future.result()
            with stage(timings, "plan"):
                shards = plan_shards(as_is(refs), shard_size, workers)
            shipped = ship_artifacts if ship_artifacts is not None else spec.mode == "launcher"
            with stage(timings, "actor_load"):
                pool, coders = start_coders(
                    workers,
                    read_artifact_files(model.path) if shipped else str(model.path),
                    ChartReader(src_bucket, max_chart_bytes),
                    {"setting": setting, "convention": convention},
                )
            with stage(timings, "coding"):
                results, failed = run_shards(
                    shards,
                    pool,
                    previous,
                    model.version,
                    code_shard.with_options(retries=shard_retries, retry_delay_seconds=1),
                    shard_timeout_seconds,
                )

        records, characters = merge(shards, results, failed, previous, model.version)
        timings["total"] = round(time.perf_counter() - run_started, 3)
        manifest = build_manifest(
            src,
            dest,
            model,
            refs,
            records,
            results,
            timings,
            characters,
            cluster.nodes,
            instance_price_per_hour,
            coders,
            setting,
            convention,
        )
        with stage(timings, "write"):
            # quote(): Prefect does not walk big collections looking for futures (10k records)
            write_texts(dest, as_is(ChartReader(src_bucket, max_chart_bytes)), as_is(refs))
            write_outputs(dest, as_is(records), as_is(manifest))
        if review_site:  # the static review site under the destination's review/
            write_review(dest)
        publish_report(as_is(manifest), *count_codes(records))
        summary = (
            f"{manifest['charts_total']} charts: {manifest['charts_coded']} coded "
            f"({manifest['charts_reused']} reused), {manifest['charts_failed']} in error; "
            f"results in {dest.uri('')}; run {run_ui_url() or flow_run.get_id()}"
        )
        send_notification(
            notify_target,
            str(default_notification_file(dst, cache_dir)),
            f"chartcoder run {'failed' if failed else 'finished'}: {dest.uri('')}",
            summary,
        )
        logger.info(summary)
        if failed:
            raise ShardsFailed(
                f"{len(failed)} of {len(shards)} shards failed after retries "
                f"(shards {', '.join(map(str, sorted(failed)))}); their charts are in the "
                f"manifest's errors"
            )
        return {k: v for k, v in manifest.items() if k != "errors"}


def check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r}: not one of {', '.join(allowed)}")


def run_ui_url() -> str | None:
    """The run's page in the Prefect UI; None on the ephemeral API, which serves no UI (Prefect
    then builds the address from an unset UI URL: "None/flow-runs/...")."""
    url = flow_run.get_flow_run_ui_url()
    return url if url and url.startswith("http") else None


def default_notification_file(destination: Location, cache_dir: str | None) -> Path:
    """Beside the results for a local destination, else in the chartcoder cache folder."""
    from nlp.settings import cache_dir as chartcoder_cache

    folder = chartcoder_cache(cache_dir) if destination.is_s3 else destination.path
    return folder / "notifications.jsonl"


def find_model(artifacts: str | None, cache_dir: str | None) -> Model:
    from nlp.artifacts import find_valid, verify

    if artifacts:
        path = Path(artifacts)
        return Model(path, verify(path)["model_version"])
    bundle = find_valid(cache_dir)
    if bundle is None:
        raise FileNotFoundError("no built artefacts in the cache: run `chartcoder train` first")
    return Model(bundle.path, bundle.manifest["model_version"])


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
            future = shard_task.submit(pool, slot, shard, as_is(shards[shard]), known, timeout)
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


def count_codes(records: list[dict[str, Any]]) -> tuple[Counter[tuple[str, str]], Counter[str]]:
    codes: Counter[tuple[str, str]] = Counter()
    hccs: Counter[str] = Counter()
    for record in records:
        codes.update({(c["code"], c["description"]) for c in record["codes"]})
        hccs.update({c["hcc"] for c in record["codes"] if c["hcc"]})
    return codes, hccs


def build_manifest(
    src: Location,
    dest: Destination,
    model: Model,
    refs: list[ChartRef],
    records: list[dict[str, Any]],
    results: dict[int, ShardResult],
    timings: dict[str, float],
    characters: int,
    nodes: int,
    price_per_hour: float,
    coders: list[WorkerInfo],
    setting: str = "outpatient",
    convention: str = "us",
) -> dict[str, Any]:
    errors = [{"chart_id": r["chart_id"], "reason": r["error"]} for r in records if r["error"]]
    reused = sum(r.reused for r in results.values())
    coded_now = sum(len(r.outcomes) - r.reused for r in results.values())
    coding = max(timings.get("coding", 0.0), 1e-9)
    total = max(timings["total"], 1e-9)
    hours = total / 3600
    return {
        "run_id": str(flow_run.get_id()),
        "source": src.uri,
        "destination": dest.location.uri,
        "model_version": model.version,
        "setting": setting,
        "convention": convention,
        "charts_total": len(refs),
        "charts_coded": len(records) - len(errors),
        "charts_reused": reused,
        "charts_failed": len(errors),
        "errors": errors,
        "timings": dict(timings),
        "coders_started": sorted(c.worker for c in coders),
        "workers": dict(sorted(Counter(r.worker for r in results.values()).items())),
        "throughput": {
            "charts_per_hour": len(records) / total * 3600,
            "coding_charts_per_hour": coded_now / coding * 3600,
            "characters_per_second": characters / coding,
            "characters": characters,
        },
        "cost_estimate": {
            "instance_price_per_hour": price_per_hour,
            "nodes": nodes,
            "hours": hours,
            "usd": round(nodes * hours * price_per_hour, 6),
        },
    }


def run_summary(destination: str, options: dict[str, Any], state: Any) -> str:
    """A one-screen summary of a finished run, from the manifest it wrote (for the CLI)."""
    dst = Location.parse(destination)
    dest = Destination(
        dst, s3_bucket(dst, options.get("s3_endpoint_url"), options.get("aws_credentials_block"))
    )
    lines = [f"run {state.state_details.flow_run_id}: {state.name}"]
    failed_shards = "ShardsFailed" in (state.message or "")
    data = dest.read(outputs.MANIFEST) if state.is_completed() or failed_shards else None
    if data is None:
        lines.append(f"  {state.message}")
        return "\n".join(lines)
    manifest = json.loads(data)
    throughput = manifest["throughput"]
    lines += [
        f"  charts:      {manifest['charts_total']} total, {manifest['charts_coded']} coded "
        f"({manifest['charts_reused']} reused), {manifest['charts_failed']} in error",
        f"  model:       {manifest['model_version']} "
        f"({manifest.get('setting')}, convention {manifest.get('convention')})",
        f"  throughput:  {throughput['charts_per_hour']:,.0f} charts/hour overall, "
        f"{throughput['characters_per_second']:,.0f} characters/s coding",
        "  timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in manifest["timings"].items()),
        f"  cost:        ${manifest['cost_estimate']['usd']:.4f}",
    ]
    for error in manifest["errors"][:10]:
        lines.append(f"  error:       {error['chart_id']}: {error['reason']}")
    if len(manifest["errors"]) > 10:
        lines.append(f"  ... and {len(manifest['errors']) - 10} more errors in the manifest")
    lines += [f"  results:     {dest.uri('')}", f"  prefect run: {run_url(state)}"]
    if not state.is_completed():
        lines.append(f"  {state.message}")
    return "\n".join(lines)


def run_url(state: Any) -> str:
    from prefect.settings import PREFECT_UI_URL

    ui = PREFECT_UI_URL.value()
    run_id = state.state_details.flow_run_id
    return f"{ui}/runs/flow-run/{run_id}" if ui else str(run_id)
