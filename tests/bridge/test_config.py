"""The bridge settings are validated at construction."""

from __future__ import annotations

import pytest

from bridge.config import BridgeConfig, ConfigError, S3Url


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
