"""The event-driven stack on this machine, on loopback: `chartcoder up`, `down`, `status`.

    S3 (moto) --notification--> SQS --> bridge --chartcoder.batch.ready--> Prefect server
        --deployment trigger--> flow run --> process worker --> code-charts (Ray) --> results in S3
        --flow-run state event--> automations --> webhook block --> notifications.jsonl

Parts, started in this order, each a detached process (its own session) with a pid file and a
log file in the stack folder:

- `server`: `prefect server start` on SQLite in the stack folder;
- `s3`: moto's server, as S3 and SQS: the landing and results buckets, the queue and its
  dead-letter queue, and the landing bucket's notification (ObjectCreated under the landing
  prefix) are created by `up`;
- `webhook`: a loopback receiver that appends every notification it is sent to
  `notifications.jsonl` (the automations' notification block posts to it);
- `worker`: a process worker for the `chartcoder` pool, with the S3 endpoint, region and
  credentials in its environment (flow runs inherit them);
- `bridge`: `chartcoder bridge`, from the SQS queue to Prefect events.

Between the first three and the last two, `up` creates the work pool, deploys `prefect.yaml`
(`prefect --no-prompt deploy --all`), saves the notification block and creates the automations
in `deployments/`. It then waits until every part is healthy and prints one JSON line. `down`
stops what the pid files name, after checking that each pid still runs the command `up` started,
with its whole process tree (flow runs and Ray included).

`python -m flows.stack receive` is the webhook receiver `up` starts; `python -m flows.demo` (the
`make run` demonstration) drives the whole chain.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import string
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

STACK_ENV = "CHARTCODER_STACK_DIR"
PORT_ENVS = {
    "prefect_port": "CHARTCODER_PREFECT_PORT",
    "s3_port": "CHARTCODER_S3_PORT",
    "webhook_port": "CHARTCODER_WEBHOOK_PORT",
}
PROJECT_DIR = Path(__file__).resolve().parents[1]
DEPLOYMENTS_DIR = PROJECT_DIR / "deployments"

WORK_POOL = "chartcoder"
DEPLOYMENT = "code-charts/code-charts"
NOTIFY_BLOCK = "chartcoder-stack"
WORKER_NAME = "chartcoder-local"
WORKER_SILENCE_SECONDS = 100  # a worker beats every 30 s (PREFECT_WORKER_HEARTBEAT_SECONDS)
HOST = "127.0.0.1"
# moto accepts any credentials; these only keep boto3 from looking for real ones
FAKE_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
PARTS = ("server", "s3", "webhook", "worker", "bridge")
STOP_ORDER = tuple(reversed(PARTS))


class StackError(RuntimeError):
    """A part did not start or become healthy; the message names it and its log file."""


@dataclass(frozen=True, slots=True)
class StackSettings:
    """Where the stack keeps its state and how its parts are set up."""

    state_dir: Path
    prefect_port: int = 4270
    s3_port: int = 4271
    webhook_port: int = 4272
    region: str = "us-east-1"
    landing: str = "s3://chartcoder-landing/incoming"
    results: str = "s3://chartcoder-results/results"
    quiet_seconds: float = 20.0
    marker: str = "_READY"
    poll_seconds: float = 2.0
    worker_limit: int = 1
    visibility_seconds: int | None = None  # the bridge's SQS visibility timeout (its default)
    project_dir: Path = field(default=PROJECT_DIR)

    def __post_init__(self) -> None:
        for name in ("prefect_port", "s3_port", "webhook_port"):
            port = getattr(self, name)
            if not 0 < port < 65536:
                raise ValueError(f"{name}={port}: a TCP port is 1-65535")
        ports = [self.prefect_port, self.s3_port, self.webhook_port]
        if len(set(ports)) != len(ports):
            raise ValueError(f"ports {ports}: the Prefect, S3 and webhook ports must differ")
        for name in ("landing", "results"):
            bucket, prefix = split_s3(getattr(self, name))
            if not bucket or not prefix:
                raise ValueError(f"{name}={getattr(self, name)!r}: expected s3://bucket/prefix")
        landing, results = split_s3(self.landing), split_s3(self.results)
        if landing[0] == results[0] and (
            results[1].startswith(landing[1]) or landing[1].startswith(results[1])
        ):
            raise ValueError(
                f"results={self.results!r} overlaps landing={self.landing!r}: writing results "
                f"would trigger runs; use another bucket or a prefix outside the landing prefix"
            )
        if self.quiet_seconds <= 0 or self.poll_seconds <= 0:
            raise ValueError(
                f"quiet_seconds={self.quiet_seconds}, poll_seconds={self.poll_seconds}: "
                f"both must be positive"
            )
        if self.worker_limit < 1:
            raise ValueError(f"worker_limit={self.worker_limit}: at least 1")

    @classmethod
    def resolve(cls, state_dir: str | Path | None = None, **overrides: Any) -> StackSettings:
        """Flags (`overrides`, None = unset) over environment variables over defaults."""
        values: dict[str, Any] = {}
        for name, env in PORT_ENVS.items():
            if os.environ.get(env):
                values[name] = int(os.environ[env])
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(state_dir=stack_dir(state_dir), **values)
        # checked here, not in __post_init__: the record of a stack started from a checkout
        # since removed must still read (`status`, `down`)
        if not (settings.project_dir / "prefect.yaml").is_file():
            raise ValueError(f"{settings.project_dir}: no prefect.yaml (not a chartcoder checkout)")
        return settings

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.prefect_port}/api"

    @property
    def ui_url(self) -> str:
        return f"http://{HOST}:{self.prefect_port}"

    @property
    def s3_endpoint(self) -> str:
        return f"http://{HOST}:{self.s3_port}"

    @property
    def webhook_url(self) -> str:
        return f"http://{HOST}:{self.webhook_port}/notify"

    @property
    def notifications(self) -> Path:
        return self.state_dir / "notifications.jsonl"

    @property
    def queue_name(self) -> str:
        return f"{split_s3(self.landing)[0]}-events"

    def info(self) -> dict[str, str]:
        """What `up` prints: where everything is."""
        return {
            "prefect_api": self.api_url,
            "prefect_ui": self.ui_url,
            "s3_endpoint": self.s3_endpoint,
            "region": self.region,
            "landing": self.landing,
            "results": self.results,
        }

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["state_dir"] = str(self.state_dir)
        data["project_dir"] = str(self.project_dir)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StackSettings:
        return cls(
            **{
                **data,
                "state_dir": Path(data["state_dir"]),
                "project_dir": Path(data["project_dir"]),
            }
        )


def stack_dir(explicit: str | Path | None = None) -> Path:
    """The stack folder: explicit, else $CHARTCODER_STACK_DIR, else `stack` in the cache folder."""
    from nlp.settings import cache_dir

    value = explicit or os.environ.get(STACK_ENV)
    return (Path(value).expanduser() if value else cache_dir() / "stack").resolve()


def split_s3(url: str) -> tuple[str, str]:
    """`s3://bucket/a/b` -> ("bucket", "a/b/"); an empty bucket or prefix stays empty."""
    if not url.startswith("s3://"):
        return "", ""
    bucket, _, prefix = url[len("s3://") :].partition("/")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


# --- processes -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Part:
    name: str
    argv: list[str]
    env: dict[str, str]
    port: int | None


@dataclass(frozen=True, slots=True)
class PartStatus:
    name: str
    running: bool
    pid: int | None
    port: int | None
    healthy: bool


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def base_env(settings: StackSettings) -> dict[str, str]:
    """The environment every part gets: this one, with Prefect and AWS pointed at the stack."""
    env = dict(os.environ)
    env.update(FAKE_KEYS)
    env.update(
        {
            "PREFECT_HOME": str(settings.state_dir / "prefect-home"),
            "PREFECT_API_URL": settings.api_url,
            "PREFECT_UI_URL": settings.ui_url,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "AWS_ENDPOINT_URL": settings.s3_endpoint,
            "AWS_DEFAULT_REGION": settings.region,
            "AWS_REGION": settings.region,
            "CHARTCODER_PROJECT_DIR": str(settings.project_dir),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.pop("AWS_PROFILE", None)
    return env


def parts(settings: StackSettings, queue_urls: tuple[str, str] | None = None) -> list[Part]:
    """Every part's command line and environment, in start order."""
    py = sys.executable
    env = base_env(settings)
    server_env = {
        **env,
        "PREFECT_API_DATABASE_CONNECTION_URL": (
            f"sqlite+aiosqlite:///{settings.state_dir / 'prefect.db'}"
        ),
        "PREFECT_UI_API_URL": settings.api_url,
    }
    server_env.pop("PREFECT_API_URL")
    poll = _number(settings.poll_seconds)
    worker_env = {
        **env,
        "PREFECT_WORKER_QUERY_SECONDS": poll,
        "PREFECT_RUNNER_POLL_FREQUENCY": poll,
        "PREFECT_WORKER_PREFETCH_SECONDS": poll,
    }
    queue_url, dlq_url = queue_urls or sqs_urls(settings)
    return [
        Part(
            "server",
            [
                *(py, "-m", "prefect", "server", "start"),
                *("--host", HOST, "--port", str(settings.prefect_port)),
            ],
            server_env,
            settings.prefect_port,
        ),
        Part(
            "s3",
            [py, "-m", "moto.server", "-H", HOST, "-p", str(settings.s3_port)],
            env,
            settings.s3_port,
        ),
        Part(
            "webhook",
            [
                *(py, "-m", "flows.stack", "receive"),
                *("--port", str(settings.webhook_port), "--file", str(settings.notifications)),
            ],
            env,
            settings.webhook_port,
        ),
        Part(
            "worker",
            [
                *(py, "-m", "prefect", "worker", "start", "--pool", WORK_POOL, "--type", "process"),
                *("--name", WORKER_NAME, "--limit", str(settings.worker_limit)),
                *("--install-policy", "never"),
            ],
            worker_env,
            None,
        ),
        Part(
            "bridge",
            [
                *(py, "-m", "cli", "bridge", "--queue-url", queue_url),
                *("--landing", settings.landing, "--results", settings.results),
                *("--dead-letter-queue-url", dlq_url),
                *("--quiet-seconds", _number(settings.quiet_seconds), "--marker", settings.marker),
                *("--state-dir", str(settings.state_dir / "bridge")),
                *("--endpoint-url", settings.s3_endpoint, "--region", settings.region),
                *(
                    ("--visibility-timeout", str(settings.visibility_seconds))
                    if settings.visibility_seconds
                    else ()
                ),
            ],
            env,
            None,
        ),
    ]


