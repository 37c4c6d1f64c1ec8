"""What the bridge tests share: a fake clock for the Batcher, a landing bucket on moto that
notifies a queue, a local HTTP server that records the events POSTed to it, and poll helpers.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from bridge.batching import Batch, Batcher
from bridge.config import BridgeConfig, S3Url
from bridge.notifications import S3Object
from bridge.service import Bridge
from bridge.state import BridgeState
from tests.servers import free_port

KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
REGION = "us-east-1"
LANDING = S3Url("landing", "incoming/")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def obj(key: str, version: str = "v1", bucket: str = "landing") -> S3Object:
    return S3Object(bucket, key, version)


def batcher(clock: FakeClock, state: BridgeState | None = None, quiet: float = 20.0) -> Batcher:
    return Batcher(LANDING, state or BridgeState(str(LANDING)), quiet_seconds=quiet, clock=clock)


@dataclass
class Landing:
    """A bucket notifying a queue (created + removed events), and a dead-letter queue."""

    endpoint: str
    s3: Any
    sqs: Any
    bucket: str
    queue_url: str
    dlq_url: str

    def put(self, key: str, body: bytes = b"Assessment: asthma.") -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)

    def counts(self, queue_url: str | None = None) -> tuple[int, int]:
        """(visible, in flight) messages."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=queue_url or self.queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
            ],
        )["Attributes"]
        return (
            int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        )


class Recorder:
    """A local stand-in for `POST /api/events`: answers queued statuses, then 204."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self.events: list[dict[str, Any]] = []  # accepted
        self.answers: list[int] = []  # statuses to give first
        self.refused = 0
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> Recorder:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = recorder.answers.pop(0) if recorder.answers else 204
                if status == 204 and self.path == "/api/events":
                    recorder.events.extend(json.loads(body))
                else:
                    recorder.refused += 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def make_config(landing: Landing, state_dir: Path, **overrides: Any) -> BridgeConfig:
    options: dict[str, Any] = {
        "queue_url": landing.queue_url,
        "landing": f"s3://{landing.bucket}/incoming",
        "results": "s3://results-bucket/results",
        "dead_letter_queue_url": landing.dlq_url,
        "quiet_seconds": 1.0,
        "state_dir": state_dir,
        "visibility_timeout": 2,
        "poll_wait_seconds": 1,
        "endpoint_url": landing.endpoint,
        "region": REGION,
        "retry_initial_seconds": 0.2,
        "retry_max_seconds": 0.5,
    }
    return BridgeConfig(**{**options, **overrides})


def cycle(
    bridge: Bridge, until: Callable[[list[Batch]], bool], timeout: float = 10.0
) -> list[Batch]:
    """Run poll cycles until `until(emitted so far)`."""
    emitted: list[Batch] = []
    deadline = time.monotonic() + timeout
    while not until(emitted):
        assert time.monotonic() < deadline, f"timed out; emitted {emitted}"
        emitted += bridge.run_once()
    return emitted


def cycle_for(bridge: Bridge, seconds: float) -> list[Batch]:
    end = time.monotonic() + seconds
    return cycle(bridge, lambda _: time.monotonic() >= end, timeout=seconds + 5)


def drained(landing: Landing, queue_url: str | None = None) -> bool:
    return landing.counts(queue_url) == (0, 0)


def prefect_events(bucket: str, expected: int, timeout: float = 20.0) -> list[dict[str, Any]]:
    """The events of `bucket`'s batches the Prefect API stored, once there are `expected`."""
    from prefect.settings import PREFECT_API_URL

    now = datetime.now(UTC)
    query = {
        "filter": {
            "occurred": {
                "since": (now - timedelta(hours=1)).isoformat(),
                "until": (now + timedelta(hours=1)).isoformat(),
            },
            "resource": {"id_prefix": [f"chartcoder.batch.{bucket}."]},
        },
        "limit": 50,
    }
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.post(f"{PREFECT_API_URL.value()}/events/filter", json=query)
        response.raise_for_status()
        events = response.json()["events"]
        if len(events) >= expected or time.monotonic() > deadline:
            return events
        time.sleep(0.5)
