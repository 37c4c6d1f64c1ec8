"""`up`, `down` and `status` without servers (seconds, not minutes). The running stack (`up`
twice, `status`, `down`) is tested in tests/flows/test_event_chain.py, which starts one.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from stack.lifecycle import status, stop, up
from stack.processes import StackError, StackFolder, runs
from stack.settings import StackSettings
from tests.servers import free_ports


def chartcoder(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


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


def test_down_leaves_alone_a_pid_that_now_runs_another_program(tmp_path: Path) -> None:
    other = subprocess.Popen(["sleep", "60"])
    try:
        folder = StackFolder(tmp_path)
        settings = StackSettings(state_dir=tmp_path)
        folder.write(
            {
                "settings": settings.to_json(),
                "parts": {"bridge": [sys.executable, "-m", "bridge"]},
            }
        )
        folder.pid_file("bridge").write_text(f"{other.pid}\n")
        assert not runs(other.pid, [sys.executable, "-m", "bridge"])
        assert stop(tmp_path) == []
        assert other.poll() is None  # still running
        assert not folder.pid_file("bridge").exists()
    finally:
        other.kill()
        other.wait()
