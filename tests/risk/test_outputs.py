"""`hccs.parquet` and `opportunities.parquet` round-trip the batch's rows under their schemas."""

from __future__ import annotations

import io

import pyarrow.parquet as pq

from risk.batch import assess_batch
from risk.claims import ClaimDx, Claims
from risk.members import parse_members
from risk.model import RiskModel
from risk.outputs import HCCS_SCHEMA, OPPORTUNITIES_SCHEMA, hccs_parquet, opportunities_parquet


def test_rows_round_trip_through_parquet(model: RiskModel) -> None:
    record = {
        "chart_id": "a",
        "codes": [
            {"code": "E11.22", "hcc": "37", "supported": True,
             "meat": [{"kind": "evaluate", "start": 3, "end": 7}]},
            {"code": "E11.9", "hcc": "38", "supported": False, "meat": []},
        ],
    }  # fmt: skip
    members = parse_members("member_id,chart_id,age,sex\nm1,a,72,F\n", "members.csv")
    claims = Claims((ClaimDx("m1", "N18.4", "claims.csv", "2026-01-02", 2),))
    batch = assess_batch([record], members, claims, model)
    hccs = pq.read_table(io.BytesIO(hccs_parquet(batch.hcc_rows())))
    opportunities = pq.read_table(io.BytesIO(opportunities_parquet(batch.opportunity_rows())))
    assert hccs.schema == HCCS_SCHEMA and opportunities.schema == OPPORTUNITIES_SCHEMA
    assert hccs.to_pylist() == batch.hcc_rows()
    assert [(r["hcc"], r["dropped_by"], r["meat"]) for r in hccs.to_pylist()] == [
        ("37", [], [{"code": "E11.22", "kind": "evaluate", "start": 3, "end": 7}]),
        ("38", ["37"], []),
    ]
    assert [(r["hcc"], r["status"]) for r in opportunities.to_pylist()] == [
        ("37", "add"),
        ("327", "delete"),
    ]
