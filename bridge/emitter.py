"""The Prefect side: a batch as a `chartcoder.batch.ready` event, sent by `POST {api}/events`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from bridge.batching import Batch
from bridge.config import S3Url

EVENT = "chartcoder.batch.ready"
RESOURCE_PREFIX = "chartcoder.batch."


class EmitError(RuntimeError):
    """The Prefect API refused an event for good (a 4xx other than 408/429)."""


class TransientEmitError(RuntimeError):
    """The Prefect API could not take the event now (down, 5xx, timeout): retry later."""


def batch_event(batch: Batch, results: S3Url, occurred: datetime) -> dict[str, Any]:
    """The `chartcoder.batch.ready` event of a batch, as the Prefect events API takes it."""
    return {
        "id": str(batch.id),
        "occurred": occurred.isoformat(),
        "event": EVENT,
        "resource": {
            "prefect.resource.id": f"{RESOURCE_PREFIX}{batch.bucket}.{batch.prefix}",
            "prefect.resource.name": f"s3://{batch.bucket}/{batch.prefix}",
        },
        "payload": {
            "bucket": batch.bucket,
            "prefix": batch.prefix,
            "results": f"s3://{results.bucket}/{results.prefix}{batch.prefix}",
            "objects": batch.objects,
            "generation": batch.generation,
            "reason": batch.reason,
        },
        "related": [],
    }


def _auth_headers() -> dict[str, str]:
    """The Authorization header the Prefect client would send (auth string, else API key)."""
    import base64

    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_KEY

    auth_string, api_key = PREFECT_API_AUTH_STRING.value(), PREFECT_API_KEY.value()
    if auth_string:
        return {"Authorization": f"Basic {base64.b64encode(auth_string.encode()).decode()}"}
    if api_key:
        return {"Authorization": f"Bearer {api_key}"}
    return {}


class PrefectEmitter:
    """Sends one event by `POST {api_url}/events` (HTTP 204 = accepted), synchronously."""

    def __init__(
        self, api_url: str, *, timeout: float = 10.0, client: httpx.Client | None = None
    ) -> None:
        self.url = f"{api_url.rstrip('/')}/events"
        self._client = client or httpx.Client(timeout=timeout, headers=_auth_headers())

    def emit(self, event: dict[str, Any]) -> None:
        try:
            response = self._client.post(self.url, json=[event])
        except httpx.TransportError as exc:  # refused, reset, timed out
            raise TransientEmitError(f"{type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if 200 <= status < 300:
            return
        if status >= 500 or status in (408, 429):
            raise TransientEmitError(f"HTTP {status}")
        raise EmitError(f"{self.url} refused the event: HTTP {status} {response.text[:300]}")

    def close(self) -> None:
        self._client.close()
