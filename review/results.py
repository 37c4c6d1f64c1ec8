"""Reading a `chartcoder run` destination: the records, the texts and what risk adjustment adds.

`charts.jsonl` is required; `texts.jsonl`, `manifest.json`, `hccs.parquet` and
`opportunities.parquet` are read when present (older runs and runs without risk adjustment lack
them). A reader is any function `name -> bytes | None` (None: no such file), so the same code
reads a local folder, an S3 prefix, or the flow's own destination.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Reader = Callable[[str], bytes | None]

CHARTS = "charts.jsonl"
TEXTS = "texts.jsonl"
MANIFEST = "manifest.json"
HCCS = "hccs.parquet"
OPPORTUNITIES = "opportunities.parquet"


class ResultsError(ValueError):
    """A destination that holds no results, or a damaged results file."""


@dataclass(frozen=True, slots=True)
class Results:
    where: str
    records: list[dict[str, Any]]
    texts: dict[str, str]
    manifest: dict[str, Any] = field(default_factory=dict)
    hcc_rows: list[dict[str, Any]] = field(default_factory=list)
    opportunity_rows: list[dict[str, Any]] = field(default_factory=list)
    has_texts: bool = True


def load(read: Reader, where: str) -> Results:
    data = read(CHARTS)
    if data is None:
        raise ResultsError(f"{where}: no {CHARTS} (not a `chartcoder run` destination)")
    records = [
        record
        for line_no, record in _json_lines(data, f"{where}{CHARTS}")
        if _check_record(record, f"{where}{CHARTS}:{line_no}")
    ]
    raw_texts = read(TEXTS)
    texts: dict[str, str] = {}
    for line_no, item in _json_lines(raw_texts or b"", f"{where}{TEXTS}"):
        if not isinstance(item.get("chart_id"), str) or not isinstance(item.get("text"), str):
            raise ResultsError(f"{where}{TEXTS}:{line_no}: not a {{chart_id, text}} record")
        texts[item["chart_id"]] = item["text"]
    manifest_data = read(MANIFEST)
    manifest = json.loads(manifest_data) if manifest_data else {}
    return Results(
        where=where,
        records=sorted(records, key=lambda r: r["chart_id"]),
        texts=texts,
        manifest=manifest if isinstance(manifest, dict) else {},
        hcc_rows=_parquet_rows(read(HCCS)),
        opportunity_rows=_parquet_rows(read(OPPORTUNITIES)),
        has_texts=raw_texts is not None,
    )


def _json_lines(data: bytes, name: str) -> list[tuple[int, dict[str, Any]]]:
    found = []
    for line_no, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise ResultsError(f"{name}:{line_no}: not JSON ({exc})") from exc
        if not isinstance(item, dict):
            raise ResultsError(f"{name}:{line_no}: not a JSON object")
        found.append((line_no, item))
    return found


def _check_record(record: dict[str, Any], where: str) -> bool:
    if not isinstance(record.get("chart_id"), str) or not isinstance(record.get("codes"), list):
        raise ResultsError(f"{where}: not a chartcoder record (chart_id and codes expected)")
    return True


def _parquet_rows(data: bytes | None) -> list[dict[str, Any]]:
    if data is None:
        return []
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(data)).to_pylist()


def local_reader(folder: Path) -> Reader:
    def read(name: str) -> bytes | None:
        path = folder / name
        return path.read_bytes() if path.is_file() else None

    return read


def s3_reader(uri: str, endpoint_url: str | None = None) -> Reader:
    """Files under `s3://bucket/prefix/`, read with boto3 (credentials, region and
    `AWS_ENDPOINT_URL` from the environment, as the flow's workers have them)."""
    import boto3

    bucket, _, prefix = uri[len("s3://") :].partition("/")
    if not bucket:
        raise ResultsError(f"{uri}: no bucket name (expected s3://bucket/prefix)")
    prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
    client = boto3.client("s3", endpoint_url=endpoint_url)

    def read(name: str) -> bytes | None:
        try:
            return client.get_object(Bucket=bucket, Key=f"{prefix}{name}")["Body"].read()
        except client.exceptions.NoSuchKey:
            return None

    return read


def reader_for(results: str, endpoint_url: str | None = None) -> tuple[Reader, str]:
    """The reader of a destination given as a local folder or `s3://bucket/prefix`, and how
    it is named in messages."""
    if results.startswith("s3://"):
        return s3_reader(results, endpoint_url), results.rstrip("/") + "/"
    if "://" in results:
        raise ResultsError(f"{results}: unsupported scheme (allowed: a local folder, s3://)")
    folder = Path(results).expanduser()
    if not folder.is_dir():
        raise ResultsError(f"{folder}: no such folder")
    return local_reader(folder), f"{folder}/"
