"""S3 event notifications (direct or through SNS) read into created objects; what is not one is
refused with its reason.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote_plus

import pytest

from bridge.notifications import MalformedMessage, S3Object, parse_message


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
