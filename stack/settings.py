"""The local stack's settings: ports, folders, locations and timings, and the names it uses.

`StackSettings.resolve` takes flags over environment variables over defaults; the settings are
validated at construction (the error names the value and what is allowed).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

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
