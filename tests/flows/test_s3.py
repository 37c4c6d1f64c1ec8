"""S3 in and out, through prefect-aws blocks, against a real moto server on loopback.

One object is archived (GLACIER): listing shows it, reading it fails with InvalidObjectState, so
its shard fails after its retries. The run must report that chart, keep every other result, write
a record for every chart, and exit non-zero. The batch brings its members and claims files in
its landing prefix (`members.csv`, `claims.csv`): they are risk-adjustment inputs, not charts.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pyarrow.parquet as pq
import pytest

from cli.commands import main
from flows.sources import ChartReader, Location, discover
from flows.storage import s3_bucket
from nlp.artifacts import Bundle
from nlp.reading import read_charts
from risk import errors
from tests.flows.pipeline_charts import EXAMPLES, code_records, from_flow
from tests.servers import moto_server

pytestmark = pytest.mark.usefixtures("prefect_api")

KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


def test_s3_source_and_destination_with_an_unreadable_object(
    tmp_path: Path, built: Bundle, s3_endpoint: str, ray_tmp: str, no_ray_left: None, capsys
) -> None:
    from prefect_aws import AwsCredentials

    AwsCredentials(**KEYS, region_name="us-east-1").save("moto-test", overwrite=True)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **KEYS)
    s3.create_bucket(Bucket="charts")
    local = tmp_path / "local"
    for path in sorted(EXAMPLES.rglob("*.txt")):
        key = path.relative_to(EXAMPLES).as_posix()
        s3.put_object(Bucket="charts", Key=f"in/{key}", Body=path.read_bytes())
        (local / key).parent.mkdir(parents=True, exist_ok=True)
        (local / key).write_bytes(path.read_bytes())
    records = [
        {"id": "rec-1", "text": "Assessment: type 2 diabetes mellitus without complications."},
        {"id": "rec-2", "text": "Essential hypertension, stable on lisinopril."},
    ]
    batch = "".join(json.dumps(r) + "\n" for r in records).encode()
    s3.put_object(Bucket="charts", Key="in/batch.jsonl", Body=batch)
    (tmp_path / "batch.jsonl").write_bytes(batch)
    s3.put_object(
        Bucket="charts", Key="in/archive/old.txt", Body=b"Asthma.", StorageClass="GLACIER"
    )
    s3.put_object(Bucket="charts", Key="elsewhere/skip.txt", Body=b"Not under the prefix.")
    # the landing prefix's members and claims (default demographics: the records stay those of
    # `chartcoder code`); claims.csv in a subfolder is a stray file, neither input nor chart
    members = "member_id,chart_id,age,sex\nM1,outpatient/copd_osa_visit,65,F\nM1,rec-1,65,F\n"
    claims = "member_id,dx\nM1,J44.9\nM1,E66.01\nM2,I10\n"
    s3.put_object(Bucket="charts", Key="in/members.csv", Body=members.encode())
    s3.put_object(Bucket="charts", Key="in/claims.csv", Body=claims.encode())
    s3.put_object(Bucket="charts", Key="in/archive/claims.csv", Body=b"not,read\n")

    code = main(
        [
            "run",
            "s3://charts/in",
            "--output",
            "s3://charts/out/run1",
            "--workers",
            "2",
            "--shard-size",
            "1",
            "--s3-endpoint-url",
            s3_endpoint,
            "--aws-credentials-block",
            "moto-test",
            "--artifacts",
            str(built.path),
            "--ray-temp-dir",
            ray_tmp,
            "--shard-retries",
            "1",
            "--notify",
            str(tmp_path / "notifications.jsonl"),
        ]
    )

    assert code == 1
    [note] = [json.loads(line) for line in (tmp_path / "notifications.jsonl").open()]
    assert note["subject"] == "chartcoder run failed: s3://charts/out/run1/"
    assert note["body"].startswith("9 charts: 8 coded (0 reused), 1 in error; results in s3://")
    err = capsys.readouterr().err
    assert "archive/old: not coded: shard" in err
    expected = code_records(built, [local, tmp_path / "batch.jsonl"])

    def get(key: str) -> bytes:
        return s3.get_object(Bucket="charts", Key=f"out/run1/{key}")["Body"].read()

    lines = [json.loads(line) for line in get("charts.jsonl").decode().splitlines()]
    assert [r["chart_id"] for r in lines] == sorted([*expected, "archive/old"])
    by_id = {r.pop("chart_id"): r for r in lines}
    for chart_id, record in expected.items():
        assert from_flow({"chart_id": chart_id, **by_id[chart_id]}) == record
    assert {cid: r["member_id"] for cid, r in by_id.items() if r["member_id"]} == {
        "outpatient/copd_osa_visit": "M1",
        "rec-1": "M1",
    }
    assert by_id["inpatient/pneumonia_sepsis_admission"]["setting"] == "inpatient"
    assert by_id["rec-1"]["setting"] == "outpatient"
    assert by_id["archive/old"]["codes"] == []
    assert by_id["archive/old"]["content_sha256"] is None
    texts = [json.loads(line) for line in get("texts.jsonl").decode().splitlines()]
    assert [t["chart_id"] for t in texts] == sorted(expected)  # archive/old cannot be read
    manifest = json.loads(get("manifest.json"))
    assert manifest["source"] == "s3://charts/in"
    assert manifest["destination"] == "s3://charts/out/run1"
    assert (manifest["charts_total"], manifest["charts_coded"], manifest["charts_failed"]) == (
        9,
        8,
        1,
    )
    [error] = manifest["errors"]
    assert error["chart_id"] == "archive/old"
    assert error["reason"].startswith("not coded: shard ")
    table = pq.read_table(io.BytesIO(get("codes.parquet")))
    assert table.num_rows == sum(len(r["codes"]) for r in expected.values())
    risk = manifest["risk"]
    assert (risk["members_file"], risk["claims_files"]) == (
        "s3://charts/in/members.csv",
        ["s3://charts/in/claims.csv"],
    )
    assert (risk["members"], risk["members_from_file"], risk["claims"]) == (1, True, True)
    opportunities = pq.read_table(io.BytesIO(get("opportunities.parquet"))).to_pylist()
    # COPD on the chart and the claims; the morbid obesity billed, no chart supports it
    assert {(o["member_id"], o["hcc"], o["status"]) for o in opportunities} >= {
        ("M1", "280", "confirmed"),
        ("M1", "48", "delete"),
    }
    reasons = {
        (e["reason"], e.get("member_id"), e.get("chart_id")) for e in manifest["claims_errors"]
    }
    assert (errors.MEMBER_WITHOUT_CHARTS, "M2", None) in reasons
    assert (errors.CHART_WITHOUT_MEMBER, None, "rec-2") in reasons
    hccs = pq.read_table(io.BytesIO(get("hccs.parquet"))).to_pylist()
    assert {(h["chart_id"], h["member_id"], h["hcc"]) for h in hccs} >= {
        ("outpatient/copd_osa_visit", "M1", "280")
    }


def test_s3_keys_and_records_get_the_settings_of_a_local_folder(
    tmp_path: Path, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {**KEYS, "aws_default_region": "us-east-1"}.items():
        monkeypatch.setenv(name.upper(), value)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **KEYS)
    s3.create_bucket(Bucket="settings")
    local = tmp_path / "local"
    texts = {
        "inpatient/a.txt": b"Probable pneumonia.",
        "site/outpatient/b.txt": b"Probable pneumonia.",
        "inpatient/outpatient/c.txt": b"Probable pneumonia.",
        "clinic/d.txt": b"Probable pneumonia.",
        "inpatient.txt": b"Probable pneumonia.",
    }
    for key, data in texts.items():
        s3.put_object(Bucket="settings", Key=f"in/{key}", Body=data)
        (local / key).parent.mkdir(parents=True, exist_ok=True)
        (local / key).write_bytes(data)
    records = [
        {"id": "r-own", "text": "Probable pneumonia.", "setting": "outpatient"},
        {"id": "r-folder", "text": "Probable pneumonia."},
        {"id": "r-bad", "text": "Probable pneumonia.", "setting": "ward"},
    ]
    batch = "".join(json.dumps(r) + "\n" for r in records).encode()
    s3.put_object(Bucket="settings", Key="in/inpatient/batch.jsonl", Body=batch)
    s3.put_object(Bucket="settings", Key="in/batch.jsonl", Body=batch)

    location = Location.parse("s3://settings/in")
    bucket = s3_bucket(location, s3_endpoint, None)
    refs = discover(location, bucket)
    reader = ChartReader(bucket)
    charts = {ref.chart_id: reader.read(ref).chart for ref in refs if ref.offset is None}
    # the same layout on disk gives the same ids, texts and settings
    assert charts == {c.chart_id: c for c in read_charts([local])}
    assert {c.chart_id: c.setting for c in charts.values()} == {
        "clinic/d": None,
        "inpatient": None,
        "inpatient/a": "inpatient",
        "inpatient/outpatient/c": "outpatient",
        "site/outpatient/b": "outpatient",
    }
    # records: their own setting, else the folder of their object; a bad one is an error
    read = [(ref.key, reader.read(ref).chart) for ref in refs if ref.offset is not None]
    assert [(key, c.chart_id, c.setting, c.error) for key, c in read] == [
        ("in/batch.jsonl", "r-own", "outpatient", None),
        ("in/batch.jsonl", "r-folder", None, None),
        (
            "in/batch.jsonl",
            "r-bad",
            None,
            "record setting 'ward' is not one of outpatient, inpatient",
        ),
        ("in/inpatient/batch.jsonl", "r-own", "outpatient", None),
        ("in/inpatient/batch.jsonl", "r-folder", "inpatient", None),
        (
            "in/inpatient/batch.jsonl",
            "r-bad",
            None,
            "record setting 'ward' is not one of outpatient, inpatient",
        ),
    ]
    assert [c for key, c in read if key == "in/batch.jsonl"] == list(
        read_charts([_write(tmp_path / "batch.jsonl", batch)])
    )


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
