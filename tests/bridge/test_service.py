"""The bridge loop against a real moto server (S3 notifying SQS) and a recording events API."""

from __future__ import annotations

import json
import time

import pytest

from bridge.batching import batch_id
from bridge.config import ConfigError
from bridge.emitter import EVENT
from bridge.service import Bridge
from tests.bridge.harness import (
    Recorder,
    cycle,
    cycle_for,
    drained,
    make_config,
)


def test_quiet_batches_with_encoded_keys_and_noise_ignored(landing, recorder, tmp_path):
    recorder.start()
    landing.put("incoming/day two/chart one+1.txt")
    landing.put("incoming/day two/b.txt")
    landing.put("incoming/root.txt")
    landing.put("elsewhere/x.txt")
    landing.s3.delete_object(Bucket=landing.bucket, Key="elsewhere/x.txt")
    bridge = Bridge(
        make_config(landing, tmp_path, prefect_api_url=recorder.api_url), sqs=landing.sqs
    )
    started = time.monotonic()
    emitted = cycle(bridge, lambda e: len(e) == 2)
    elapsed = time.monotonic() - started
    bridge.close()

    assert 1.0 <= elapsed < 5
    by_prefix = {e["payload"]["prefix"]: e for e in recorder.events}
    assert set(by_prefix) == {"incoming/day two/", "incoming/"}
    day = by_prefix["incoming/day two/"]
    assert day["id"] == str(batch_id(landing.bucket, "incoming/day two/", 1))
    assert day["event"] == EVENT
    assert day["resource"]["prefect.resource.id"] == (
        f"chartcoder.batch.{landing.bucket}.incoming/day two/"
    )
    assert day["payload"] == {
        "bucket": landing.bucket,
        "prefix": "incoming/day two/",
        "results": "s3://results-bucket/results/incoming/day two/",
        "objects": 2,
        "generation": 1,
        "reason": "quiet",
    }
    assert by_prefix["incoming/"]["payload"]["objects"] == 1
    assert sorted(b.prefix for b in emitted) == ["incoming/", "incoming/day two/"]
    assert drained(landing)  # the test event, outside object and removal were deleted too
    assert drained(landing, landing.dlq_url)


def test_marker_readies_sooner_and_late_objects_make_the_next_generation(
    landing, recorder, tmp_path
):
    recorder.start()
    bridge = Bridge(
        make_config(landing, tmp_path, prefect_api_url=recorder.api_url, quiet_seconds=60),
        sqs=landing.sqs,
    )
    for key in ("a.txt", "b.txt", "_READY"):
        landing.put(f"incoming/d/{key}", b"" if key == "_READY" else b"chart")
    started = time.monotonic()
    [first] = cycle(bridge, lambda e: len(e) == 1, timeout=5)
    assert time.monotonic() - started < 3
    assert (first.generation, first.objects, first.reason) == (1, 2, "marker")

    landing.put("incoming/d/c.txt")  # late: after its batch was emitted
    landing.put("incoming/d/_READY", b"")  # the same empty marker, written again
    [second] = cycle(bridge, lambda e: len(e) == 1, timeout=5)
    bridge.close()
    assert (second.generation, second.objects, second.reason) == (2, 1, "marker")
    assert [e["id"] for e in recorder.events] == [str(first.id), str(second.id)]
    assert first.id != second.id
    assert drained(landing)


def test_duplicated_notifications_make_one_event(landing, recorder, tmp_path):
    recorder.start()
    landing.put("incoming/d/a.txt")
    messages = landing.sqs.receive_message(
        QueueUrl=landing.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
    )["Messages"]
    [body] = [m["Body"] for m in messages if "Records" in m["Body"]]
    for message in messages:  # back on the queue, plus two more copies
        landing.sqs.change_message_visibility(
            QueueUrl=landing.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    for _ in range(2):
        landing.sqs.send_message(QueueUrl=landing.queue_url, MessageBody=body)
    bridge = Bridge(
        make_config(landing, tmp_path, prefect_api_url=recorder.api_url), sqs=landing.sqs
    )
    [batch] = cycle(bridge, lambda e: len(e) == 1)
    assert batch.objects == 1
    assert drained(landing)

    landing.sqs.send_message(QueueUrl=landing.queue_url, MessageBody=body)  # a late replay
    assert cycle_for(bridge, 1.5) == []
    bridge.close()
    assert [e["id"] for e in recorder.events] == [str(batch.id)]
    assert drained(landing)


def test_malformed_messages_go_to_the_dead_letter_queue(landing, recorder, tmp_path, caplog):
    recorder.start()
    bad = ["not json", "[1]", '{"foo": 1}', '{"Records": "x"}', '{"Records": [{"s3": {}}]}']
    for body in bad:
        landing.sqs.send_message(QueueUrl=landing.queue_url, MessageBody=body)
    landing.put("incoming/d/a.txt")
    bridge = Bridge(
        make_config(landing, tmp_path, prefect_api_url=recorder.api_url), sqs=landing.sqs
    )
    with caplog.at_level("ERROR", logger="bridge"):
        [batch] = cycle(bridge, lambda e: len(e) == 1)
    bridge.close()
    assert batch.objects == 1
    assert drained(landing)
    dead = landing.sqs.receive_message(
        QueueUrl=landing.dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )["Messages"]
    reasons = {m["Body"]: m["MessageAttributes"]["chartcoder-reason"]["StringValue"] for m in dead}
    assert reasons == {
        "not json": "not JSON (Expecting value: line 1 column 1 (char 0))",
        "[1]": "a JSON list, not an object",
        '{"foo": 1}': "no Records",
        '{"Records": "x"}': "Records is not a list",
        '{"Records": [{"s3": {}}]}': "record 0 has no eventName",
    }
    assert len([r for r in caplog.records if "dead-letter queue" in r.getMessage()]) == 5


def test_prefect_api_down_then_up_emits_later_and_deletes_only_after(landing, tmp_path):
    recorder = Recorder()  # not started yet: connection refused
    recorder.answers = [503, 503]  # then two server errors
    landing.put("incoming/d/a.txt")
    landing.put("incoming/d/b.txt")
    bridge = Bridge(
        make_config(landing, tmp_path, prefect_api_url=recorder.api_url), sqs=landing.sqs
    )
    try:
        assert cycle_for(bridge, 3) == []  # past quiet (1 s) and visibility (2 s)
        assert landing.counts() == (0, 2)  # held invisible, not deleted, not re-delivered
        [saved] = json.loads((tmp_path / "state.json").read_text())["prefixes"].values()
        assert (saved["generation"], saved["emitting"]["objects"]) == (0, 2)  # intent only
        recorder.start()
        [batch] = cycle(bridge, lambda e: len(e) == 1)
    finally:
        bridge.close()
        recorder.stop()
    assert recorder.refused == 2
    assert [e["id"] for e in recorder.events] == [str(batch.id)]
    assert recorder.events[0]["payload"]["objects"] == 2
    assert drained(landing)


def test_one_state_folder_serves_one_bridge(landing, tmp_path):
    config = make_config(landing, tmp_path, prefect_api_url="http://127.0.0.1:9/api")
    first = Bridge(config, sqs=landing.sqs)
    with pytest.raises(ConfigError, match="another bridge is using this state folder"):
        Bridge(config, sqs=landing.sqs)
    first.close()
    Bridge(config, sqs=landing.sqs).close()
