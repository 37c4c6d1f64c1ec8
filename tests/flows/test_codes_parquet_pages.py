"""codes.parquet carries the page and date of service of each code's first evidence span."""

from __future__ import annotations

import io

import pyarrow.parquet as pq

from flows import outputs


def test_codes_parquet_has_the_page_and_date_of_service_of_the_first_evidence():
    evidence = [
        {"start": 40, "end": 43, "section": "a", "sentence": 3, "page": 2, "date_of_service": None},
        {"start": 90, "end": 93, "section": "a", "sentence": 5, "page": 3, "date_of_service": "x"},
    ]
    finding = {
        "code": "I10",
        "description": "Essential (primary) hypertension",
        "score": 0.9,
        "billable": True,
        "hcc": None,
        "assertion": "present",
    }
    records = [
        {"chart_id": "b", "codes": [{**finding, "evidence": evidence}]},
        {"chart_id": "a", "codes": [{**finding, "evidence": evidence[1:]}, {**finding}]},
    ]
    table = pq.read_table(io.BytesIO(outputs.codes_parquet(records)))
    assert table.schema.names[-2:] == ["page", "date_of_service"]
    assert [(r["chart_id"], r["page"], r["date_of_service"]) for r in table.to_pylist()] == [
        ("a", 3, "x"),
        ("a", None, None),  # no evidence: an older record
        ("b", 2, None),
    ]
