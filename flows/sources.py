"""Where charts come from: references to charts (never their text), and reading them back.

A source is a local folder, a local `.txt`/`.pdf`/`.tif`/`.jsonl` file, or `s3://bucket/prefix`.
The input rules are those of `chartcoder code` (`nlp.reading`): a folder contributes its `.txt`,
`.pdf` and `.tif`/`.tiff` files recursively, sorted, with the relative path without its suffix
as chart id. Under an S3 prefix the same rule applies to keys, and `.jsonl` objects are record
files (`{"id", "text"}` per line). A PDF or a fax is read (text layer, OCR) where its bytes are
read: in the Ray workers. Where two charts give one id (a `.txt` and a `.pdf`, two `.jsonl`
records), both are listed; `split_duplicates` keeps the first in path order for coding and makes
the second an error record naming the first (`nlp.reading.duplicate_chart`, as `chartcoder code`
does). A chart's setting follows `nlp.reading` too: a record's `"setting"`, else an `inpatient/`
or `outpatient/` folder in its path (or its `.jsonl` object's key) relative to the source.

Discovery (in the driver) yields `ChartRef`s: an id, where the bytes are, and their size. The
Ray workers read the bytes themselves (`ChartReader`), so chart text never passes through the
orchestrator.
"""

from __future__ import annotations

import hashlib
import heapq
import io
import logging
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from nlp.reading import (
    ChartSourceError,
    PdfReader,
    chart_from_bytes,
    chart_id_for,
    chart_paths,
    chart_suffix,
    duplicate_chart,
    folder_setting,
    jsonl_line_chart,
    size_refusal,
)
from nlp.records import Chart
from nlp.settings import MAX_CHART_BYTES
from records import read_pdf

if TYPE_CHECKING:
    from prefect_aws.s3 import S3Bucket

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Location:
    """A local path or an S3 bucket and prefix, parsed from a string."""

    uri: str
    bucket: str | None = None
    prefix: str = ""

    @classmethod
    def parse(cls, uri: str) -> Location:
        if uri.startswith("s3://"):
            bucket, _, prefix = uri[len("s3://") :].partition("/")
            if not bucket:
                raise ChartSourceError(f"{uri}: no bucket name (expected s3://bucket/prefix)")
            prefix = prefix.strip("/")
            return cls(uri, bucket, f"{prefix}/" if prefix else "")
        if "://" in uri:
            raise ChartSourceError(f"{uri}: unsupported scheme (allowed: a local path, s3://)")
        return cls(str(Path(uri).expanduser().resolve()))

    @property
    def is_s3(self) -> bool:
        return self.bucket is not None

    @property
    def path(self) -> Path:
        if self.is_s3:
            raise ValueError(f"{self.uri} is not a local path")
        return Path(self.uri)


@dataclass(frozen=True, slots=True)
class ChartRef:
    """Where one chart's bytes are: a file or S3 key, or a byte range (a line of a `.jsonl`),
    and the setting its folder gives it (`nlp.reading.folder_setting`; a record's own wins)."""

    chart_id: str
    key: str
    size: int
    offset: int | None = None
    line_no: int | None = None
    setting: str | None = None


def discover(location: Location, bucket: S3Bucket | None = None) -> list[ChartRef]:
    """Every chart at a source, with the ids `chartcoder code` gives them."""
    if location.is_s3:
        if bucket is None:
            raise ValueError(f"{location.uri}: an S3 source needs an S3Bucket")
        return _discover_s3(location, bucket)
    path = location.path
    if path.is_dir():
        return [
            ChartRef(cid, str(p), p.stat().st_size, setting=folder_setting(cid))
            for cid, p in chart_paths(path)
        ]
    if path.is_file() and path.suffix == ".jsonl":
        return list(_jsonl_refs(path.name, str(path), path.read_bytes()))
    if path.is_file() and chart_suffix(path.name) is not None:
        return [ChartRef(path.stem, str(path), path.stat().st_size)]
    if not path.exists():
        raise ChartSourceError(f"{path}: no such file or folder")
    raise ChartSourceError(f"{path}: not a .txt, .pdf, .tif or .jsonl file, nor a folder")


