"""`chartcoder review s3://...`: results read from an S3-compatible server (moto, loopback)."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from cli.commands import main
from review.site import page_name

KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def test_the_site_of_results_on_s3(
    tmp_path: Path, results, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from tests.servers import moto_server

    folder, records = results
    for name, value in {**KEYS, "aws_default_region": "us-east-1"}.items():
        monkeypatch.setenv(name.upper(), value)
    with moto_server() as endpoint:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **KEYS)
        s3.create_bucket(Bucket="results")
        for path in folder.iterdir():  # no hccs/opportunities on S3 would be fine too
            s3.put_object(Bucket="results", Key=f"runs/r1/{path.name}", Body=path.read_bytes())
        site = tmp_path / "site"
        args = ["review", "s3://results/runs/r1", "--output", str(site)]
        assert main([*args, "--s3-endpoint-url", endpoint]) == 0
        assert (
            main(
                [
                    "review",
                    "s3://results/elsewhere",
                    "--output",
                    str(site),
                    "--s3-endpoint-url",
                    endpoint,
                ]
            )
            == 2
        )
    assert "s3://results/elsewhere/: no charts.jsonl" in capsys.readouterr().err
    index = (site / "index.html").read_text(encoding="utf-8")
    assert all(page_name(chart_id) in index for chart_id in records)
    page = (site / page_name("clinic/htn")).read_text(encoding="utf-8")
    assert '<pre id="text">' in page and 'id="ev-c0-0"' in page
