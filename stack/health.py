"""When a part is healthy: its HTTP health answers (server, S3, webhook), the worker has sent a
heartbeat, the bridge holds the lock on its state folder."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from stack.clients import prefect_client
from stack.processes import Part, StackError, StackFolder, runs, tail
from stack.settings import HOST, WORK_POOL, WORKER_NAME, WORKER_SILENCE_SECONDS, StackSettings

log = logging.getLogger(__name__)


def _http_ok(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def worker_online(settings: StackSettings, since: float) -> bool:
    """The worker has sent a heartbeat since it was started."""
    try:
        with prefect_client(settings) as client:
            workers = client.read_workers_for_work_pool(WORK_POOL)
    except Exception as exc:  # the API is down or the pool is missing: not healthy
        log.debug("worker health: %s", exc)
        return False
    now = time.time()
    return any(
        w.name == WORKER_NAME
        and w.last_heartbeat_time is not None
        and w.last_heartbeat_time.timestamp() >= max(since - 1, now - WORKER_SILENCE_SECONDS)
        for w in workers
    )


def healthy(settings: StackSettings, name: str, started: float, pid: int | None) -> bool:
    if name == "server":
        return _http_ok(f"{settings.api_url}/health")
    if name == "s3":
        return _http_ok(f"{settings.s3_endpoint}/moto-api/data.json")
    if name == "webhook":
        return _http_ok(f"http://{HOST}:{settings.webhook_port}/health")
    if name == "worker":
        return worker_online(settings, started)
    return bridge_ready(settings, pid)


def bridge_ready(settings: StackSettings, pid: int | None) -> bool:
    """The bridge holds the lock on its state folder: its settings passed and it has started.
    Read from /proc/locks, so this check never takes the lock itself."""
    try:
        inode = (settings.state_dir / "bridge" / "lock").stat().st_ino
        table = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return False
    for line in table:
        fields = line.split()
        if len(fields) > 5 and fields[1] == "FLOCK" and fields[5].endswith(f":{inode}"):
            return pid is None or fields[4] == str(pid)
    return False


def wait_healthy(settings: StackSettings, folder: StackFolder, part: Part, timeout: float) -> None:
    pid = folder.pid(part.name)
    started = folder.pid_file(part.name).stat().st_mtime
    deadline = time.monotonic() + timeout
    while True:
        if pid is None or not runs(pid, part.argv):
            raise StackError(
                f"{part.name} exited while starting; the end of {folder.log_file(part.name)}:\n"
                f"{tail(folder.log_file(part.name))}"
            )
        if healthy(settings, part.name, started, pid):
            log.info("%s healthy", part.name)
            return
        if time.monotonic() > deadline:
            raise StackError(
                f"{part.name} not healthy after {timeout:.0f} s; the end of "
                f"{folder.log_file(part.name)}:\n{tail(folder.log_file(part.name))}"
            )
        time.sleep(0.5)
