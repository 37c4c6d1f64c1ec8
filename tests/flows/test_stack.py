"""The stack's configuration and process handling, without servers (seconds, not minutes).

prefect.yaml and the automation files are checked the way Prefect reads them; settings, the
webhook receiver, pid checks and process-tree stops are checked on their own. The
running stack (`up` twice, `status`, `down`) is tested in test_event_chain.py, which starts one.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import jinja2
import pytest
import yaml

from flows.bridge import Batch, S3Url, batch_event
from flows.stack import (
    PROJECT_DIR,
    StackError,
    StackFolder,
    StackSettings,
    automation_files,
    flow_run_processes,
    is_alive,
    parts,
    render_automation,
    runs,
    stack_dir,
    status,
    stop,
    stop_tree,
    up,
)
from tests.servers import free_ports

PREFECT_YAML = PROJECT_DIR / "prefect.yaml"


def chartcoder(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_prefect_yaml_deploys_code_charts_on_the_batch_event() -> None:
    from prefect.cli.deploy._triggers import _initialize_deployment_triggers

    config = yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))
    (deployment,) = config["deployments"]
    assert deployment["name"] == "code-charts"
    assert deployment["entrypoint"] == "flows/code_charts.py:code_charts"
    assert deployment["work_pool"]["name"] == "chartcoder"
    (step,) = config["pull"]
    assert step["prefect.deployments.steps.set_working_directory"] == {
        "directory": "{{ $CHARTCODER_PROJECT_DIR }}"
    }
    (trigger,) = _initialize_deployment_triggers("code-charts", deployment["triggers"])
    assert trigger.expect == {"chartcoder.batch.ready"}
    assert trigger.match.model_dump() == {"prefect.resource.id": "chartcoder.batch.*"}

    # the parameters rendered from the event the bridge sends
    batch = Batch("landing", "incoming/2026-11-26/", generation=1, objects=3, reason="marker")
    event = batch_event(batch, S3Url.parse("s3://results/out"), datetime.now(UTC))
    rendered = {
        name: jinja2.Template(template).render(event=event)
        for name, template in deployment["triggers"][0]["parameters"].items()
    }
    assert rendered == {
        "source": "s3://landing/incoming/2026-11-26/",
        "destination": "s3://results/out/incoming/2026-11-26/",
    }
    assert not rendered["destination"].startswith(rendered["source"])
    # the deployment's own parameters are valid parameters of the flow
    from flows.code_charts import code_charts

    parameters = code_charts.validate_parameters({**rendered, **deployment["parameters"]})
    options = parameters["options"]
    assert (options.workers, options.setting, options.convention) == (2, "outpatient", "us")


def test_the_automation_files_are_valid_automations_once_the_block_is_filled_in() -> None:
    from prefect.events.actions import SendNotification
    from prefect.events.schemas.automations import AutomationCore, EventTrigger

    files = automation_files()
    assert {f.name for f in files} == {"notify-completed.yaml", "notify-failed.yaml"}
    block = uuid.uuid4()
    expected = {
        "chartcoder-run-completed": {"prefect.flow-run.Completed"},
        "chartcoder-run-failed": {
            "prefect.flow-run.Failed",
            "prefect.flow-run.Crashed",
            "prefect.flow-run.TimedOut",
        },
    }
    for path in files:
        assert "${notify_block_id}" in path.read_text()
        automation = AutomationCore.model_validate(
            yaml.safe_load(render_automation(path, str(block)))
        )
        assert isinstance(automation.trigger, EventTrigger)
        assert automation.trigger.expect == expected[automation.name]
        assert automation.trigger.match_related.model_dump() == {  # type: ignore[union-attr]
            "prefect.resource.role": "flow",
            "prefect.resource.name": "code-charts",
        }
        (action,) = automation.actions
        assert isinstance(action, SendNotification) and action.block_document_id == block
        for template in (action.subject, action.body):
            jinja2.Environment().parse(template)  # the server renders them with Jinja


def test_settings_come_from_flags_then_environment_then_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHARTCODER_CACHE", str(tmp_path / "cache"))
    for name in ("CHARTCODER_S3_PORT", "CHARTCODER_WEBHOOK_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CHARTCODER_STACK_DIR", raising=False)
    monkeypatch.setenv("CHARTCODER_PREFECT_PORT", "5999")
    assert stack_dir() == tmp_path / "cache" / "stack"
    monkeypatch.setenv("CHARTCODER_STACK_DIR", str(tmp_path / "elsewhere"))
    settings = StackSettings.resolve(None, s3_port=6001, quiet_seconds=None)
    assert settings.state_dir == tmp_path / "elsewhere"
    assert (settings.prefect_port, settings.s3_port, settings.webhook_port) == (5999, 6001, 4272)
    assert settings.quiet_seconds == 20.0
    assert StackSettings.from_json(settings.to_json()) == settings
    bridge = parts(settings)[-1]
    assert bridge.argv[bridge.argv.index("--quiet-seconds") + 1] == "20"
    assert "--visibility-timeout" not in bridge.argv


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"results": "s3://chartcoder-landing/incoming/out"}, "overlaps landing"),
        ({"landing": "s3://bucket"}, "expected s3://bucket/prefix"),
        ({"s3_port": 4270}, "must differ"),
        ({"prefect_port": 70000}, "1-65535"),
        ({"quiet_seconds": 0}, "positive"),
    ],
)
def test_settings_refuse_what_cannot_work(
    tmp_path: Path, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        StackSettings(state_dir=tmp_path, **overrides)  # type: ignore[arg-type]


def test_settings_refuse_a_folder_that_is_not_a_checkout(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a chartcoder checkout"):
        StackSettings.resolve(tmp_path / "stack", project_dir=tmp_path)


def test_status_reads_the_record_of_a_stack_from_a_removed_checkout(tmp_path: Path) -> None:
    # the stack folder is per user: a checkout that started a stack may be gone since
    record = StackSettings(state_dir=tmp_path, project_dir=tmp_path / "removed").to_json()
    StackFolder(tmp_path).write({"settings": record, "parts": {}})
    assert not any(part.running for part in status(tmp_path))


def test_down_and_status_with_nothing_running(tmp_path: Path) -> None:
    done = chartcoder("down", "--state-dir", str(tmp_path / "never-started"))
    assert done.returncode == 0 and "nothing was running" in done.stderr
    shown = chartcoder("status", "--state-dir", str(tmp_path / "never-started"), "--json")
    assert shown.returncode == 3
    report = json.loads(shown.stdout)
    assert [p["name"] for p in report] == ["server", "s3", "webhook", "worker", "bridge"]
    assert not any(p["running"] or p["healthy"] for p in report)


@pytest.mark.parametrize("taken_by", ["prefect_port", "webhook_port"])
def test_up_refuses_a_taken_port_and_starts_nothing(tmp_path: Path, taken_by: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ports = dict(zip(("prefect_port", "s3_port", "webhook_port"), free_ports(3), strict=True))
        settings = StackSettings(state_dir=tmp_path, **{**ports, taken_by: port})
        option = taken_by.removesuffix("_port")
        with pytest.raises(StackError, match=f"port {port} .* taken .* --{option}-port"):
            up(settings)
    assert not list(tmp_path.glob("*.pid"))
    assert not any(s.running for s in status(tmp_path))


IGNORES_SIGTERM = textwrap.dedent(
    """
    import signal, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if len(sys.argv) == 1:  # the parent starts a child in its own session, as Ray does
        subprocess.Popen([sys.executable, __file__, "child"], start_new_session=True)
    print("ready", flush=True)
    time.sleep(600)
    """
)


@pytest.fixture
def stubborn_tree(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    script = tmp_path / "stubborn.py"
    script.write_text(IGNORES_SIGTERM)
    process = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert process.stdout is not None and process.stdout.readline() == "ready\n"
    yield process
    process.kill()
    process.wait()


def test_stop_tree_kills_a_tree_that_ignores_sigterm(
    stubborn_tree: subprocess.Popen[str],
) -> None:
    from flows.stack import descendants

    deadline = time.monotonic() + 10
    while not (tree := descendants(stubborn_tree.pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    (child,) = tree
    started = time.monotonic()
    stop_tree(stubborn_tree.pid, timeout=1.0)
    stubborn_tree.wait(timeout=5)
    assert time.monotonic() - started < 8
    deadline = time.monotonic() + 5
    while is_alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not is_alive(child)


def test_flow_run_processes_are_the_workers_children(tmp_path: Path) -> None:
    worker_argv = [
        sys.executable,
        "-c",
        "import subprocess, sys, time; subprocess.Popen(['sleep', sys.argv[1]]); time.sleep(30)",
        "1",
    ]
    worker = subprocess.Popen(worker_argv)
    try:
        folder = StackFolder(tmp_path)
        settings = StackSettings(state_dir=tmp_path)
        folder.write({"settings": settings.to_json(), "parts": {"worker": worker_argv}})
        folder.pid_file("worker").write_text(f"{worker.pid}\n")
        deadline = time.monotonic() + 10
        while not flow_run_processes(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(flow_run_processes(tmp_path)) == 1  # the `sleep 1` below the worker
        deadline = time.monotonic() + 10
        while flow_run_processes(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert flow_run_processes(tmp_path) == []  # it exited; the worker runs on
        assert worker.poll() is None
    finally:
        worker.kill()
        worker.wait()
    assert flow_run_processes(tmp_path) == []


def test_down_leaves_alone_a_pid_that_now_runs_another_program(tmp_path: Path) -> None:
    other = subprocess.Popen(["sleep", "60"])
    try:
        folder = StackFolder(tmp_path)
        settings = StackSettings(state_dir=tmp_path)
        folder.write(
            {
                "settings": settings.to_json(),
                "parts": {"bridge": [sys.executable, "-m", "cli", "bridge"]},
            }
        )
        folder.pid_file("bridge").write_text(f"{other.pid}\n")
        assert not runs(other.pid, [sys.executable, "-m", "cli", "bridge"])
        assert stop(tmp_path) == []
        assert other.poll() is None  # still running
        assert not folder.pid_file("bridge").exists()
    finally:
        other.kill()
        other.wait()


def test_the_webhook_receiver_appends_what_the_notification_block_sends(tmp_path: Path) -> None:
    import httpx
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    (port,), target = free_ports(1), tmp_path / "notifications.jsonl"
    receiver = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flows.stack",
            "receive",
            "--port",
            str(port),
            "--file",
            str(target),
        ],
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.2)
        block = CustomWebhookNotificationBlock(
            name="chartcoder",
            url=f"http://127.0.0.1:{port}/notify",
            json_data={"subject": "{{subject}}", "body": "{{body}}"},
        )
        block.notify("run 1 completed: 3 charts", subject="chartcoder run completed")
        (line,) = target.read_text().splitlines()
        assert json.loads(line)["message"] == {
            "subject": "chartcoder run completed",
            "body": "run 1 completed: 3 charts",
        }
    finally:
        receiver.send_signal(signal.SIGTERM)
        receiver.wait(timeout=10)
    assert receiver.returncode == 0


def test_example_charts_are_one_batch_with_each_charts_setting(tmp_path):
    from flows.demo import example_charts

    (tmp_path / "inpatient").mkdir()
    (tmp_path / "outpatient").mkdir()
    (tmp_path / "inpatient" / "a.txt").write_text("Assessment: probable pneumonia.\n")
    (tmp_path / "outpatient" / "b.txt").write_text("Assessment: hypertension.\n")
    files = example_charts(tmp_path)
    assert list(files) == ["examples.jsonl"]
    records = [json.loads(line) for line in files["examples.jsonl"].decode().splitlines()]
    assert [(r["id"], r["setting"]) for r in records] == [
        ("inpatient/a", "inpatient"),
        ("outpatient/b", "outpatient"),
    ]
    assert records[0]["text"] == "Assessment: probable pneumonia.\n"
