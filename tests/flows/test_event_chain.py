"""The whole event chain on real servers on loopback, started by `chartcoder up`.

S3 upload -> moto's notification -> SQS -> bridge -> `chartcoder.batch.ready` -> deployment trigger
-> process worker -> code-charts (Ray) -> results in S3 -> automations -> webhook notification.

One stack for the module (temporary folder, free ports, the session's fixture artefacts, quiet
period 3 s, worker polling 1 s); each test lands its own batch and checks what came out:
exactly one automation-created run per batch, every chart in `charts.jsonl`, bad charts in the
manifest with their reason, no second run for replayed notifications or after a bridge crash,
runs on one prefix serialised by its concurrency limit, and nothing left running after `down`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from flows.location_lock import lock_name
from flows.sources import Location
from nlp.artifacts import Bundle
from stack.clients import aws_client, prefect_client
from stack.demo import EXAMPLES, batch_runs, batch_source, read_result, records, upload
from stack.lifecycle import stack_processes
from stack.processes import is_alive
from stack.settings import StackSettings, split_s3
from stack.webhook import read_notifications
from tests.servers import free_ports

QUIET = 3.0
POLL = 1.0
VISIBILITY = 4  # the bridge's SQS visibility timeout: a killed bridge's messages return soon
RUN_TIMEOUT = 240.0

CHARTS = {path.name: path.read_bytes() for path in sorted(EXAMPLES.rglob("*.txt"))}


@dataclass
class Stack:
    settings: StackSettings
    info: dict[str, str]
    argv: list[str]
    env: dict[str, str]
    ray_tmp: str

    def chartcoder(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def up(self) -> dict[str, str]:
        done = self.chartcoder(*self.argv)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, fixture_build: Bundle) -> Iterator[Stack]:
    state = tmp_path_factory.mktemp("stack")
    ray_tmp = tempfile.mkdtemp(prefix="ccev-", dir="/tmp")  # Ray's socket paths must stay short
    prefect, s3, webhook = free_ports(3)
    env = {
        **os.environ,
        "CHARTCODER_CACHE": str(fixture_build.path.parents[1]),
        "RAY_TMPDIR": ray_tmp,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    argv = [
        *("up", "--state-dir", str(state)),
        *("--prefect-port", str(prefect), "--s3-port", str(s3), "--webhook-port", str(webhook)),
        *("--quiet-seconds", str(QUIET), "--poll-seconds", str(POLL)),
        *("--visibility-seconds", str(VISIBILITY)),
    ]
    started = Stack(StackSettings.resolve(state), {}, argv, env, ray_tmp)
    try:
        started.info = started.up()
        data = json.loads((state / "stack.json").read_text())
        started.settings = StackSettings.from_json(data["settings"])
        yield started
    finally:
        started.chartcoder("down", "--state-dir", str(state))
        shutil.rmtree(ray_tmp, ignore_errors=True)


def wait_for(condition: Any, timeout: float, what: str, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def run_notifications(settings: StackSettings, run_id: Any) -> list[dict[str, Any]]:
    """The notification messages the stack's automations sent about one flow run."""
    return [
        n["message"] for n in read_notifications(settings) if str(run_id) in n["message"]["body"]
    ]


def finished_runs(stack: Stack, source: str, count: int = 1) -> list[Any]:
    def done() -> list[Any] | None:
        found = batch_runs(stack.settings, source)
        final = [r for r in found if r.state is not None and r.state.is_final()]
        return found if len(found) >= count and len(final) == len(found) else None

    return wait_for(done, RUN_TIMEOUT, f"{count} finished run(s) for {source}", every=1.0)


