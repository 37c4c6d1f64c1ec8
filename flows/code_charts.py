"""The pipeline: code a batch of charts on an ephemeral Ray cluster, visible in Prefect.

    read members and claims -> discover -> plan shards -> provision Ray -> start coders
             -> code shards (one task each; MEAT found beside the text) -> write texts.jsonl
             -> risk adjustment -> write charts.jsonl / codes.parquet / hccs.parquet /
                opportunities.parquet / manifest.json
             [-> review site under review/] -> report -> notify
             (Ray is released in every case)

The flow takes `source` and `destination` (a folder, a file or s3://bucket/prefix) and
`options` (`flows.options.RunOptions`: how the batch is coded, on which cluster, where the news
goes). Its stages live beside it, one job each: `flows.batch` (what to code), `flows.coding`
(the coders on Ray), `flows.delivery` (outputs, manifest, report, notification) and
`flows.location_lock` (one run per prefix) and `flows.risk_adjustment` (members, claims, HCCs,
RAF and opportunities; a members or claims file that cannot be used fails the run before Ray
starts).

Chart text never reaches Prefect: tasks take chart references and return plain records; no
task result is persisted and nothing is cached by input.

Each chart is coded under its own setting (a `.jsonl` record's `"setting"`, or an `inpatient/` or
`outpatient/` folder: `nlp.reading`), else the run's `options.setting`, and under the run's
`options.convention`.
"""

# No `from __future__ import annotations` here: Prefect reads the flow's parameter types through
# the `one_run_per_location` wrapper, whose module globals do not hold them, so they must be the
# types themselves, not their names.
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prefect import flow, get_run_logger
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from flows.actors import read_artifact_files
from flows.batch import discover_charts, plan_shards, read_previous
from flows.coding import (
    code_shard,
    duplicate_records,
    find_model,
    merge,
    run_shards,
    start_coders,
)
from flows.delivery import (
    build_manifest,
    count_codes,
    default_notification_file,
    publish_report,
    run_ui_url,
    send_notification,
    write_outputs,
)
from flows.location_lock import one_run_per_location
from flows.options import RunOptions
from flows.ray_cluster import RaySpec, ray_cluster, teardown_in_background
from flows.review_outputs import write_review, write_texts
from flows.risk_adjustment import (
    assess_risk,
    read_risk_inputs,
    risk_manifest,
    with_chart_risk,
    with_codeless_risk,
)
from flows.sources import ChartReader, Location, split_duplicates
from flows.storage import Destination, s3_bucket

MAX_PARALLEL_SHARDS = 64


class ShardsFailed(RuntimeError):
    """Some shards failed after their retries; their charts are in the manifest's errors."""


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


@flow(
    name="code-charts",
    persist_result=False,
    task_runner=ThreadPoolTaskRunner(max_workers=MAX_PARALLEL_SHARDS),  # type: ignore[arg-type]
)
@one_run_per_location
def code_charts(
    source: str,
    destination: str,
    options: RunOptions = RunOptions(),  # noqa: B008 (frozen: one shared default is safe)
) -> dict[str, Any]:
    """Code every chart at `source` into `destination`; see the module docstring."""
    logger = get_run_logger()
    run_started = time.perf_counter()
    timings: dict[str, float] = {}
    spec = RaySpec.choose(
        options.workers, options.ray_address, options.cluster_config, options.ray_temp_dir
    )
    src, dst = Location.parse(source), Location.parse(destination)
    src_bucket = s3_bucket(src, options.s3_endpoint_url, options.aws_credentials_block)
    dest = Destination(dst, s3_bucket(dst, options.s3_endpoint_url, options.aws_credentials_block))
    model = find_model(options.artifacts, options.cache_dir)
    # Members and claims first: a file that cannot be used is a usage error before Ray starts.
    with stage(timings, "risk_inputs"):
        risk_inputs = read_risk_inputs(src, src_bucket, options)

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
            # A second chart of one id is an error record naming the first; the first is coded.
            unique, duplicates = split_duplicates(refs, src)
            if duplicates:
                logger.warning(
                    "%d charts with an id already taken, not coded: %s",
                    len(duplicates),
                    ", ".join(d.ref.chart_id for d in duplicates[:20]),
                )
            with stage(timings, "plan"):
                shards = plan_shards(as_is(unique), options.shard_size, options.workers)
            shipped = (
                options.ship_artifacts
                if options.ship_artifacts is not None
                else spec.mode == "launcher"
            )
            with stage(timings, "actor_load"):
                pool, coders = start_coders(
                    options.workers,
                    read_artifact_files(model.path) if shipped else str(model.path),
                    ChartReader(src_bucket, options.max_chart_bytes),
                    {"setting": options.setting, "convention": options.convention},
                )
            with stage(timings, "coding"):
                results, failed = run_shards(
                    shards,
                    pool,
                    previous,
                    model.version,
                    code_shard.with_options(retries=options.shard_retries, retry_delay_seconds=1),
                    options.shard_timeout_seconds,
                )
            with stage(timings, "texts"):
                # before Ray goes: the coders hold the PDF texts they read
                write_texts(
                    dest,
                    pool,
                    as_is(ChartReader(src_bucket, options.max_chart_bytes)),
                    as_is(unique),
                )

        records, characters = merge(shards, results, failed, previous, model.version)
        with stage(timings, "risk"):
            risk = assess_risk(as_is(records), as_is(risk_inputs), options.service_year)
            records = with_chart_risk(records, risk) + with_codeless_risk(
                duplicate_records(duplicates, model.version), risk, risk_inputs
            )
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
            coders,
            options,
        ) | risk_manifest(risk, risk_inputs)
        with stage(timings, "write"):
            # quote(): Prefect does not walk big collections looking for futures (10k records)
            write_outputs(dest, as_is(records), as_is(risk), as_is(manifest))
        if options.review_site:  # the static review site under the destination's review/
            write_review(dest)
        publish_report(as_is(manifest), *count_codes(records))
        summary = (
            f"{manifest['charts_total']} charts: {manifest['charts_coded']} coded "
            f"({manifest['charts_reused']} reused), {manifest['charts_failed']} in error; "
            f"results in {dest.uri('')}; run {run_ui_url() or flow_run.get_id()}"
        )
        send_notification(
            options.notify_target,
            str(default_notification_file(dst, options.cache_dir)),
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
        return {k: v for k, v in manifest.items() if k not in ("errors", "claims_errors")}
