"""Latency of the event chain: from the last chart landed in S3 to the results written.

    python bench/events.py [--charts 10 1000] [--no-marker] [--quiet-seconds 20]
                           [--poll-seconds 2] [--data DIR] [--keep-up]

Starts its own stack (`chartcoder up` in a temporary folder, on free ports; the worker finds the
model in $CHARTCODER_CACHE), lands each batch of CodiEsp background charts (repeated, ids made
unique) as `.txt` objects plus the `_READY` marker (or none with --no-marker: the quiet period
then decides), and waits for `manifest.json`. For each batch it prints where the time went:

  bridge        last upload -> batch event (the quiet period, or the marker's round trip)
  trigger       event -> flow run created (the deployment trigger)
  pickup        flow run created -> Pending (the worker's polling interval)
  process       Pending -> Running (a new Python process, imports, the pull step)
  discover      listing the prefix and reading earlier results (the part of it that outlasts
                Ray's start, which it overlaps), planning shards
  ray start     the ephemeral Ray cluster
  actor load    the coders loading the model
  coding        the shards
  rest          lock, Ray shutdown, merge, writes, until manifest.json is there
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from stack.clients import aws_client, prefect_client
from stack.demo import batch_runs, batch_source, read_result, upload
from stack.lifecycle import stop, up
from stack.settings import StackSettings, split_s3

BACKGROUND = Path("codiesp/background/background_en.jsonl")
STEPS = (
    "bridge",
    "trigger",
    "pickup",
    "process",
    "discover",
    "ray start",
    "actor load",
    "coding",
    "rest",
)


def corpus(data_dir: Path, charts: int) -> dict[str, bytes]:
    """`charts` charts as `.txt` objects: the background set repeated, names made unique."""
    path = data_dir / BACKGROUND
    records = [json.loads(line) for line in path.open(encoding="utf-8")]
    chosen = itertools.islice(itertools.cycle(records), charts)
    return {
        f"{record['id']}~{n // len(records)}.txt": record["text"].encode("utf-8")
        for n, record in enumerate(chosen)
    }


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def land(settings: StackSettings, batch: str, charts: dict[str, bytes], marker: bool) -> float:
    """Upload in parallel (as a producer would); the time the last object (or marker) landed."""
    s3 = aws_client(settings, "s3")
    bucket, prefix = split_s3(batch_source(settings, batch))

    def put(item: tuple[str, bytes]) -> float:
        s3.put_object(Bucket=bucket, Key=f"{prefix}{item[0]}", Body=item[1])
        return time.time()

    with ThreadPoolExecutor(max_workers=8) as pool:
        last = max(pool.map(put, charts.items()))
    if marker:
        return upload(settings, batch, {}, marker=True)
    return last


def batch_event(settings: StackSettings, source: str) -> dict[str, Any]:
    """The bridge's `chartcoder.batch.ready` event for a batch."""
    bucket, prefix = split_s3(source)
    response = httpx.post(
        f"{settings.api_url}/events/filter",
        json={
            "filter": {
                "event": {"name": ["chartcoder.batch.ready"]},
                "resource": {"id": [f"chartcoder.batch.{bucket}.{prefix}"]},
            },
            "limit": 10,
        },
        timeout=30,
    )
    response.raise_for_status()
    events = response.json()["events"]
    if not events:
        raise RuntimeError(f"no batch event for {source}")
    return min(events, key=lambda e: e["occurred"])