def queue_counts(stack: Stack) -> tuple[int, int]:
    sqs = aws_client(stack.settings, "sqs")
    url = sqs.get_queue_url(QueueName=stack.settings.queue_name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def chart_ids(names: list[str]) -> list[str]:
    return sorted(name.removesuffix(".txt") for name in names)


def test_up_prints_where_everything_is_and_every_part_is_healthy(stack: Stack) -> None:
    settings = stack.settings
    assert stack.info == {
        "prefect_api": settings.api_url,
        "prefect_ui": settings.ui_url,
        "s3_endpoint": settings.s3_endpoint,
        "region": "us-east-1",
        "landing": "s3://chartcoder-landing/incoming",
        "results": "s3://chartcoder-results/results",
    }
    status = stack.chartcoder("status", "--state-dir", str(settings.state_dir), "--json")
    assert status.returncode == 0, status.stdout
    parts = {p["name"]: p for p in json.loads(status.stdout)}
    assert set(parts) == {"server", "s3", "webhook", "worker", "bridge"}
    assert all(p["running"] and p["healthy"] for p in parts.values()), parts
    for name in parts:
        assert (settings.state_dir / f"{name}.pid").is_file()
        assert (settings.state_dir / "logs" / f"{name}.log").is_file()
    with prefect_client(settings) as client:
        deployment = client.read_deployment_by_name("code-charts/code-charts")
        automations = {a.name for a in client.read_automations()}
    assert deployment.work_pool_name == "chartcoder"
    assert {"chartcoder-run-completed", "chartcoder-run-failed"} <= automations

    pids = {name: p["pid"] for name, p in parts.items()}
    assert stack.up() == stack.info  # a second `up` reports the running stack...
    again = stack.chartcoder("status", "--state-dir", str(settings.state_dir), "--json")
    assert {p["name"]: p["pid"] for p in json.loads(again.stdout)} == pids  # ...starting nothing


def test_a_batch_without_marker_runs_once_after_the_quiet_period(stack: Stack) -> None:
    settings = stack.settings
    names = sorted(CHARTS)[:3]
    source = batch_source(settings, "quiet")
    landed = upload(settings, "quiet", {n: CHARTS[n] for n in names})

    (run,) = finished_runs(stack, source)
    assert run.state.is_completed(), run.state.message
    assert run.created_by.type == "AUTOMATION"
    assert run.created.timestamp() - landed >= QUIET - 0.5  # it waited for the quiet period
    destination = run.parameters["destination"]
    assert destination == f"{settings.results}/incoming/quiet/"
    coded = records(settings, destination)
    assert [r["chart_id"] for r in coded] == chart_ids(names)
    assert all(r["error"] is None and r["codes"] for r in coded)
    manifest = json.loads(read_result(settings, destination, "manifest.json") or b"{}")
    assert manifest["charts_total"] == 3 and manifest["charts_failed"] == 0
    assert manifest["run_id"] == str(run.id)

    (message,) = wait_for(
        lambda: run_notifications(settings, run.id), 30, "the completion notification"
    )
    assert message["subject"] == f"chartcoder run completed: {run.name}"
    assert f"{source} -> {destination}" in message["body"]
    time.sleep(QUIET + 2 * POLL)  # nothing else comes of this batch
    assert len(batch_runs(settings, source)) == 1


def test_a_marked_batch_runs_at_once_and_reports_unreadable_charts(stack: Stack) -> None:
    settings = stack.settings
    names = sorted(CHARTS)[3:5]
    batch = {n: CHARTS[n] for n in names}
    batch["blank.txt"] = b""
    batch["scan.txt"] = b"%PDF-1.4\x00\x01\x02\xff binary"
    source = batch_source(settings, "marked")
    landed = upload(settings, "marked", batch, marker=True)

    (run,) = finished_runs(stack, source)
    assert run.state.is_completed(), run.state.message
    assert run.created_by.type == "AUTOMATION"
    assert run.created.timestamp() - landed < QUIET  # the marker did not wait for quiet
    coded = records(settings, run.parameters["destination"])
    assert [r["chart_id"] for r in coded] == chart_ids(list(batch))
    manifest = json.loads(read_result(settings, run.parameters["destination"], "manifest.json"))
    assert manifest["charts_total"] == 4 and manifest["charts_failed"] == 2
    assert {e["chart_id"]: e["reason"] for e in manifest["errors"]} == {
        "blank": "empty chart: no text to code",
        "scan": "binary content (NUL bytes): not a text chart",
    }


def test_a_killed_bridge_loses_no_chart_and_replayed_notifications_run_nothing(
    stack: Stack,
) -> None:
    settings = stack.settings
    names = sorted(CHARTS)
    first, second = names[:2], names[2:4]
    source = batch_source(settings, "crash")
    bridge = int((settings.state_dir / "bridge.pid").read_text())

    upload(settings, "crash", {n: CHARTS[n] for n in first})
    wait_for(
        lambda: queue_counts(stack) == (0, len(first)), 30, "the bridge to hold them", every=0.1
    )
    os.kill(bridge, signal.SIGKILL)  # mid-batch: held, not yet announced
    wait_for(lambda: not is_alive(bridge), 10, "the bridge to die")
    upload(settings, "crash", {n: CHARTS[n] for n in second}, marker=True)
    messages = len(first) + len(second) + 1
    # the dead bridge's messages come back after the visibility timeout
    wait_for(lambda: queue_counts(stack) == (messages, 0), 30, "every message to be visible")
    sqs = aws_client(settings, "sqs")
    queue_url = sqs.get_queue_url(QueueName=settings.queue_name)["QueueUrl"]
    peeked = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=1
    )["Messages"]
    bodies = sorted({m["Body"] for m in peeked})
    assert len(bodies) == messages

    assert stack.up() == stack.info  # a second `up` restarts the bridge and prints the same line
    assert int((settings.state_dir / "bridge.pid").read_text()) != bridge

    (run,) = finished_runs(stack, source)
    assert run.state.is_completed(), run.state.message
    destination = run.parameters["destination"]
    assert [r["chart_id"] for r in records(settings, destination)] == chart_ids(first + second)

    for body in bodies:  # S3 delivers at least once: the same notifications again
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    wait_for(lambda: queue_counts(stack) == (0, 0), 30, "the bridge to settle the replays")
    time.sleep(QUIET + 3 * POLL)
    assert len(batch_runs(settings, source)) == 1
    coded = records(settings, destination)
    assert [r["chart_id"] for r in coded] == chart_ids(first + second)  # no duplicate records


