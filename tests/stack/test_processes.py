"""Process handling: a tree that ignores SIGTERM is stopped, a worker's flow runs are its
descendants.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack.lifecycle import flow_run_processes
from stack.processes import StackFolder, descendants, is_alive, stop_tree
from stack.settings import StackSettings

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
