"""The stack's processes: start a part detached with a pid file and a log file, tell whether a
pid still runs the command it was started with, and stop a process with its whole tree.

Process trees are read from /proc (Linux): a Prefect worker's flow runs and Ray's processes are
descendants of the part, some in sessions of their own.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stack.settings import HOST, PORT_ENVS

log = logging.getLogger(__name__)


class StackError(RuntimeError):
    """A part did not start or become healthy; the message names it and its log file."""


@dataclass(frozen=True, slots=True)
class Part:
    """One process of the stack: its command line, its environment and its port, if any."""

    name: str
    argv: list[str]
    env: dict[str, str]
    port: int | None


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, parent pid) of a live process, None when there is no such process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[1])


def cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.decode(errors="replace").split("\0")[:-1] if raw else None


def is_alive(pid: int) -> bool:
    stat = _proc_stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def runs(pid: int, argv: list[str]) -> bool:
    """Whether `pid` is alive and still the process started with `argv` (not a reused pid)."""
    return is_alive(pid) and cmdline(pid) == argv


def descendants(pid: int) -> list[int]:
    """Every live process below `pid`, children before grandchildren."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _proc_stat(int(entry.name))
            if stat is not None and stat[0] not in ("Z", "X"):
                children.setdefault(stat[1], []).append(int(entry.name))
    found: list[int] = []
    frontier = [pid]
    while frontier:
        below = [c for p in frontier for c in children.get(p, [])]
        found.extend(below)
        frontier = below
    return found


def _signal(pids: list[int], sig: signal.Signals) -> None:
    """`sig` to each process and to each process group they lead (never our own group)."""
    own = os.getpgrp()
    groups = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            groups.add(os.getpgid(pid))
    for group in groups - {own}:
        with contextlib.suppress(OSError):
            os.killpg(group, sig)
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, sig)


def stop_tree(pid: int, timeout: float) -> None:
    """SIGTERM the process, its group and its descendants; SIGKILL what is left after `timeout`
    (a Prefect worker may ignore SIGTERM while it has runs; Ray's processes are descendants)."""
    tree = [pid, *descendants(pid)]
    _signal(tree, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tree = list(dict.fromkeys([*tree, *descendants(pid)]))
        if not any(is_alive(p) for p in tree):
            return
        time.sleep(0.2)
    left = [p for p in dict.fromkeys([*tree, *descendants(pid)]) if is_alive(p)]
    log.warning("%d processes ignored SIGTERM for %.0f s: SIGKILL", len(left), timeout)
    _signal(left, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(is_alive(p) for p in left) and time.monotonic() < deadline:
        time.sleep(0.1)


class StackFolder:
    """The stack's state: settings, one pid file and one log file per part."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def config(self) -> Path:
        return self.path / "stack.json"

    def pid_file(self, part: str) -> Path:
        return self.path / f"{part}.pid"

    def log_file(self, part: str) -> Path:
        return self.path / "logs" / f"{part}.log"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One `up` or `down` at a time on this folder."""
        self.path.mkdir(parents=True, exist_ok=True)
        with (self.path / ".lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def read(self) -> dict[str, Any] | None:
        if not self.config.is_file():
            return None
        return json.loads(self.config.read_text(encoding="utf-8"))

    def write(self, data: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        temp = self.config.with_suffix(".tmp")
        temp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(temp, self.config)

    def pid(self, part: str) -> int | None:
        try:
            return int(self.pid_file(part).read_text().strip())
        except (OSError, ValueError):
            return None

    def running(self, part: str, argv: list[str] | None) -> int | None:
        """The part's pid if it runs the command recorded for it."""
        pid = self.pid(part)
        if pid is None or argv is None:
            return None
        return pid if runs(pid, argv) else None


def _free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def check_port(part: Part) -> None:
    if part.port is not None and not _free(part.port):
        option = "prefect" if part.name == "server" else part.name
        raise StackError(
            f"{part.name}: port {part.port} on {HOST} is taken by another program; choose "
            f"another with --{option}-port or {PORT_ENVS[f'{option}_port']}"
        )


def start_part(folder: StackFolder, part: Part, cwd: Path) -> int:
    check_port(part)
    logfile = folder.log_file(part.name)
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with logfile.open("ab") as out:
        out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {part.name} ===\n".encode())
        out.flush()
        process = subprocess.Popen(
            part.argv,
            env=part.env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    folder.pid_file(part.name).write_text(f"{process.pid}\n")
    log.info("started %s (pid %d), log %s", part.name, process.pid, logfile)
    return process.pid


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
