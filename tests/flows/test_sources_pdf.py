"""The flow's sources read PDF charts as `chartcoder code` does: local folders and S3 keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from prefect_aws import AwsClientParameters, AwsCredentials
from prefect_aws.s3 import S3Bucket

from flows.sources import ChartReader, Location, discover
from nlp.reading import read_charts
from tests.records.pdf_builders import fax_tiff, text_layer_pdf
from tests.servers import moto_server

KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
VISIT = "OFFICE VISIT\nDate of Service: 02/10/2026\nAssessment: Migraine without aura."


def test_a_local_folder_gives_pdfs_the_ids_and_text_of_chartcoder_code(tmp_path: Path):
    (tmp_path / "inpatient").mkdir()
    (tmp_path / "a.pdf").write_bytes(text_layer_pdf([VISIT, VISIT]))
    (tmp_path / "b.txt").write_text("HTN.", encoding="utf-8")
    (tmp_path / "inpatient" / "c.PDF").write_bytes(text_layer_pdf([VISIT]))
    refs = discover(Location.parse(str(tmp_path)))
    assert [(r.chart_id, r.setting) for r in refs] == [
        ("a", None),
        ("b", None),
        ("inpatient/c", "inpatient"),
    ]
    reader = ChartReader()
    assert [reader.read(r).chart for r in refs] == list(read_charts([tmp_path]))
    assert [p.source for p in reader.read(refs[0]).chart.pages] == ["text_layer"] * 2


def test_a_pdf_is_limited_by_the_pdf_byte_limit_not_the_text_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    path = tmp_path / "a.pdf"
    path.write_bytes(text_layer_pdf([VISIT]))
    (ref,) = discover(Location.parse(str(path)))
    assert ChartReader(max_bytes=100).read(ref).chart.error is None  # the PDF is over 100 bytes
    monkeypatch.setenv("CHARTCODER_PDF_MAX_BYTES", "100")
    size = path.stat().st_size
    error = ChartReader().read(ref).chart.error
    assert error == f"PDF too large: {size} bytes, the limit is 100"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


def test_s3_keys_ending_in_pdf_are_charts(s3_endpoint: str):
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **KEYS)
    s3.create_bucket(Bucket="scans")
    s3.put_object(Bucket="scans", Key="in/outpatient/visit.pdf", Body=text_layer_pdf([VISIT]))
    s3.put_object(Bucket="scans", Key="in/note.txt", Body=b"HTN.")
    s3.put_object(Bucket="scans", Key="in/fax/0412.tiff", Body=fax_tiff([VISIT]))
    s3.put_object(Bucket="scans", Key="in/cover.docx", Body=b"PK")
    credentials = AwsCredentials(
        **KEYS,
        region_name="us-east-1",
        aws_client_parameters=AwsClientParameters(endpoint_url=s3_endpoint),
    )
    bucket = S3Bucket(bucket_name="scans", credentials=credentials)
    refs = discover(Location.parse("s3://scans/in"), bucket)
    assert [(r.chart_id, r.setting) for r in refs] == [
        ("fax/0412", None),
        ("note", None),
        ("outpatient/visit", "outpatient"),
    ]
    chart = ChartReader(bucket).read(refs[2]).chart
    assert (chart.text, chart.setting, len(chart.pages)) == (f"{VISIT}\n", "outpatient", 1)
    fax = ChartReader(bucket).read(refs[0]).chart
    assert [p.source for p in fax.pages] == ["ocr"] and "Migraine without aura" in fax.text
