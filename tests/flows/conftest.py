"""Session-wide real components for the pipeline tests: built artefacts, a Prefect API, charts.

- artefacts: the session build of tests/conftest.py (fixture data), shared with the engine tests;
- Prefect: `prefect_api` in tests/conftest.py (shared with the bridge tests);
- Ray: each test starts its own cluster with session folders under a short temporary folder,
  and `no_ray_left` checks that none of its processes outlives the test.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nlp.artifacts import Bundle


@pytest.fixture(scope="session")
def built(fixture_build: Bundle) -> Bundle:
    """The session's artefacts (tests/conftest.py builds them once from the fixture data)."""
    return fixture_build


# The Ray session folders this test session made (`ray_tmp`). A Ray process is another run's
# (a benchmark, a test run in another checkout) when it or an ancestor names another Ray session
# folder before one of ours or this process; any other Ray process, orphans included, counts.
_SESSION_FOLDERS: set[str] = set()
_RAY_FOLDERS = re.compile(r"/tmp/(?:ccray-[^/\s]+|ray)/")


def _processes() -> dict[int, tuple[int, str]]:
    """Live (non-zombie) processes: pid -> (parent pid, command line)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            found[int(entry.name)] = (int(fields[1]), cmdline)
    return found


def _is_ray(cmdline: str) -> bool:
    return (
        cmdline.startswith("ray::")
        or "raylet" in cmdline
        or "gcs_server" in cmdline
        or "ray/dashboard" in cmdline
        or "ray/_private" in cmdline
        or "ray/autoscaler" in cmdline
    )


def _ray_pids() -> dict[int, str]:
    """Live Ray processes that are not another run's: pid -> command line."""
    processes = _processes()
    me = os.getpid()

    def ours(pid: int) -> bool:
        seen = set()
        while pid in processes and pid not in seen:
            seen.add(pid)
            parent, cmdline = processes[pid]
            if pid == me or any(folder in cmdline for folder in _SESSION_FOLDERS):
                return True
            if _RAY_FOLDERS.search(cmdline):
                return False
            pid = parent
        return True

    return {
        pid: cmdline for pid, (_, cmdline) in processes.items() if _is_ray(cmdline) and ours(pid)
    }


@pytest.fixture
def ray_tmp() -> Iterator[str]:
    """A short folder for Ray's session files (Unix socket paths must stay short)."""
    folder = tempfile.mkdtemp(prefix="ccray-", dir="/tmp")
    _SESSION_FOLDERS.add(folder)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def no_ray_left() -> Iterator[None]:
    """Fails the test if a Ray process started during it is still alive afterwards."""
    before = set(_ray_pids())
    yield
    deadline = time.monotonic() + 20
    while True:
        left = {p: c for p, c in _ray_pids().items() if p not in before}
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not left, f"Ray processes left after the run: {left}"