def names_at_top(location: Location, bucket: S3Bucket | None = None) -> list[str]:
    """The names of the files directly in a source folder or under a source prefix (not in its
    subfolders): where a batch's members and claims files land (`risk.sources.landing_inputs`).
    A source that is a file has none."""
    if not location.is_s3:
        path = location.path
        return sorted(p.name for p in path.iterdir() if p.is_file()) if path.is_dir() else []
    if bucket is None:
        raise ValueError(f"{location.uri}: an S3 source needs an S3Bucket")
    client = bucket.credentials.get_s3_client()
    names: list[str] = []
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=location.bucket, Prefix=location.prefix, Delimiter="/"
    )
    for page in pages:
        names += [obj["Key"][len(location.prefix) :] for obj in page.get("Contents", [])]
    return sorted(name for name in names if name)


def _discover_s3(location: Location, bucket: S3Bucket) -> list[ChartRef]:
    objects: list[dict[str, Any]] = bucket.list_objects(folder=location.prefix)  # type: ignore[assignment]
    refs: list[ChartRef] = []
    for obj in sorted(objects, key=lambda o: o["Key"]):
        key: str = obj["Key"]
        relative = key[len(location.prefix) :]
        if key.endswith("/") or not relative:
            continue
        setting = folder_setting(relative)
        chart_id = chart_id_for(relative)
        if chart_id is not None:
            refs.append(ChartRef(chart_id, key, int(obj["Size"]), setting=setting))
        elif key.endswith(".jsonl"):
            data: bytes = bucket.read_path(key)  # type: ignore[assignment]
            refs.extend(_jsonl_refs(PurePosixPath(key).name, key, data, setting))
    return refs


def _jsonl_refs(name: str, key: str, data: bytes, setting: str | None = None) -> list[ChartRef]:
    """One reference per non-blank line; ids as `nlp.reading.read_jsonl` gives them."""
    refs = []
    offset = 0
    for line_no, raw in enumerate(io.BytesIO(data), start=1):
        start, offset = offset, offset + len(raw)
        if not raw.strip():
            continue
        chart_id = jsonl_line_chart(f"{name}:{line_no}", raw).chart_id
        refs.append(ChartRef(chart_id, key, len(raw), start, line_no, setting))
    return refs


# With no shard size asked for: about this many shards per worker, enough to balance the actors'
# load and to show progress, each at most MAX_AUTO_SHARD_SIZE charts (all a lost actor costs).
# Prefect's work per task run is fixed, so fewer, larger shards leave the actors more CPU:
# bench/pipeline.py measured 1.70x the single process with 100-chart shards, 1.78x with 500.
SHARDS_PER_WORKER = 8
MAX_AUTO_SHARD_SIZE = 500


