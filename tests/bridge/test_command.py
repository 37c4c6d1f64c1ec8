"""The bridge command: `chartcoder bridge` flags, and the process (`python -m bridge`, as the local
stack starts it) surviving kill -9 and stopping on SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bridge.batching import batch_id
from cli.commands import parser
from tests.bridge.harness import (
    REGION,
    drained,
    prefect_events,
)


def test_cli_parses_the_bridge_command():
    args = parser().parse_args(
        ["bridge", "--queue-url", "http://q", "--landing", "s3://b/in", "--results", "s3://r/o"]
    )
    assert (args.command, args.quiet_seconds, args.marker) == ("bridge", 20.0, "_READY")
    with pytest.raises(SystemExit):
        parser().parse_args(["bridge", "--queue-url", "q", "--landing", "b/in", "--results", "x"])


@pytest.mark.usefixtures("prefect_api")
def test_cli_bridge_survives_kill_9_and_stops_on_sigterm(landing, tmp_path):
    from prefect.settings import PREFECT_API_URL

    landing.put("incoming/2026-11-26/chart-0001.txt")
    command = [
        sys.executable,
        "-m",
        "bridge",
        "--queue-url",
        landing.queue_url,
        "--landing",
        f"s3://{landing.bucket}/incoming/",
        "--results",
        "s3://results-bucket/results",
        "--dead-letter-queue-url",
        landing.dlq_url,
        "--quiet-seconds",
        "2",
        "--state-dir",
        str(tmp_path / "state"),
        "--endpoint-url",
        landing.endpoint,
        "--region",
        REGION,
        "--visibility-timeout",
        "2",
        "--poll-seconds",
        "1",
    ]
    env = {
        **os.environ,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }

    def start(log: Path) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"), cwd=Path.cwd()
        )

    def wait_for(condition: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.1)

    killed = start(tmp_path / "killed.log")
    wait_for(lambda: landing.counts() == (0, 1), timeout=10)  # the chart's message is held
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=5)
    assert not (tmp_path / "state" / "state.json").exists()  # killed mid-batch

    log = tmp_path / "bridge.log"
    bridge = start(log)
    try:
        wait_for(lambda: drained(landing), timeout=15)
        bridge.send_signal(signal.SIGTERM)
        assert bridge.wait(timeout=5) == 0
    finally:
        if bridge.poll() is None:
            bridge.kill()
    text = log.read_text()
    assert f"batch s3://{landing.bucket}/incoming/2026-11-26/ generation 1: 1 objects" in text
    assert "chart-0001" not in text  # keys stay out of logs at INFO
    assert "bridge stopped" in text
    [event] = prefect_events(landing.bucket, expected=1)
    assert event["id"] == str(batch_id(landing.bucket, "incoming/2026-11-26/", 1))
    assert event["payload"]["results"] == "s3://results-bucket/results/incoming/2026-11-26/"
