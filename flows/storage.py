"""Where results go: a local folder or an S3 prefix, each file replaced whole.

Locally a file is written to a temporary name in the same folder and renamed over the old one;
on S3 each object is put whole (a PUT replaces an object atomically). `s3_bucket` gives the
prefect-aws `S3Bucket` that reads or writes an s3:// location (charts and results alike).
"""

from __future__ import annotations

import logging
import os
import tempfile
from typing import TYPE_CHECKING

from flows.sources import Location

if TYPE_CHECKING:
    from prefect_aws.s3 import S3Bucket

log = logging.getLogger(__name__)


def s3_bucket(
    location: Location, endpoint_url: str | None, credentials_block: str | None
) -> S3Bucket | None:
    """The prefect-aws `S3Bucket` for an s3:// location (None for a local path)."""
    if not location.is_s3:
        return None
    from prefect_aws import AwsClientParameters, AwsCredentials
    from prefect_aws.s3 import S3Bucket

    credentials: AwsCredentials
    if credentials_block:
        credentials = AwsCredentials.load(credentials_block)  # type: ignore[assignment]
        if endpoint_url:
            credentials.aws_client_parameters = AwsClientParameters(endpoint_url=endpoint_url)
    else:
        credentials = AwsCredentials(
            aws_client_parameters=AwsClientParameters(endpoint_url=endpoint_url)
        )
    return S3Bucket(bucket_name=str(location.bucket), credentials=credentials)


class Destination:
    def __init__(self, location: Location, bucket: S3Bucket | None = None) -> None:
        if location.is_s3 and bucket is None:
            raise ValueError(f"{location.uri}: an S3 destination needs an S3Bucket")
        self.location = location
        self.bucket = bucket

    def uri(self, name: str) -> str:
        if self.location.is_s3:
            return f"s3://{self.location.bucket}/{self.location.prefix}{name}"
        return str(self.location.path / name)

    def read(self, name: str) -> bytes | None:
        """A file's bytes, or None when there is no such file."""
        if not self.location.is_s3:
            path = self.location.path / name
            return path.read_bytes() if path.is_file() else None
        assert self.bucket is not None
        client = self.bucket.credentials.get_s3_client()
        try:
            response = client.get_object(
                Bucket=self.location.bucket, Key=f"{self.location.prefix}{name}"
            )
        except client.exceptions.NoSuchKey:
            return None
        return response["Body"].read()

    def write(self, name: str, data: bytes) -> str:
        """Replace a file whole; returns its URI."""
        if self.location.is_s3:
            assert self.bucket is not None
            self.bucket.write_path(f"{self.location.prefix}{name}", data)
            return self.uri(name)
        folder = self.location.path
        folder.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, folder / name)
        except BaseException:
            os.unlink(temp)
            raise
        return self.uri(name)