def auto_shard_size(charts: int, workers: int) -> int:
    """Charts per shard for `charts` charts on `workers` workers when none is asked for."""
    return max(1, min(MAX_AUTO_SHARD_SIZE, -(-charts // (max(workers, 1) * SHARDS_PER_WORKER))))


def balanced_shards(refs: list[ChartRef], shard_size: int) -> list[list[ChartRef]]:
    """About `shard_size` charts per shard, balanced by size (largest first, into the lightest
    shard); each shard sorted by chart id, the heaviest shards first."""
    if shard_size < 1:
        raise ValueError(f"shard_size={shard_size}: at least 1")
    count = -(-len(refs) // shard_size)
    bins: list[list[ChartRef]] = [[] for _ in range(count)]
    heap = [(0, 0, i) for i in range(count)]
    for ref in sorted(refs, key=lambda r: (-r.size, r.chart_id)):
        load, size, i = heapq.heappop(heap)
        bins[i].append(ref)
        heapq.heappush(heap, (load + max(ref.size, 1), size + 1, i))
    shards = [sorted(b, key=lambda r: r.chart_id) for b in bins if b]
    shards.sort(key=lambda b: -sum(r.size for r in b))
    return shards


@dataclass(frozen=True, slots=True)
class DuplicateRef:
    """A chart whose id an earlier chart of the source already has: it is not read or coded,
    its record is an error naming where the first one is (`place`, as `chartcoder code` names
    it: the path relative to the source, `name.jsonl:line` for a record)."""

    ref: ChartRef
    first: str

    @property
    def reason(self) -> str:
        return str(duplicate_chart(self.ref.chart_id, self.first).error)


def ref_place(ref: ChartRef, location: Location) -> str:
    """Where a chart sits, relative to its source: `a.pdf`, `in/notes.jsonl:3`."""
    if location.is_s3:
        name = ref.key[len(location.prefix) :]
    elif location.path.is_dir():
        name = Path(ref.key).relative_to(location.path).as_posix()
    else:
        name = Path(ref.key).name
    return f"{name}:{ref.line_no}" if ref.line_no is not None else name


def split_duplicates(
    refs: list[ChartRef], location: Location
) -> tuple[list[ChartRef], list[DuplicateRef]]:
    """The charts to code (the first of each id, in discovery order: path order, then line
    order) and the later ones with an id already seen, each naming the first."""
    first: dict[str, ChartRef] = {}
    duplicates = []
    for ref in refs:
        if ref.chart_id in first:
            duplicates.append(DuplicateRef(ref, ref_place(first[ref.chart_id], location)))
        else:
            first[ref.chart_id] = ref
    return list(first.values()), duplicates


@dataclass(frozen=True, slots=True)
class ReadChart:
    chart: Chart
    sha256: str | None


class ChartReader:
    """Reads referenced charts (in a Ray worker): bytes, content hash, decoded `Chart`.

    Picklable: it holds the S3 block (or nothing) and builds its client on first use.
    I/O errors raise (they are retried by the caller); unreadable content is a chart error.
    """

    def __init__(self, bucket: S3Bucket | None = None, max_bytes: int = MAX_CHART_BYTES) -> None:
        self.bucket = bucket
        self.max_bytes = max_bytes
        self._client: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "max_bytes": self.max_bytes}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.bucket = state["bucket"]
        self.max_bytes = state["max_bytes"]
        self._client = None

    def read(self, ref: ChartRef, pdf_reader: PdfReader = read_pdf) -> ReadChart:
        """`max_bytes` limits a text chart's bytes and a PDF's text; a PDF's own bytes are
        limited by `PdfLimits` (`CHARTCODER_PDF_MAX_BYTES`). `pdf_reader` reads a PDF's pages
        (a coder's shares a big PDF's OCR with its peers: `flows.pdf_sharing`)."""
        error = size_refusal(ref.key, ref.size, self.max_bytes) if ref.offset is None else None
        if error is not None:
            return ReadChart(Chart(ref.chart_id, "", error), None)
        data = self._bytes(ref)
        digest = hashlib.sha256(data).hexdigest()
        if ref.offset is None:
            chart = chart_from_bytes(
                ref.chart_id, ref.key, data, self.max_bytes, ref.setting, pdf_reader=pdf_reader
            )
            return ReadChart(chart, digest)
        return ReadChart(self._record_chart(ref, data), digest)

    def _record_chart(self, ref: ChartRef, raw: bytes) -> Chart:
        return jsonl_line_chart(ref.chart_id, raw, self.max_bytes, ref.setting)

    def _bytes(self, ref: ChartRef) -> bytes:
        if self.bucket is None:
            with open(ref.key, "rb") as handle:
                if ref.offset is not None:
                    handle.seek(ref.offset)
                    return handle.read(ref.size)
                return handle.read()
        if self._client is None:
            self._client = self.bucket.credentials.get_s3_client()
        extra = {}
        if ref.offset is not None:
            extra["Range"] = f"bytes={ref.offset}-{ref.offset + ref.size - 1}"
        response = self._client.get_object(Bucket=self.bucket.bucket_name, Key=ref.key, **extra)
        return response["Body"].read()
