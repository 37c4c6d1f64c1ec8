"""The bridge's settings: where notifications come from, where events go, how batches are cut.

`BridgeConfig` validates every value at construction (`ConfigError` names the bad value and what is
allowed); `S3Url` is an `s3://bucket/prefix` location with its prefix normalised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

SQS_MAX_WAIT = 20  # longest long poll
SQS_MAX_VISIBILITY = 43_200  # 12 hours


class ConfigError(ValueError):
    """A bad bridge setting; the message names the value and what is allowed."""


@dataclass(frozen=True)
class S3Url:
    """`s3://bucket/prefix`, the prefix normalised to end with "/" (or empty: the whole bucket)."""

    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, uri: str) -> S3Url:
        if not uri.startswith("s3://"):
            raise ConfigError(f"{uri!r}: not an S3 location (expected s3://bucket/prefix)")
        bucket, _, prefix = uri[len("s3://") :].partition("/")
        if not bucket:
            raise ConfigError(f"{uri!r}: no bucket name (expected s3://bucket/prefix)")
        prefix = prefix.strip("/")
        return cls(bucket, f"{prefix}/" if prefix else "")

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def default_state_dir() -> Path:
    from platformdirs import user_state_dir

    return Path(user_state_dir("chartcoder")) / "bridge"


def default_prefect_api_url() -> str:
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or ""


@dataclass(frozen=True)
class BridgeConfig:
    """Where notifications come from, where events go, and how batches are cut.

    `visibility_timeout` is the SQS visibility (seconds) the bridge keeps on messages it holds,
    renewed at half-time; `poll_wait_seconds` the longest long poll. `prefect_api_url` defaults to
    the PREFECT_API_URL setting, `endpoint_url` to AWS (set it for moto or another S3/SQS server).
    """

    queue_url: str
    landing: str
    results: str
    dead_letter_queue_url: str | None = None
    quiet_seconds: float = 20.0
    marker: str = "_READY"
    state_dir: Path = field(default_factory=default_state_dir)
    visibility_timeout: int = 120
    poll_wait_seconds: int = 20
    prefect_api_url: str = field(default_factory=default_prefect_api_url)
    endpoint_url: str | None = None
    region: str | None = None
    request_timeout: float = 10.0
    retry_initial_seconds: float = 1.0
    retry_max_seconds: float = 60.0

    def __post_init__(self) -> None:
        if not self.queue_url:
            raise ConfigError("queue_url is empty: give the URL of the SQS queue S3 notifies")
        S3Url.parse(self.landing)
        S3Url.parse(self.results)
        if not self.quiet_seconds > 0:
            raise ConfigError(f"quiet_seconds={self.quiet_seconds}: must be above 0")
        if not self.marker or "/" in self.marker:
            raise ConfigError(f"marker={self.marker!r}: must be a non-empty name without '/'")
        if not 2 <= self.visibility_timeout <= SQS_MAX_VISIBILITY:
            raise ConfigError(
                f"visibility_timeout={self.visibility_timeout}: allowed 2..{SQS_MAX_VISIBILITY} s"
            )
        if not 0 <= self.poll_wait_seconds <= SQS_MAX_WAIT:
            raise ConfigError(
                f"poll_wait_seconds={self.poll_wait_seconds}: allowed 0..{SQS_MAX_WAIT} s"
            )
        if not self.prefect_api_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"prefect_api_url={self.prefect_api_url!r}: need an http(s) URL "
                "(set PREFECT_API_URL or pass it)"
            )
        if not 0 < self.retry_initial_seconds <= self.retry_max_seconds:
            raise ConfigError(
                f"retry_initial_seconds={self.retry_initial_seconds}, retry_max_seconds="
                f"{self.retry_max_seconds}: need 0 < initial <= max"
            )
        object.__setattr__(self, "state_dir", Path(self.state_dir).expanduser())

    @property
    def landing_url(self) -> S3Url:
        return S3Url.parse(self.landing)

    @property
    def results_url(self) -> S3Url:
        return S3Url.parse(self.results)
