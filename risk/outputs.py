"""`hccs.parquet` and `opportunities.parquet`: the batch's rows with fixed schemas."""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

MEAT_SPAN = pa.struct(
    [("code", pa.string()), ("kind", pa.string()), ("start", pa.int64()), ("end", pa.int64())]
)
HCCS_SCHEMA = pa.schema(
    [
        ("chart_id", pa.string()),
        ("member_id", pa.string()),
        ("hcc", pa.string()),
        ("label", pa.string()),
        ("coefficient", pa.float64()),
        ("codes", pa.list_(pa.string())),
        ("dropped", pa.bool_()),
        ("dropped_by", pa.list_(pa.string())),
        ("supported", pa.bool_()),
        ("meat", pa.list_(MEAT_SPAN)),
    ]
)
OPPORTUNITIES_SCHEMA = pa.schema(
    [
        ("member_id", pa.string()),
        ("hcc", pa.string()),
        ("label", pa.string()),
        ("status", pa.string()),
        ("raf_effect", pa.float64()),
        ("chart_codes", pa.list_(pa.string())),
        ("claim_codes", pa.list_(pa.string())),
        ("chart_ids", pa.list_(pa.string())),
    ]
)


def hccs_parquet(rows: list[dict[str, Any]]) -> bytes:
    return _parquet(rows, HCCS_SCHEMA)


def opportunities_parquet(rows: list[dict[str, Any]]) -> bytes:
    return _parquet(rows, OPPORTUNITIES_SCHEMA)


def _parquet(rows: list[dict[str, Any]], schema: pa.Schema) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), sink)
    return sink.getvalue()