def test_a_second_run_on_a_prefix_waits_for_the_first_and_a_failure_is_notified(
    stack: Stack,
) -> None:
    """A run holds its prefix's concurrency limit: here the test holds it, the triggered run
    waits, then runs on an empty prefix and fails (no charts), which the automation reports."""
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.concurrency.sync import concurrency
    from prefect.exceptions import ObjectAlreadyExists
    from prefect.settings import PREFECT_API_URL, temporary_settings

    settings = stack.settings
    bucket, prefix = split_s3(batch_source(settings, "empty"))
    source = f"s3://{bucket}/{prefix}"
    destination = f"{settings.results}/{prefix}"
    names = sorted({lock_name(Location.parse(source)), lock_name(Location.parse(destination))})
    with prefect_client(settings) as client:
        for name in names:
            with contextlib.suppress(ObjectAlreadyExists):
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=1)
                )

    event = {
        "id": str(uuid.uuid4()),
        "occurred": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "event": "chartcoder.batch.ready",
        "resource": {"prefect.resource.id": f"chartcoder.batch.{bucket}.{prefix}"},
        "payload": {
            "bucket": bucket,
            "prefix": prefix,
            "results": destination,
            "objects": 0,
            "generation": 1,
            "reason": "marker",
        },
    }
    with temporary_settings({PREFECT_API_URL: settings.api_url}):
        with concurrency(names, occupy=1, strict=True):
            response = httpx.post(f"{settings.api_url}/events", json=[event], timeout=10)
            assert response.status_code == 204
            run = wait_for(
                lambda: [
                    r for r in batch_runs(settings, source) if r.state and r.state.is_running()
                ],
                60,
                "the run to start",
            )[0]
            time.sleep(3 * POLL + 2)
            with prefect_client(settings) as client:
                assert client.read_flow_run(run.id).state.is_running()  # waiting for the slot
        (run,) = finished_runs(stack, source)
    assert run.state.is_failed()
    assert "no charts" in (run.state.message or "")
    with prefect_client(settings) as client:
        for name in names:
            assert client.read_global_concurrency_limit_by_name(name).active_slots == 0

    (message,) = wait_for(
        lambda: run_notifications(settings, run.id), 30, "the failure notification"
    )
    assert message["subject"] == f"chartcoder run failed: {run.name}"
    assert "no charts" in message["body"]


def test_down_stops_every_process_it_started_and_twice_is_harmless(stack: Stack) -> None:
    settings = stack.settings
    processes = stack_processes(settings.state_dir)
    assert len(processes) >= 5

    done = stack.chartcoder("down", "--state-dir", str(settings.state_dir))
    assert done.returncode == 0, done.stderr
    left = [pid for pid in processes if is_alive(pid)]
    assert not left, f"stack processes left after down: {left}"
    assert not _processes_mentioning(settings.state_dir, stack.ray_tmp)

    again = stack.chartcoder("down", "--state-dir", str(settings.state_dir))
    assert again.returncode == 0 and "nothing was running" in again.stderr
    status = stack.chartcoder("status", "--state-dir", str(settings.state_dir), "--json")
    assert status.returncode == 3
    assert not any(p["running"] for p in json.loads(status.stdout))


def _processes_mentioning(*paths: str | Path) -> list[int]:
    """Live processes whose command line names one of `paths` (the stack's or Ray's folders)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if any(str(p) in cmdline for p in paths) and is_alive(int(entry.name)):
            found.append(int(entry.name))
    return found
