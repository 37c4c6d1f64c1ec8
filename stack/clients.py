"""Clients for the stack's services: boto3 for its S3/SQS, Prefect's for its API."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from stack.settings import FAKE_KEYS, StackSettings


def aws_client(settings: StackSettings, service: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=settings.s3_endpoint,
        region_name=settings.region,
        aws_access_key_id=FAKE_KEYS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_KEYS["AWS_SECRET_ACCESS_KEY"],
        config=Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 2}),
    )


@contextlib.contextmanager
def prefect_client(settings: StackSettings) -> Iterator[Any]:
    """A synchronous Prefect client for the stack's API, whatever this process's profile says."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        temporary_settings({PREFECT_API_URL: settings.api_url}),
        get_client(sync_client=True) as client,
    ):
        yield client
