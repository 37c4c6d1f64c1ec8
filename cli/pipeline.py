"""`chartcoder run`: the `code-charts` flow once, by hand, then a one-screen summary of its run.

The flags become the flow's `RunOptions` (`flows.options`); the summary is read back from the
manifest the run wrote. Exit status 0 when the run completed, 1 when it did not (the summary then
goes to stderr), 2 for options the flow refuses and for a members or claims file it cannot use
(the run fails on it before Ray starts).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from pydantic import ValidationError

from cli.arguments import UsageError, add_coding_options, add_service_year, positive
from flows import outputs
from flows.options import RunOptions
from flows.sources import Location
from flows.storage import Destination, s3_bucket
from risk.errors import RiskInputError


def add_parser(sub: Any) -> None:
    run = sub.add_parser("run", help="code a batch on an ephemeral Ray cluster (Prefect flow)")
    run.add_argument("source", help="folder, .txt/.pdf/.tif/.jsonl file, or s3://bucket/prefix")
    run.add_argument("--output", "-o", required=True, help="folder or s3://bucket/prefix")
    run.add_argument("--workers", type=positive, default=2, help="Ray actors (default: 2)")
    run.add_argument(
        "--shard-size",
        type=positive,
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
    run.add_argument("--max-chart-bytes", type=positive, help="largest chart read")
    run.add_argument(
        "--members",
        metavar="FILE.csv",
        help="members CSV for risk adjustment (member_id, chart_id, age or date_of_birth, sex; "
        "local or s3://; default: a members.csv directly in SOURCE, else each chart is its own "
        "member with default demographics)",
    )
    run.add_argument(
        "--claims",
        metavar="FILE",
        action="append",
        help="claims to compare with: a CSV (member_id, dx[, service_date]) or an X12 837, local "
        "or s3://; may be given more than once (default: claims.csv/.837/.x12 directly in "
        "SOURCE, else no opportunities)",
    )
    add_service_year(run)
    add_coding_options(run)


def run_options(args: argparse.Namespace) -> RunOptions:
    """The flow's options from the flags; a flag left out leaves the option's default."""
    given = {
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
        "members": args.members,
        "claims": tuple(args.claims) if args.claims else None,
        "service_year": args.service_year,
    }
    try:
        return RunOptions(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        refused = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']} (got {e['input']!r})" for e in exc.errors()
        )
        raise UsageError(f"options the flow refuses: {refused}") from exc


def run_pipeline(args: argparse.Namespace) -> int:
    from flows.code_charts import code_charts

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per API call otherwise

    options = run_options(args)
    state = code_charts(args.source, args.output, options, return_state=True)
    if state.is_failed():
        failure = state.result(raise_on_failure=False)
        if isinstance(failure, RiskInputError):  # raised before Ray started: nothing ran
            raise UsageError(str(failure))
    summary = run_summary(args.output, options, state)
    print(summary, file=sys.stdout if state.is_completed() else sys.stderr)
    return 0 if state.is_completed() else 1


def run_summary(destination: str, options: RunOptions, state: Any) -> str:
    """A one-screen summary of a finished run, from the manifest it wrote."""
    dst = Location.parse(destination)
    dest = Destination(dst, s3_bucket(dst, options.s3_endpoint_url, options.aws_credentials_block))
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
    lines += risk_lines(manifest.get("risk"))
    for error in manifest["errors"][:10]:
        lines.append(f"  error:       {error['chart_id']}: {error['reason']}")
    if len(manifest["errors"]) > 10:
        lines.append(f"  ... and {len(manifest['errors']) - 10} more errors in the manifest")
    lines += [f"  results:     {dest.uri('')}", f"  prefect run: {run_url(state)}"]
    if not state.is_completed():
        lines.append(f"  {state.message}")
    return "\n".join(lines)


def risk_lines(risk: dict[str, Any] | None) -> list[str]:
    """The summary's risk-adjustment lines, from the manifest's `risk` totals."""
    if not risk:
        return []
    members = (
        f"{risk['members']} members from {risk['members_file']}"
        if risk["members_from_file"]
        else f"{risk['members']} members (no members file: each chart its own member)"
    )
    lines = [f"  risk:        {members}, RAF from charts {risk['raf_from_charts']:.3f}"]
    if risk.get("service_year") is not None:
        lines.append(
            f"  year:        dates of service in {risk['service_year']}: "
            f"{risk['codes_out_of_year']} chart codes and {risk['claims_out_of_year']} claim "
            "diagnoses of other years not counted"
        )
    if risk["claims"]:
        lines.append(
            f"  vs claims:   RAF from claims {risk['raf_from_claims']:.3f}; "
            f"{risk['adds']} adds ({risk['add_raf']:+.3f}), {risk['deletes']} deletes "
            f"({risk['delete_raf']:+.3f}), {risk['confirmed']} confirmed, net RAF delta "
            f"{risk['net_raf_delta']:+.3f}; {risk['claims_errors']} claims errors in the manifest"
        )
    else:
        lines.append("  vs claims:   no claims file: no opportunities")
    return lines


def run_url(state: Any) -> str:
    from prefect.settings import PREFECT_UI_URL

    ui = PREFECT_UI_URL.value()
    run_id = state.state_details.flow_run_id
    return f"{ui}/runs/flow-run/{run_id}" if ui else str(run_id)
