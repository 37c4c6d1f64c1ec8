"""`up`, `stop` and `status` of the local stack, and the processes it runs.

`up` starts the server, S3 and the webhook, provisions (`stack.provisioning`), starts the worker
and the bridge, and waits until every part is healthy; a part already running with the same
command is kept, one that is not running (a crashed bridge) is started again. `stop` stops what
the pid files name, after checking that each pid still runs the command `up` started, with its
whole process tree (flow runs and Ray included).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from stack.health import healthy, wait_healthy
from stack.parts import PARTS, STOP_ORDER, parts
from stack.processes import StackFolder, check_port, descendants, is_alive, start_part, stop_tree
from stack.provisioning import provision_aws, set_up_prefect
from stack.settings import StackSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PartStatus:
    name: str
    running: bool
    pid: int | None
    port: int | None
    healthy: bool


def _running_settings(folder: StackFolder) -> StackSettings | None:
    """The settings of a stack of which some part still runs."""
    data = folder.read()
    if not data:
        return None
    argvs = data.get("parts", {})
    if any(folder.running(name, argvs.get(name)) for name in PARTS):
        return StackSettings.from_json(data["settings"])
    return None


def up(settings: StackSettings, timeout: float = 240.0) -> dict[str, str]:
    """Start what is not running, set it up, wait until every part is healthy."""
    folder = StackFolder(settings.state_dir)
    with folder.locked():
        current = _running_settings(folder)
        if current is not None and current != settings:
            changed = {k: v for k, v in current.to_json().items() if settings.to_json().get(k) != v}
            log.warning("a stack already runs in %s with %s: using it", folder.path, changed)
            settings = current
        record = folder.read() or {}
        argvs: dict[str, list[str]] = dict(record.get("parts", {}))
        queue_urls: tuple[str, str] | None = None
        if record.get("queues"):
            queue_urls = (record["queues"][0], record["queues"][1])
        all_parts = {p.name: p for p in parts(settings, queue_urls)}

        def ensure(names: tuple[str, ...]) -> set[str]:
            started = set()
            for name in names:
                part = all_parts[name]
                pid = folder.running(name, argvs.get(name))
                if pid is not None and argvs.get(name) == part.argv:
                    continue
                if pid is not None:  # runs with other settings
                    stop_tree(pid, 15)
                start_part(folder, part, settings.project_dir)
                argvs[name] = part.argv
                started.add(name)
                save()
            for name in names:
                wait_healthy(settings, folder, all_parts[name], timeout)
            return started

        def save() -> None:
            folder.write(
                {
                    "settings": settings.to_json(),
                    "parts": argvs,
                    "queues": list(queue_urls) if queue_urls else None,
                    "set_up_for": record.get("set_up_for"),
                }
            )

        for name, part in all_parts.items():  # fail before starting anything
            if folder.running(name, argvs.get(name)) is None:
                check_port(part)
        started = ensure(("server", "s3", "webhook"))
        if "s3" in started or queue_urls is None:
            queue_urls = provision_aws(settings)
            all_parts = {p.name: p for p in parts(settings, queue_urls)}
        server_pid = folder.pid("server")
        if "server" in started or record.get("set_up_for") != server_pid:
            set_up_prefect(settings, folder)
            record["set_up_for"] = server_pid
        save()
        ensure(("worker", "bridge"))
        save()
    return settings.info()


def stop(settings_dir: Path, timeout: float = 15.0) -> list[str]:
    """Stop every part `up` started that still runs; the names of those stopped."""
    folder = StackFolder(settings_dir)
    stopped = []
    with folder.locked():
        data = folder.read() or {}
        argvs = data.get("parts", {})
        for name in STOP_ORDER:
            pid = folder.running(name, argvs.get(name))
            if pid is not None:
                log.info("stopping %s (pid %d)", name, pid)
                stop_tree(pid, timeout)
                stopped.append(name)
            elif (other := folder.pid(name)) is not None and is_alive(other):
                log.warning("%s: pid %d now runs another program: left alone", name, other)
            folder.pid_file(name).unlink(missing_ok=True)
    return stopped


def status(state_dir: Path) -> list[PartStatus]:
    folder = StackFolder(state_dir)
    data = folder.read()
    if not data:
        return [PartStatus(name, False, None, None, False) for name in PARTS]
    settings = StackSettings.from_json(data["settings"])
    ports = {
        "server": settings.prefect_port,
        "s3": settings.s3_port,
        "webhook": settings.webhook_port,
    }
    report = []
    for name in PARTS:
        pid = folder.running(name, data.get("parts", {}).get(name))
        started = folder.pid_file(name).stat().st_mtime if pid else 0.0
        report.append(
            PartStatus(
                name,
                pid is not None,
                pid,
                ports.get(name),
                pid is not None and healthy(settings, name, started, pid),
            )
        )
    return report


def flow_run_processes(state_dir: Path) -> list[int]:
    """The worker's live flow-run processes (everything below it; an idle worker has none)."""
    folder = StackFolder(state_dir)
    data = folder.read() or {}
    pid = folder.running("worker", data.get("parts", {}).get("worker"))
    return descendants(pid) if pid is not None else []


def stack_processes(state_dir: Path) -> list[int]:
    """Every live process of the stack: the parts and their descendants."""
    folder = StackFolder(state_dir)
    data = folder.read() or {}
    found: list[int] = []
    for name in PARTS:
        pid = folder.running(name, data.get("parts", {}).get(name))
        if pid is not None:
            found += [pid, *descendants(pid)]
    return found
