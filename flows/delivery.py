"""What a run leaves behind: its manifest, the output files at the destination, its report in
the Prefect UI and one notification.

The manifest, the report and the notification carry chart ids, codes, counts, timings and
locations, never chart text.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from flows import artifacts_report, notify, outputs
from flows.actors import ShardResult, WorkerInfo
from flows.coding import Model
from flows.options import RunOptions
from flows.sources import ChartRef, Location
from flows.storage import Destination
from risk.batch import BatchRisk
from risk.outputs import hccs_parquet, opportunities_parquet


@task(persist_result=False, cache_policy=NO_CACHE)
def write_outputs(
    destination: Destination,
    records: list[dict[str, Any]],
    risk: BatchRisk,
    manifest: dict[str, Any],
) -> list[str]:
    """`charts.jsonl`, `codes.parquet`, `hccs.parquet`, `opportunities.parquet` and
    `manifest.json`, each replaced whole, in that order (the manifest last)."""
    written = [
        destination.write(outputs.CHARTS, outputs.charts_jsonl(records)),
        destination.write(outputs.CODES, outputs.codes_parquet(records)),
        destination.write(outputs.HCCS, hccs_parquet(risk.hcc_rows())),
        destination.write(outputs.OPPORTUNITIES, opportunities_parquet(risk.opportunity_rows())),
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


def count_codes(records: list[dict[str, Any]]) -> tuple[Counter[tuple[str, str]], Counter[str]]:
    """How many charts carry each (code, description) and each HCC category."""
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
    coders: list[WorkerInfo],
    options: RunOptions,
) -> dict[str, Any]:
    errors = [{"chart_id": r["chart_id"], "reason": r["error"]} for r in records if r["error"]]
    reused = sum(r.reused for r in results.values())
    coded_now = sum(len(r.outcomes) - r.reused for r in results.values())
    coding = max(timings.get("coding", 0.0), 1e-9)
    total = max(timings["total"], 1e-9)
    hours = total / 3600
    price_per_hour = options.instance_price_per_hour
    return {
        "run_id": str(flow_run.get_id()),
        "source": src.uri,
        "destination": dest.location.uri,
        "model_version": model.version,
        "setting": options.setting,
        "convention": options.convention,
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