def sqs_urls(settings: StackSettings) -> tuple[str, str]:
    """The queue and dead-letter queue URLs as moto names them."""
    base = f"{settings.s3_endpoint}/123456789012"
    return f"{base}/{settings.queue_name}", f"{base}/{settings.queue_name}-dlq"


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


# --- the stack folder ----------------------------------------------------------------------


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


# --- health --------------------------------------------------------------------------------


def _http_ok(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def aws_client(settings: StackSettings, service: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=settings.s3_endpoint,
        region_name=settings.region,
        aws_access_key_id=FAKE_KEYS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_KEYS["AWS_SECRET_ACCESS_KEY"],
        config=Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 2}),
    )


@contextlib.contextmanager
def prefect_client(settings: StackSettings) -> Iterator[Any]:
    """A synchronous Prefect client for the stack's API, whatever this process's profile says."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        temporary_settings({PREFECT_API_URL: settings.api_url}),
        get_client(sync_client=True) as client,
    ):
        yield client


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


# --- set-up: S3/SQS resources, work pool, deployment, notification block, automations --------


def provision_aws(settings: StackSettings) -> tuple[str, str]:
    """Buckets, queue + dead-letter queue, and the landing bucket's notification (idempotent)."""
    s3, sqs = aws_client(settings, "s3"), aws_client(settings, "sqs")
    landing_bucket, landing_prefix = split_s3(settings.landing)
    for bucket in dict.fromkeys([landing_bucket, split_s3(settings.results)[0]]):
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
            s3.create_bucket(Bucket=bucket)
    dlq_url = sqs.create_queue(QueueName=f"{settings.queue_name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(
        QueueName=settings.queue_name,
        Attributes={
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=landing_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "chartcoder-landing",
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {"FilterRules": [{"Name": "prefix", "Value": landing_prefix}]}
                    },
                }
            ]
        },
    )
    log.info("S3: %s -> %s (dead letters %s)", settings.landing, queue_url, dlq_url)
    return queue_url, dlq_url


