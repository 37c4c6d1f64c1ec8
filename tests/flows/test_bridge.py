"""The S3 -> Prefect event bridge: the Batcher on a fake clock, then the bridge against a real
moto server (S3 notifying SQS), a local HTTP server that records POSTs, and the real Prefect API.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import boto3
import httpx
import pytest

from cli.commands import parser
from flows.bridge import (
    EVENT,
    Batch,
    Batcher,
    Bridge,
    BridgeConfig,
    BridgeState,
    ConfigError,
    EmitError,
    MalformedMessage,
    PrefectEmitter,
    S3Object,
    S3Url,
    batch_event,
    batch_id,
    parse_message,
)
from tests.servers import free_port, moto_server

KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
REGION = "us-east-1"
LANDING = S3Url("landing", "incoming/")


# -- the Batcher, on a fake clock -------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def obj(key: str, version: str = "v1", bucket: str = "landing") -> S3Object:
    return S3Object(bucket, key, version)


def batcher(clock: FakeClock, state: BridgeState | None = None, quiet: float = 20.0) -> Batcher:
    return Batcher(LANDING, state or BridgeState(str(LANDING)), quiet_seconds=quiet, clock=clock)


@pytest.mark.parametrize(
    ("key", "prefix"),
    [
        ("incoming/2026-11-26/a.txt", "incoming/2026-11-26/"),
        ("incoming/a.txt", "incoming/"),
        ("incoming/2026-11-26/ward 3/a.txt", "incoming/2026-11-26/ward 3/"),
        ("incoming/2026-11-26/_READY", "incoming/2026-11-26/"),
        ("incoming/2026-11-26/", None),
        ("incomingX/a.txt", None),
        ("outgoing/a.txt", None),
    ],
)
def test_batch_prefix_is_the_parent_folder_below_the_landing_prefix(key, prefix):
    assert batcher(FakeClock()).batch_prefix(obj(key)) == prefix


def test_batch_prefix_of_another_bucket_is_none():
    assert batcher(FakeClock()).batch_prefix(obj("incoming/a.txt", bucket="other")) is None


def test_quiet_period_readies_a_batch_and_its_messages_settle_only_when_emitted():
    clock = FakeClock()
    b = batcher(clock)
    b.add("m1", [obj("incoming/d/a.txt")])
    clock.now += 15
    b.add("m2", [obj("incoming/d/b.txt")])  # resets the quiet period
    clock.now += 19.9
    assert b.ready() == []
    assert b.next_deadline() == pytest.approx(clock.now + 0.1)
    clock.now += 0.1
    [batch] = b.ready()
    assert batch == Batch("landing", "incoming/d/", 1, 2, "quiet")
    assert batch.id == uuid.uuid5(
        uuid.uuid5(uuid.NAMESPACE_URL, "urn:chartcoder:batch"),
        json.dumps(["landing", "incoming/d/", 1]),
    )
    assert b.take_settled() == set()
    assert b.waiting_messages == {"m1", "m2"}
    b.emitted(batch)
    assert b.take_settled() == {"m1", "m2"}
    assert b.state.generation("incoming/d/") == 1
    assert b.ready() == []


def test_marker_readies_the_batch_at_once_and_is_not_a_chart():
    clock = FakeClock()
    b = batcher(clock)
    b.add("m1", [obj("incoming/d/a.txt")])
    b.add("m2", [obj("incoming/d/_READY")])
    assert b.next_deadline() == clock.now
    assert b.ready() == [Batch("landing", "incoming/d/", 1, 1, "marker")]


def test_marker_without_new_objects_makes_no_batch():
    clock = FakeClock()
    b = batcher(clock)
    b.add("m1", [obj("incoming/d/_READY")])
    assert b.ready() == []
    assert b.take_settled() == {"m1"}


def test_ignored_records_settle_their_message_at_once():
    b = batcher(FakeClock())
    b.add("test-event", [])
    b.add("outside", [obj("elsewhere/a.txt"), obj("incoming/a.txt", bucket="other")])
    assert b.take_settled() == {"test-event", "outside"}
    assert b.ready() == []


def test_duplicates_join_their_batch_and_replays_after_emission_are_ignored():
    clock = FakeClock()
    b = batcher(clock)
    b.add("m1", [obj("incoming/d/a.txt", "s1")])
    b.add("m1-again", [obj("incoming/d/a.txt", "s1")])
    clock.now += 20
    [batch] = b.ready()
    assert batch.objects == 1
    b.emitted(batch)
    assert b.take_settled() == {"m1", "m1-again"}
    b.add("m1-replay", [obj("incoming/d/a.txt", "s1"), obj("incoming/d/_READY", "s9")])
    b.add("m1-replay", [obj("incoming/d/a.txt", "s1")])
    clock.now += 60
    assert b.ready() == []  # the marker alone makes no batch
    assert b.take_settled() == {"m1-replay"}


def test_objects_after_a_sealed_batch_form_the_next_generation():
    clock = FakeClock()
    b = batcher(clock)
    b.add("m1", [obj("incoming/d/a.txt", "s1"), obj("incoming/d/_READY", "s2")])
    [first] = b.ready()
    # sealed, not yet accepted (the API is down): a late object and a rewrite of a.txt
    b.add("m2", [obj("incoming/d/c.txt", "s3")])
    b.add("m3", [obj("incoming/d/a.txt", "s4")])
    b.add("m1-again", [obj("incoming/d/a.txt", "s1")])  # a re-delivery joins generation 1
    clock.now += 20
    assert b.ready() == [first]  # generation 2 waits for generation 1
    b.emitted(first)
    assert b.take_settled() == {"m1", "m1-again"}
    [second] = b.ready()
    assert second == Batch("landing", "incoming/d/", 2, 2, "quiet")
    assert second.id != first.id
    with pytest.raises(ValueError, match="generation 3 is not the next one"):
        b.emitted(Batch("landing", "incoming/d/", 3, 1, "quiet"))
    b.emitted(second)
    assert b.take_settled() == {"m2", "m3"}


def test_a_message_feeding_two_batches_settles_after_both():
    clock = FakeClock()
    b = batcher(clock)
    b.add("m", [obj("incoming/x/a.txt"), obj("incoming/y/a.txt"), obj("incoming/x/_READY")])
    [x] = b.ready()
    b.emitted(x)
    assert b.take_settled() == set()
    clock.now += 20
    [y] = b.ready()
    assert (y.prefix, y.objects) == ("incoming/y/", 1)
    b.emitted(y)
    assert b.take_settled() == {"m"}


def test_state_round_trip_keeps_generations_and_recognises_replays(tmp_path):
    clock = FakeClock()
    b = batcher(clock)
    b.add("m1", [obj("incoming/d/a.txt", "s1"), obj("incoming/d/_READY", "s2")])
    [batch] = b.ready()
    b.emitted(batch)
    path = b.state.save(tmp_path)
    assert "a.txt" not in path.read_text()  # digests, not keys

    restarted = batcher(clock, BridgeState.load(tmp_path, str(LANDING)))
    restarted.add("m1", [obj("incoming/d/a.txt", "s1"), obj("incoming/d/_READY", "s2")])
    assert restarted.ready() == []
    restarted.add("m2", [obj("incoming/d/b.txt", "s3"), obj("incoming/d/_READY", "s4")])
    assert restarted.ready() == [Batch("landing", "incoming/d/", 2, 1, "marker")]


def test_an_intent_left_by_a_crash_is_announced_again_unchanged(tmp_path):
    clock = FakeClock()
    b = batcher(clock)
    b.add("m1", [obj("incoming/d/a.txt", "s1"), obj("incoming/d/_READY", "s2")])
    [batch] = b.ready()
    assert b.intend(batch) and not b.intend(batch)  # noted once
    b.state.save(tmp_path)  # ... then the POST, and the process dies

    restarted = batcher(clock, BridgeState.load(tmp_path, str(LANDING)))
    assert restarted.ready() == [batch]  # at once, same generation, count and reason
    restarted.add("m1", [obj("incoming/d/a.txt", "s1")])  # re-delivered: joins it
    restarted.add("m2", [obj("incoming/d/b.txt", "s3")])  # later: the next generation
    restarted.emitted(batch)
    assert restarted.take_settled() == {"m1"}
    assert restarted.state.intents == {}
    clock.now += 20
    assert restarted.ready() == [Batch("landing", "incoming/d/", 2, 1, "quiet")]


def test_state_remembers_a_bounded_number_of_objects(tmp_path):
    state = BridgeState(str(LANDING), remembered=3)
    state.record("p/", 1, ["a", "b"])
    state.record("p/", 2, ["c", "d"])
    assert [state.seen("p/", d) for d in "abcd"] == [False, True, True, True]
    state.save(tmp_path)
    loaded = BridgeState.load(tmp_path, str(LANDING))
    assert loaded.generation("p/") == 2
    assert loaded.seen("p/", "d") and not loaded.seen("p/", "a")
    with pytest.raises(ValueError, match="generation 4 emitted after 2"):
        loaded.record("p/", 4, [])


def test_state_forgets_objects_of_quiet_prefixes_but_not_their_generation(tmp_path):
    wall = FakeClock()
    state = BridgeState(str(LANDING), forget_after=100, wall_clock=wall)
    state.record("old/", 1, ["a"])
    wall.now += 101
    state.record("new/", 1, ["b"])
    assert (state.seen("old/", "a"), state.seen("new/", "b")) == (False, True)
    state.save(tmp_path)
    loaded = BridgeState.load(tmp_path, str(LANDING))
    assert (loaded.generation("old/"), loaded.generation("new/")) == (1, 1)
    assert loaded.seen("new/", "b")


def test_state_of_another_landing_or_a_damaged_state_is_refused(tmp_path):
    BridgeState("s3://other/in/").save(tmp_path)
    with pytest.raises(ConfigError, match="state of s3://other/in/, not of s3://landing/incoming/"):
        BridgeState.load(tmp_path, str(LANDING))
    (tmp_path / "state.json").write_text("{oops")
    with pytest.raises(ConfigError, match="not a bridge state file"):
        BridgeState.load(tmp_path, str(LANDING))


# -- notifications and configuration ----------------------------------------------------------


def notification(key: str, event: str = "ObjectCreated:Put", **extra: Any) -> str:
    described = {"key": quote_plus(key), "size": 5, "eTag": "e1", **extra}
    record = {
        "eventName": event,
        "eventTime": "2026-11-26T10:00:00.000Z",
        "s3": {"bucket": {"name": "landing"}, "object": described},
    }
    return json.dumps({"Records": [record]})


def test_parse_message_decodes_keys_and_keeps_the_sequencer():
    assert parse_message(notification("incoming/day two/a+b.txt", sequencer="0A1B")) == [
        S3Object("landing", "incoming/day two/a+b.txt", "0A1B")
    ]
    assert parse_message(notification("incoming/a.txt")) == [
        S3Object("landing", "incoming/a.txt", "e1@2026-11-26T10:00:00.000Z")
    ]


def test_parse_message_ignores_test_events_and_other_event_types():
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "landing"}
    assert parse_message(json.dumps(test_event)) == []
    assert parse_message(notification("incoming/a.txt", "ObjectRemoved:Delete")) == []
    sns = {"Type": "Notification", "Message": notification("incoming/a.txt")}
    assert [o.key for o in parse_message(json.dumps(sns))] == ["incoming/a.txt"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "a JSON list, not an object"),
        ('{"Message": "hi"}', "no Records"),
        ('{"Records": {"a": 1}}', "Records is not a list"),
        ('{"Records": [{"s3": {}}]}', "record 0 has no eventName"),
        ('{"Records": [{"eventName": "ObjectCreated:Put", "s3": {}}]}', "record 0 lacks"),
        (
            '{"Records": [{"eventName": "ObjectCreated:Put", '
            '"s3": {"bucket": {"name": "b"}, "object": {"key": 7}}}]}',
            "not a string",
        ),
    ],
)
def test_parse_message_rejects_what_is_not_a_notification(body, reason):
    with pytest.raises(MalformedMessage, match=reason):
        parse_message(body)


def test_config_validates_its_values(tmp_path):
    base = {
        "queue_url": "http://q",
        "landing": "s3://landing/incoming",
        "results": "s3://results/out",
        "state_dir": tmp_path,
        "prefect_api_url": "http://127.0.0.1:4200/api",
    }
    assert BridgeConfig(**base).landing_url == S3Url("landing", "incoming/")
    for change, message in (
        ({"landing": "landing/incoming"}, "not an S3 location"),
        ({"results": "s3:///x"}, "no bucket name"),
        ({"quiet_seconds": 0}, "quiet_seconds=0: must be above 0"),
        ({"marker": "a/b"}, "without '/'"),
        ({"visibility_timeout": 1}, "allowed 2..43200"),
        ({"poll_wait_seconds": 21}, "allowed 0..20"),
        ({"prefect_api_url": ""}, "set PREFECT_API_URL"),
    ):
        with pytest.raises(ConfigError, match=message):
            BridgeConfig(**{**base, **change})


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


def test_cli_parses_the_bridge_command():
    args = parser().parse_args(
        ["bridge", "--queue-url", "http://q", "--landing", "s3://b/in", "--results", "s3://r/o"]
    )
    assert (args.command, args.quiet_seconds, args.marker) == ("bridge", 20.0, "_READY")
    with pytest.raises(SystemExit):
        parser().parse_args(["bridge", "--queue-url", "q", "--landing", "b/in", "--results", "x"])


# -- servers: moto (S3 + SQS) and a recording HTTP endpoint -----------------------------------


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


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


@pytest.fixture
def landing(moto_endpoint: str) -> Landing:
    name = f"landing-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name=REGION, **KEYS)
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name=REGION, **KEYS)
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    s3.create_bucket(Bucket=name)
    s3.put_bucket_notification_configuration(
        Bucket=name,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": arn["Attributes"]["QueueArn"],
                    "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                }
            ]
        },
    )
    return Landing(moto_endpoint, s3, sqs, name, queue_url, dlq_url)


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


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    recorder = Recorder()
    yield recorder
    recorder.stop()


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


# -- the bridge against moto and the recorder -------------------------------------------------


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
    with caplog.at_level("ERROR", logger="flows.bridge"):
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


def test_an_api_that_refuses_the_event_for_good_raises(landing, recorder, tmp_path):
    recorder.answers = [422]
    recorder.start()
    emitter = PrefectEmitter(recorder.api_url)
    with pytest.raises(EmitError, match="HTTP 422"):
        emitter.emit({"event": EVENT})
    emitter.close()


def test_one_state_folder_serves_one_bridge(landing, tmp_path):
    config = make_config(landing, tmp_path, prefect_api_url="http://127.0.0.1:9/api")
    first = Bridge(config, sqs=landing.sqs)
    with pytest.raises(ConfigError, match="another bridge is using this state folder"):
        Bridge(config, sqs=landing.sqs)
    first.close()
    Bridge(config, sqs=landing.sqs).close()


# -- the real Prefect API ---------------------------------------------------------------------


class Crash(BaseException):
    """Stands for kill -9 at a chosen point."""


class CrashingDeletes:
    """The SQS client, except that deleting a batch of messages 'kills' the process."""

    def __init__(self, sqs: Any) -> None:
        self._sqs = sqs

    def __getattr__(self, name: str) -> Any:
        if name == "delete_message_batch":
            raise Crash
        return getattr(self._sqs, name)


class Recording(PrefectEmitter):
    """The real emitter, keeping what it sent; optionally 'killed' right after a POST."""

    def __init__(self, api_url: str, crash_after: bool = False) -> None:
        super().__init__(api_url)
        self.sent: list[dict[str, Any]] = []
        self.crash_after = crash_after

    def emit(self, event: dict[str, Any]) -> None:
        super().emit(event)
        self.sent.append(event)
        if self.crash_after:
            raise Crash


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


@pytest.mark.usefixtures("prefect_api")
def test_restarts_in_either_crash_window_lose_nothing_and_repeat_no_run(landing, tmp_path):
    for key in ("a.txt", "b.txt", "_READY"):
        landing.put(f"incoming/day1/{key}")
    landing.put("incoming/day2/c.txt")
    from prefect.settings import PREFECT_API_URL

    quiet = make_config(landing, tmp_path, quiet_seconds=2)
    assert quiet.prefect_api_url == PREFECT_API_URL.value()  # the default

    # 1. emitted day1 (marker) and saved the state, killed before deleting any message
    first_emitter = Recording(quiet.prefect_api_url)
    first = Bridge(quiet, sqs=CrashingDeletes(landing.sqs), emitter=first_emitter)
    with pytest.raises(Crash):
        cycle(first, lambda e: False)
    first.close()
    assert first.state.generation("incoming/day1/") == 1
    assert first.state.generation("incoming/day2/") == 0

    # 2. messages come back after the visibility timeout; day1's are recognised, day2 is
    #    batched again; killed after the POST, before saving the generation
    second_emitter = Recording(quiet.prefect_api_url, crash_after=True)
    second = Bridge(quiet, sqs=landing.sqs, emitter=second_emitter)
    with pytest.raises(Crash):
        cycle(second, lambda e: False, timeout=15)
    second.close()
    assert landing.counts() == (0, 1)  # only day2's message is left
    landing.put("incoming/day2/d.txt")  # lands while the bridge is down

    # 3. day2 generation 1 is announced again as it was (same id, one object); d.txt makes
    #    generation 2 once its quiet period is over; every message is deleted in the end
    third_emitter = Recording(quiet.prefect_api_url)
    third = Bridge(quiet, sqs=landing.sqs, emitter=third_emitter)
    emitted = cycle(third, lambda e: len(e) == 2 and drained(landing), timeout=15)
    third.close()

    sent = first_emitter.sent + second_emitter.sent + third_emitter.sent
    day1 = str(batch_id(landing.bucket, "incoming/day1/", 1))
    day2 = str(batch_id(landing.bucket, "incoming/day2/", 1))
    day2_next = str(batch_id(landing.bucket, "incoming/day2/", 2))
    assert [e["id"] for e in sent] == [day1, day2, day2, day2_next]
    assert [e["payload"]["objects"] for e in sent] == [2, 1, 1, 1]
    assert [str(b.id) for b in emitted] == [day2, day2_next]
    stored = prefect_events(landing.bucket, expected=3)
    assert sorted((e["id"], e["payload"]["generation"]) for e in stored) == sorted(
        [(day1, 1), (day2, 1), (day2_next, 2)]
    )
    assert {e["event"] for e in stored} == {EVENT}


@pytest.mark.usefixtures("prefect_api")
def test_cli_bridge_survives_kill_9_and_stops_on_sigterm(landing, tmp_path):
    from prefect.settings import PREFECT_API_URL

    landing.put("incoming/2026-11-26/chart-0001.txt")
    command = [
        sys.executable,
        "-m",
        "cli",
        "bridge",
        "--queue-url",
        landing.queue_url,
        "--landing",
        f"s3://{landing.bucket}/incoming/",
        "--results",
        "s3://results-bucket/results",
        "--dead-letter-queue-url",
        landing.dlq_url,
        "--quiet-seconds",
        "2",
        "--state-dir",
        str(tmp_path / "state"),
        "--endpoint-url",
        landing.endpoint,
        "--region",
        REGION,
        "--visibility-timeout",
        "2",
        "--poll-seconds",
        "1",
    ]
    env = {
        **os.environ,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }

    def start(log: Path) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"), cwd=Path.cwd()
        )

    def wait_for(condition: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.1)

    killed = start(tmp_path / "killed.log")
    wait_for(lambda: landing.counts() == (0, 1), timeout=10)  # the chart's message is held
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=5)
    assert not (tmp_path / "state" / "state.json").exists()  # killed mid-batch

    log = tmp_path / "bridge.log"
    bridge = start(log)
    try:
        wait_for(lambda: drained(landing), timeout=15)
        bridge.send_signal(signal.SIGTERM)
        assert bridge.wait(timeout=5) == 0
    finally:
        if bridge.poll() is None:
            bridge.kill()
    text = log.read_text()
    assert f"batch s3://{landing.bucket}/incoming/2026-11-26/ generation 1: 1 objects" in text
    assert "chart-0001" not in text  # keys stay out of logs at INFO
    assert "bridge stopped" in text
    [event] = prefect_events(landing.bucket, expected=1)
    assert event["id"] == str(batch_id(landing.bucket, "incoming/2026-11-26/", 1))
    assert event["payload"]["results"] == "s3://results-bucket/results/incoming/2026-11-26/"
