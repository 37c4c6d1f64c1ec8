"""S3 event notifications, as SQS delivers them, read into the objects they announce."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import unquote_plus


class MalformedMessage(ValueError):
    """An SQS message that is not an S3 event notification; the message says why."""


@dataclass(frozen=True)
class S3Object:
    """One ObjectCreated record. `version` (the S3 sequencer, else eTag@eventTime) tells a
    re-delivered notification (same key, same version) from a new write of the key."""

    bucket: str
    key: str
    version: str


def parse_message(body: str) -> list[S3Object]:
    """The created objects an SQS message announces (S3 direct, or S3 -> SNS -> SQS).

    The `s3:TestEvent` and records other than ObjectCreated give nothing; keys are URL-decoded.
    Anything else raises `MalformedMessage`.
    """
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise MalformedMessage(f"not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise MalformedMessage(f"a JSON {type(data).__name__}, not an object")
    if data.get("Type") == "Notification" and isinstance(data.get("Message"), str):
        return parse_message(data["Message"])  # delivered through SNS
    if data.get("Event") == "s3:TestEvent":
        return []
    records = data.get("Records")
    if records is None:
        raise MalformedMessage("no Records")
    if not isinstance(records, list):
        raise MalformedMessage("Records is not a list")
    objects = []
    for number, record in enumerate(records):
        if not isinstance(record, dict) or not isinstance(record.get("eventName"), str):
            raise MalformedMessage(f"record {number} has no eventName")
        if not record["eventName"].removeprefix("s3:").startswith("ObjectCreated:"):
            continue
        try:
            bucket = record["s3"]["bucket"]["name"]
            described = record["s3"]["object"]
            key = described["key"]
        except (KeyError, TypeError) as exc:
            raise MalformedMessage(
                f"record {number} lacks s3.bucket.name or s3.object.key"
            ) from exc
        if not (isinstance(bucket, str) and isinstance(key, str) and key):
            raise MalformedMessage(f"record {number}: bucket name or key is not a string")
        sequencer = described.get("sequencer")
        if sequencer is None:  # servers without sequencers (moto): the write's eTag and time
            sequencer = f"{described.get('eTag', '')}@{record.get('eventTime', '')}"
        if not isinstance(sequencer, str):
            raise MalformedMessage(f"record {number}: sequencer is not a string")
        objects.append(S3Object(bucket, unquote_plus(key), sequencer))
    return objects