def _prefect_cli(settings: StackSettings, folder: StackFolder, *args: str) -> None:
    logfile = folder.log_file("setup")
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with logfile.open("ab") as out:
        out.write(f"\n=== prefect {' '.join(args)} ===\n".encode())
        out.flush()
        done = subprocess.run(
            [sys.executable, "-m", "prefect", *args],
            env=base_env(settings),
            cwd=settings.project_dir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=600,
            check=False,
        )
    if done.returncode != 0:
        raise StackError(
            f"`prefect {' '.join(args)}` failed ({done.returncode}); the end of {logfile}:\n"
            f"{tail(logfile)}"
        )


def automation_files(folder: Path = DEPLOYMENTS_DIR) -> list[Path]:
    """The automation definitions in deployments/ (YAML or JSON with a trigger and actions)."""
    import yaml

    found = []
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml"), *folder.glob("*.json")]):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "trigger" in data and "actions" in data:
            found.append(path)
    return found


def render_automation(path: Path, notify_block_id: str) -> str:
    """An automation file with the stack's notification block id filled in."""
    template = string.Template(path.read_text(encoding="utf-8"))
    return template.substitute(notify_block_id=notify_block_id)


def save_notification_block(settings: StackSettings) -> str:
    """The webhook block the automations notify through; its document id."""
    from prefect.blocks.notifications import CustomWebhookNotificationBlock
    from prefect.settings import PREFECT_API_URL, temporary_settings

    block = CustomWebhookNotificationBlock(
        name="chartcoder",
        url=settings.webhook_url,
        json_data={"subject": "{{subject}}", "body": "{{body}}"},
        headers=None,
        cookies=None,
    )
    with temporary_settings({PREFECT_API_URL: settings.api_url}):
        block_id = block.save(NOTIFY_BLOCK, overwrite=True)
    return str(block_id)


