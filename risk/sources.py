"""Reading a members or claims file whole, from a local path or `s3://bucket/key`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

from risk.errors import RiskInputError


def read_bytes(uri: str, s3_client: Any = None) -> bytes:
    """A file's bytes. `s3_client` is a boto3 S3 client (the flow passes its bucket's; by
    default boto3's, from the environment). A missing or unreadable file is a usage error."""
    if uri.startswith("s3://"):
        bucket, _, key = uri[len("s3://") :].partition("/")
        if not bucket or not key:
            raise RiskInputError(f"{uri}: expected s3://bucket/key")
        from botocore.exceptions import BotoCoreError, ClientError

        if s3_client is None:
            import boto3

            s3_client = boto3.client("s3")
        try:
            response = s3_client.get_object(Bucket=bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            raise RiskInputError(f"{uri}: cannot read: {exc}") from exc
        data: bytes = response["Body"].read()
        return data
    if "://" in uri:
        raise RiskInputError(f"{uri}: unsupported scheme (allowed: a local path, s3://)")
    try:
        return Path(uri).expanduser().read_bytes()
    except OSError as exc:
        raise RiskInputError(f"{uri}: cannot read: {exc.strerror or exc}") from exc


def decode_text(uri: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RiskInputError(f"{uri}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def iso_date(value: str) -> date | None:
    """A `YYYY-MM-DD` date, or None when the value is not one."""
    if not _ISO_DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


# What an event-triggered batch picks up directly in its landing prefix (not charts).
MEMBERS_FILE = "members.csv"
CLAIMS_FILES = ("claims.csv", "claims.837", "claims.x12")


def landing_inputs(base: str, names: Iterable[str]) -> tuple[str | None, list[str]]:
    """The members file and claims files among the names directly under a batch's landing
    prefix or folder `base` (a local path or `s3://bucket/prefix`): (members uri, claims uris)."""
    present = set(names)
    root = base.rstrip("/") + "/"
    members = root + MEMBERS_FILE if MEMBERS_FILE in present else None
    return members, [root + name for name in CLAIMS_FILES if name in present]