def timestamp(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def measure(
    settings: StackSettings, charts: dict[str, bytes], marker: bool, timeout: float
) -> dict[str, Any]:
    batch = time.strftime(f"bench-{len(charts)}-%Y%m%d-%H%M%S")
    source = batch_source(settings, batch)
    landed = land(settings, batch, charts, marker)
    deadline = time.monotonic() + timeout
    run = None
    written = None
    while time.monotonic() < deadline:
        found = batch_runs(settings, source)
        run = found[0] if found else None
        if run is not None:
            if read_result(settings, run.parameters["destination"], "manifest.json"):
                written = time.time()
                break
            if run.state is not None and run.state.is_final():
                raise RuntimeError(f"run {run.id} ended {run.state.name}: {run.state.message}")
        time.sleep(0.2)
    if run is None or written is None:
        raise TimeoutError(f"no results for {source} after {timeout:.0f} s")
    manifest = json.loads(
        read_result(settings, run.parameters["destination"], "manifest.json") or b"{}"
    )
    event = batch_event(settings, source)
    with prefect_client(settings) as client:
        run = client.read_flow_run(run.id)
        history = client.read_flow_run_states(run.id)
    states = {s.type.value: s.timestamp.timestamp() for s in history}
    timings = manifest["timings"]
    occurred = timestamp(event["occurred"])
    created = run.created.timestamp()
    pending, running = states.get("PENDING", created), states["RUNNING"]
    # discovery and earlier results are read while Ray starts: only what outlasts it is on the
    # critical path; shards are planned before the actors load
    ray_start = timings.get("ray_start", 0.0)
    discover = max(
        0.0, max(timings.get("discover", 0.0), timings.get("read_previous", 0.0)) - ray_start
    ) + timings.get("plan", 0.0)
    inside = discover + sum(timings.get(k, 0.0) for k in ("ray_start", "actor_load", "coding"))
    steps = {
        "bridge": occurred - landed,
        "trigger": created - occurred,
        "pickup": pending - created,
        "process": running - pending,
        "discover": discover,
        "ray start": timings.get("ray_start", 0.0),
        "actor load": timings.get("actor_load", 0.0),
        "coding": timings.get("coding", 0.0),
        "rest": written - running - inside,
    }
    return {
        "charts": len(charts),
        "marker": marker,
        "reason": event["payload"]["reason"],
        "run": str(run.id),
        "state": run.state.name if run.state else None,
        "charts_coded": manifest.get("charts_coded"),
        "total": written - landed,
        "steps": {k: round(v, 2) for k, v in steps.items()},
    }


def report(result: dict[str, Any]) -> str:
    lines = [
        f"{result['charts']} charts ({result['reason']}): {result['total']:.1f} s from the last "
        f"upload to manifest.json; run {result['run']} {result['state']}, "
        f"{result['charts_coded']} coded"
    ]
    for step in STEPS:
        seconds = result["steps"][step]
        share = seconds / result["total"] * 100 if result["total"] else 0.0
        lines.append(f"  {step:<11} {seconds:7.2f} s {share:5.1f}%")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charts", type=int, nargs="+", default=[10, 1000])
    parser.add_argument("--no-marker", action="store_true", help="let the quiet period decide")
    parser.add_argument("--quiet-seconds", type=float, default=20.0)
    parser.add_argument("--poll-seconds", type=float, default=2.0)
    parser.add_argument("--data", default=os.environ.get("CHARTCODER_DATA", "../shared/data"))
    parser.add_argument("--timeout", type=float, default=3600.0, help="per batch")
    parser.add_argument("--keep-up", action="store_true", help="leave the stack running")
    args = parser.parse_args()

    sizes = {n: corpus(Path(args.data), n) for n in args.charts}
    state = Path(tempfile.mkdtemp(prefix="bench-events-"))
    prefect, s3, webhook = free_ports(3)
    settings = StackSettings(
        state_dir=state,
        prefect_port=prefect,
        s3_port=s3,
        webhook_port=webhook,
        quiet_seconds=args.quiet_seconds,
        poll_seconds=args.poll_seconds,
    )
    ray_tmp = None if os.environ.get("RAY_TMPDIR") else tempfile.mkdtemp(prefix="ccb-", dir="/tmp")
    if ray_tmp:  # short: Ray's socket paths have a length limit
        os.environ["RAY_TMPDIR"] = ray_tmp
    started = time.perf_counter()
    print(json.dumps(up(settings)), file=sys.stderr)
    print(f"stack up in {time.perf_counter() - started:.1f} s (state {state})")
    try:
        for charts in sizes.values():
            result = measure(settings, charts, not args.no_marker, args.timeout)
            print(report(result))
            print(json.dumps(result), flush=True)
    finally:
        if not args.keep_up:
            stop(state)
            shutil.rmtree(state, ignore_errors=True)
            if ray_tmp:
                shutil.rmtree(ray_tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
