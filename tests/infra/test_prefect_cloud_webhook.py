"""The Prefect Cloud path: infra/prefect-cloud/webhook-template.j2 and eventbridge.yaml.

Prefect Cloud's webhook renderer is not public; the template is rendered here with Jinja2 in
Prefect's own user-template sandbox (`prefect.server.utilities.user_templates`: immutable
sandbox, ChainableUndefined, Prefect's `tojson`), with the context Cloud documents: `method`,
case-insensitive `headers`, and `body` parsed from JSON. The result must parse as a Prefect event
that the deployment trigger (match chartcoder.batch.*, expect chartcoder.batch.ready) covers.
eventbridge.yaml is linted in test_cloudformation.py; here its rule's pattern runs in moto's
EventBridge against real S3 "Object Created" events.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from prefect.server.events.schemas.automations import EventTrigger, Posture
from prefect.server.events.schemas.events import ReceivedEvent
from prefect.server.utilities.user_templates import (
    TemplateRenderError,
    render_user_template_sync,
    validate_user_template,
)
from requests.structures import CaseInsensitiveDict

from tests.infra.test_cloudformation import load_template, resolve

CLOUD = Path(__file__).resolve().parents[2] / "infra" / "prefect-cloud"
TEMPLATE = (CLOUD / "webhook-template.j2").read_text(encoding="utf-8")

LANDING = "chartcoder-landing-111122223333"
RESULTS = "s3://chartcoder-results-111122223333/"
# The "Object created" example of the S3 user guide (EventBridge event message structure), with
# the key of a batch marker.
OBJECT_CREATED: dict[str, Any] = {
    "version": "0",
    "id": "17793124-05d4-b198-2fde-7ededc63b103",
    "detail-type": "Object Created",
    "source": "aws.s3",
    "account": "111122223333",
    "time": "2021-11-12T00:00:00Z",
    "region": "ca-central-1",
    "resources": [f"arn:aws:s3:::{LANDING}"],
    "detail": {
        "version": "0",
        "bucket": {"name": LANDING},
        "object": {
            "key": "incoming/batch-42/_READY",
            "size": 0,
            "etag": "d41d8cd98f00b204e9800998ecf8427e",
            "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
            "sequencer": "00617F08299329D189",
        },
        "request-id": "N4N7GDK58NMKJ12R",
        "requester": "123456789012",
        "source-ip-address": "1.2.3.4",
        "reason": "PutObject",
    },
}
# What the EventBridge target adds (HttpParameters in eventbridge.yaml) and sends anyway.
HEADERS = {
    "Content-Type": "application/json; charset=utf-8",
    "X-Chartcoder-Results": RESULTS,
    "X-Chartcoder-Landing-Prefix": "incoming/",
}
# The deployment trigger of the self-hosted set-up (see /work/shared/VERIFIED.md), unchanged.
TRIGGER = EventTrigger(
    match={"prefect.resource.id": "chartcoder.batch.*"},
    expect={"chartcoder.batch.ready"},
    posture=Posture.Reactive,
    threshold=1,
)


def render(body: Any, headers: dict[str, str] = HEADERS) -> dict[str, Any]:
    context = {"method": "POST", "headers": CaseInsensitiveDict(headers), "body": body}
    return json.loads(render_user_template_sync(TEMPLATE, context))


def with_key(key: str) -> dict[str, Any]:
    event = copy.deepcopy(OBJECT_CREATED)
    event["detail"]["object"]["key"] = key
    return event


def test_template_passes_prefects_template_checks() -> None:
    validate_user_template(TEMPLATE)  # parses in the sandbox; loop limits


def test_a_marker_becomes_a_batch_ready_event_the_trigger_covers() -> None:
    rendered = render(OBJECT_CREATED)
    assert rendered == {
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "occurred": "2021-11-12T00:00:00Z",
        "event": "chartcoder.batch.ready",
        "resource": {
            "prefect.resource.id": f"chartcoder.batch.{LANDING}/incoming/batch-42/",
            "prefect.resource.name": f"{LANDING}/incoming/batch-42/",
            "chartcoder.marker": "incoming/batch-42/_READY",
        },
        "payload": {
            "bucket": LANDING,
            "prefix": "incoming/batch-42/",
            "results": f"{RESULTS}batch-42/",
            "objects": None,
            "generation": int("00617F08299329D189", 16),
            "reason": "marker",
        },
    }
    assert set(rendered["payload"]) == {
        "bucket",
        "prefix",
        "results",
        "objects",
        "generation",
        "reason",
    }
    event = ReceivedEvent.model_validate(rendered)
    assert str(event.id) == OBJECT_CREATED["id"]  # a redelivery by EventBridge is deduplicated
    assert TRIGGER.covers(event)


def test_other_objects_do_not_start_a_batch() -> None:
    for key in ("incoming/batch-42/chart-1.txt", "_READY", "incoming/batch-42/_READY.txt"):
        rendered = render(with_key(key))
        assert rendered["event"] == "chartcoder.object.created"
        assert rendered["payload"] == {"bucket": LANDING, "key": key, "size": 0}
        assert not TRIGGER.covers(ReceivedEvent.model_validate(rendered))


def test_results_follow_the_header_and_are_null_without_it() -> None:
    nested = with_key("incoming/2026/11/ward-3/_READY")
    headers = {**HEADERS, "X-Chartcoder-Results": "s3://other-results/coded"}
    payload = render(nested, headers)["payload"]
    assert payload["prefix"] == "incoming/2026/11/ward-3/"
    assert payload["results"] == "s3://other-results/coded/2026/11/ward-3/"
    bare = {"Content-Type": "application/json"}
    assert render(OBJECT_CREATED, bare)["payload"]["results"] is None


def test_a_request_that_is_not_an_s3_event_fails_to_render() -> None:
    # In Cloud this becomes a prefect-cloud.webhook.failed event, not a run with empty parameters.
    with pytest.raises(TemplateRenderError, match="detail"):
        render("hello")


def test_eventbridge_rule_forwards_only_batch_markers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule's pattern from eventbridge.yaml, in moto's EventBridge (an SQS target stands in
    for the API destination), against the events moto's S3 sends; the marker then renders."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    rule = load_template(CLOUD / "eventbridge.yaml")["Resources"]["BatchMarkerRule"]
    pattern = resolve(
        rule["Properties"]["EventPattern"],
        {"LandingBucketName": LANDING, "LandingPrefix": "incoming/"},
    )
    with mock_aws():
        s3, sqs, events = boto3.client("s3"), boto3.client("sqs"), boto3.client("events")
        s3.create_bucket(Bucket=LANDING)
        s3.create_bucket(Bucket="someone-else")
        for bucket in (LANDING, "someone-else"):
            s3.put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
            )
        queue = sqs.create_queue(QueueName="webhook-stand-in")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events.put_rule(Name="chartcoder-batch-markers", EventPattern=json.dumps(pattern))
        events.put_targets(
            Rule="chartcoder-batch-markers", Targets=[{"Id": "webhook", "Arn": queue_arn}]
        )
        for bucket, key in (
            (LANDING, "incoming/batch-42/chart-1.txt"),
            (LANDING, "incoming/batch-42/_READY"),
            (LANDING, "incoming/_READY"),  # no batch folder
            (LANDING, "elsewhere/batch-1/_READY"),  # outside the landing prefix
            ("someone-else", "incoming/batch-42/_READY"),
        ):
            s3.put_object(Bucket=bucket, Key=key, Body=b"")
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    [delivered] = [json.loads(message["Body"]) for message in messages]
    assert (delivered["detail-type"], delivered["detail"]["object"]["key"]) == (
        "Object Created",
        "incoming/batch-42/_READY",
    )
    payload = render(delivered)["payload"]
    assert (payload["bucket"], payload["prefix"], payload["results"]) == (
        LANDING,
        "incoming/batch-42/",
        f"{RESULTS}batch-42/",
    )