def create_automations(settings: StackSettings, folder: StackFolder, block_id: str) -> list[str]:
    """Each automation file, rendered into the stack folder, replaced by name on the server."""
    import yaml

    rendered_dir = folder.path / "automations"
    rendered_dir.mkdir(parents=True, exist_ok=True)
    names = []
    for path in automation_files():
        text = render_automation(path, block_id)
        name = yaml.safe_load(text)["name"]
        with prefect_client(settings) as client:
            for existing in client.read_automations_by_name(name):
                client.delete_automation(existing.id)
        target = rendered_dir / path.name
        target.write_text(text, encoding="utf-8")
        _prefect_cli(settings, folder, "automation", "create", "--from-file", str(target))
        names.append(name)
    return names


def set_up_prefect(settings: StackSettings, folder: StackFolder) -> None:
    with prefect_client(settings) as client:
        try:
            client.read_work_pool(WORK_POOL)
        except Exception:  # ObjectNotFound
            _prefect_cli(settings, folder, "work-pool", "create", WORK_POOL, "--type", "process")
    _prefect_cli(settings, folder, "--no-prompt", "deploy", "--all")
    block_id = save_notification_block(settings)
    names = create_automations(settings, folder, block_id)
    log.info("deployed %s; automations: %s", DEPLOYMENT, ", ".join(names))


# --- up / down / status ----------------------------------------------------------------------


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


# --- the webhook receiver --------------------------------------------------------------------


