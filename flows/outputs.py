"""The run's output files, built from plain records: `charts.jsonl` and `codes.parquet` (and the
names of the risk-adjustment files, `hccs.parquet` and `opportunities.parquet`, which
`risk.outputs` builds).

`charts.jsonl` holds the `chartcoder code` record of every input chart, sorted by chart id, plus
`content_sha256` (the hash of the chart's bytes), `setting` (the chart's own, else the run's) and
`convention`, so that a rerun can reuse the records whose content, model version, setting and
convention did not change.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

CHARTS = "charts.jsonl"
TEXTS = "texts.jsonl"  # chart text: written only where the results go (`texts_jsonl`)
CODES = "codes.parquet"
HCCS = "hccs.parquet"
OPPORTUNITIES = "opportunities.parquet"
MANIFEST = "manifest.json"
HASH_FIELD = "content_sha256"
SETTING_FIELD = "setting"
CONVENTION_FIELD = "convention"
# What the flow adds to a `chartcoder code` record.
RUN_FIELDS = (HASH_FIELD, SETTING_FIELD, CONVENTION_FIELD)
# What risk adjustment adds to it (a record without them predates risk adjustment: its codes
# carry no MEAT, so it is coded again rather than reused).
RISK_FIELDS = ("hccs", "raf")

CODES_SCHEMA = pa.schema(
    [
        ("chart_id", pa.string()),
        ("rank", pa.int32()),
        ("code", pa.string()),
        ("description", pa.string()),
        ("score", pa.float64()),
        ("billable", pa.bool_()),
        ("hcc", pa.string()),
        ("assertion", pa.string()),
        ("page", pa.int32()),  # of the code's first evidence span
        ("date_of_service", pa.string()),
    ]
)


@dataclass(frozen=True, slots=True)
class Previous:
    """Records of an earlier run at the destination that can be reused."""

    records: dict[str, dict[str, Any]]

    @classmethod
    def parse(cls, data: bytes | None) -> Previous:
        records: dict[str, dict[str, Any]] = {}
        for line in (data or b"").splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a damaged old file only costs recoding
            if isinstance(record, dict) and isinstance(record.get("chart_id"), str):
                # the first of an id: a duplicate's error record follows the coded chart
                records.setdefault(record["chart_id"], record)
        return cls(records)

    def reusable(self, chart_ids: Iterable[str], model_version: str) -> dict[str, str]:
        """chart id -> `reuse_key` of its previous record, for records made by this model
        version (a record without a hash, setting, convention or risk fields is never
        reused)."""
        known = {}
        for chart_id in chart_ids:
            record = self.records.get(chart_id)
            if not record or record.get("model_version") != model_version:
                continue
            if any(name not in record for name in RISK_FIELDS):
                continue
            digest, setting, convention = (record.get(name) for name in RUN_FIELDS)
            if digest and setting and convention:
                known[chart_id] = reuse_key(digest, setting, convention)
        return known


def reuse_key(sha256: str, setting: str, convention: str) -> str:
    """What must not change for a previous record to stand: the chart's bytes and how it was
    coded (the model version is compared apart)."""
    return f"{sha256} {setting} {convention}"


def with_run_fields(
    record: dict[str, Any], sha256: str | None, setting: str | None, convention: str | None
) -> dict[str, Any]:
    return {
        **record,
        HASH_FIELD: sha256,
        SETTING_FIELD: setting,
        CONVENTION_FIELD: convention,
    }


def failed_record(chart_id: str, model_version: str, reason: str) -> dict[str, Any]:
    """The record of a chart that was not read (its shard failed): no hash, no setting."""
    record = {
        "chart_id": chart_id,
        "model_version": model_version,
        "codes": [],
        "error": reason,
        "notes": [],
        "pages": [],
        "encounters": [],
    }
    return with_run_fields(record, None, None, None)


def charts_jsonl(records: Iterable[dict[str, Any]]) -> bytes:
    ordered = sorted(records, key=lambda r: r["chart_id"])
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ordered).encode("utf-8")


def texts_jsonl(texts: Iterable[tuple[str, str]]) -> bytes:
    """`texts.jsonl`: one `{"chart_id", "text"}` per chart, sorted by id, the text exactly as the
    coders read it (decoded), so that evidence offsets index into it. It is chart text: it goes
    beside `charts.jsonl` and nowhere else (never a log, a task result or an artifact)."""
    ordered = sorted(texts)
    return "".join(
        json.dumps({"chart_id": chart_id, "text": text}, ensure_ascii=False) + "\n"
        for chart_id, text in ordered
    ).encode("utf-8")


def code_rows(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for record in sorted(records, key=lambda r: r["chart_id"]):
        for rank, code in enumerate(record["codes"], start=1):
            rows.append(
                {
                    "chart_id": record["chart_id"],
                    "rank": rank,
                    "code": code["code"],
                    "description": code["description"],
                    "score": float(code["score"]),
                    "billable": bool(code["billable"]),
                    "hcc": code["hcc"],
                    "assertion": code["assertion"],
                    **_first_evidence_place(code),
                }
            )
    return rows


def _first_evidence_place(code: dict[str, Any]) -> dict[str, Any]:
    """`page` and `date_of_service` of a code's first evidence span (None without evidence,
    or in a record written before evidence carried them)."""
    first = (code.get("evidence") or [{}])[0]
    return {"page": first.get("page"), "date_of_service": first.get("date_of_service")}


def codes_parquet(records: Iterable[dict[str, Any]]) -> bytes:
    table = pa.Table.from_pylist(code_rows(records), schema=CODES_SCHEMA)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def manifest_json(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
