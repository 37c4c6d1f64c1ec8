"""Fixtures of the bridge tests: a real moto server (S3 notifying SQS), a fresh landing bucket
and queue per test, and a recording stand-in for the Prefect events API.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest

from tests.bridge.harness import (
    KEYS,
    REGION,
    Landing,
    Recorder,
)
from tests.servers import moto_server


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


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


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    recorder = Recorder()
    yield recorder
    recorder.stop()
