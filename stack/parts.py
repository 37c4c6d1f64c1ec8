"""The stack's parts, in start order: each one's command line and environment.

- `server`: `prefect server start` on SQLite in the stack folder;
- `s3`: moto's server, as S3 and SQS;
- `webhook`: `python -m stack.webhook`, the receiver the automations' notification block posts to;
- `worker`: a process worker for the `chartcoder` pool (flow runs inherit its environment);
- `bridge`: `python -m bridge` (the body of `chartcoder bridge`), from SQS to Prefect events.
"""

from __future__ import annotations

import os
import sys

from stack.processes import Part
from stack.settings import FAKE_KEYS, HOST, WORK_POOL, WORKER_NAME, StackSettings

PARTS = ("server", "s3", "webhook", "worker", "bridge")
STOP_ORDER = tuple(reversed(PARTS))


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
                *(py, "-m", "stack.webhook"),
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
                *(py, "-m", "bridge", "--queue-url", queue_url),
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
