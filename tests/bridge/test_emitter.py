"""The batch event and the POST that sends it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bridge.batching import Batch, batch_id
from bridge.config import S3Url
from bridge.emitter import EVENT, EmitError, PrefectEmitter, batch_event


def test_event_shape():
    batch = Batch("landing", "incoming/2026-11-26/", 3, 12, "marker")
    occurred = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    assert batch_event(batch, S3Url("results-bucket", "results/"), occurred) == {
        "id": str(batch_id("landing", "incoming/2026-11-26/", 3)),
        "occurred": "2026-11-26T10:00:00+00:00",
        "event": "chartcoder.batch.ready",
        "resource": {
            "prefect.resource.id": "chartcoder.batch.landing.incoming/2026-11-26/",
            "prefect.resource.name": "s3://landing/incoming/2026-11-26/",
        },
        "payload": {
            "bucket": "landing",
            "prefix": "incoming/2026-11-26/",
            "results": "s3://results-bucket/results/incoming/2026-11-26/",
            "objects": 12,
            "generation": 3,
            "reason": "marker",
        },
        "related": [],
    }


def test_an_api_that_refuses_the_event_for_good_raises(landing, recorder, tmp_path):
    recorder.answers = [422]
    recorder.start()
    emitter = PrefectEmitter(recorder.api_url)
    with pytest.raises(EmitError, match="HTTP 422"):
        emitter.emit({"event": EVENT})
    emitter.close()