def serve_webhook(port: int, path: Path) -> None:
    """Append each POSTed JSON body, with the time it came, as a line of `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                message: Any = json.loads(raw)
            except ValueError:
                message = raw.decode(errors="replace")
            line = json.dumps({"time": time.time(), "path": self.path, "message": message})
            with lock, path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            log.info("%s %s", self.address_string(), format % args)

    server = ThreadingHTTPServer((HOST, port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    log.info("webhook receiver on http://%s:%d, writing %s", HOST, port, path)
    server.serve_forever()


def read_notifications(settings: StackSettings) -> list[dict[str, Any]]:
    if not settings.notifications.is_file():
        return []
    lines = settings.notifications.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


# --- command line ----------------------------------------------------------------------------


def add_parsers(sub: Any) -> None:
    """`chartcoder up`, `down` and `status`."""
    up_ = sub.add_parser("up", help="start the local event-driven stack (Prefect, S3, bridge)")
    add_stack_options(up_)
    down_ = sub.add_parser("down", help="stop what `chartcoder up` started")
    down_.add_argument("--state-dir", help=f"stack folder (default: ${STACK_ENV})")
    down_.add_argument("--timeout", type=float, default=15.0, help="seconds before SIGKILL")
    status_ = sub.add_parser("status", help="show each part of the local stack")
    status_.add_argument("--state-dir", help=f"stack folder (default: ${STACK_ENV})")
    status_.add_argument("--json", action="store_true", help="one JSON object")


def add_stack_options(parser: argparse.ArgumentParser) -> None:
    defaults = StackSettings.__dataclass_fields__
    parser.add_argument("--state-dir", help=f"stack folder (default: ${STACK_ENV} or the cache)")
    for option, name in (
        ("prefect", "prefect_port"),
        ("s3", "s3_port"),
        ("webhook", "webhook_port"),
    ):
        parser.add_argument(
            f"--{option}-port",
            type=int,
            help=f"loopback port (default: ${PORT_ENVS[name]} or {defaults[name].default})",
        )
    parser.add_argument("--quiet-seconds", type=float, help="bridge quiet period (default: 20)")
    parser.add_argument("--poll-seconds", type=float, help="worker polling interval (default: 2)")
    parser.add_argument("--worker-limit", type=int, help="flow runs at once (default: 1)")
    parser.add_argument(
        "--visibility-seconds", type=int, help="bridge's SQS visibility timeout (default: its own)"
    )
    parser.add_argument(
        "--landing", help="where charts land (default: s3://chartcoder-landing/incoming)"
    )
    parser.add_argument(
        "--results", help="where results go (default: s3://chartcoder-results/results)"
    )


def settings_from(args: argparse.Namespace) -> StackSettings:
    return StackSettings.resolve(
        args.state_dir,
        prefect_port=args.prefect_port,
        s3_port=args.s3_port,
        webhook_port=args.webhook_port,
        quiet_seconds=args.quiet_seconds,
        poll_seconds=args.poll_seconds,
        worker_limit=args.worker_limit,
        visibility_seconds=args.visibility_seconds,
        landing=args.landing,
        results=args.results,
    )


def _quiet_http_logs() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per API call otherwise


def run_up(args: argparse.Namespace) -> int:
    _quiet_http_logs()
    try:
        info = up(settings_from(args))
    except (StackError, ValueError) as exc:
        print(f"chartcoder up: {exc}", file=sys.stderr)
        print("(`chartcoder down` stops the parts that did start)", file=sys.stderr)
        return 1
    print(json.dumps(info), flush=True)
    return 0


def run_down(args: argparse.Namespace) -> int:
    stopped = stop(stack_dir(args.state_dir), args.timeout)
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running", file=sys.stderr)
    return 0


def run_status(args: argparse.Namespace) -> int:
    _quiet_http_logs()
    report = status(stack_dir(args.state_dir))
    if args.json:
        print(json.dumps([asdict(r) for r in report]))
    else:
        for r in report:
            print(
                f"{r.name:8s} {'running' if r.running else 'stopped':8s} "
                f"pid {r.pid or '-':<8} port {r.port or '-':<6} "
                f"{'healthy' if r.healthy else 'not healthy'}"
            )
    return 0 if all(r.running and r.healthy for r in report) else 3


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "up": run_up,
    "down": run_down,
    "status": run_status,
}


def main(argv: list[str] | None = None) -> int:
    """`python -m flows.stack receive --port P --file F`: the webhook receiver `up` starts."""
    parser = argparse.ArgumentParser(prog="python -m flows.stack")
    sub = parser.add_subparsers(dest="command", required=True)
    receive = sub.add_parser("receive", help="the webhook receiver (started by `up`)")
    receive.add_argument("--port", type=int, required=True)
    receive.add_argument("--file", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    serve_webhook(args.port, args.file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
