"""Members and claims files: what is read, and bad files rejected as usage errors that name the
problem (the CLI maps `RiskInputError` to exit 2)."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from hccinfhir import get_837_sample

from risk import errors
from risk.claims import Fy2026Codes, parse_claims, read_claims
from risk.errors import RiskInputError
from risk.members import age_on, parse_members, read_members
from risk.model import Demographics
from risk.sources import landing_inputs
from tests.risk.conftest import FIXTURES
from tests.servers import moto_server


def test_members_file_gives_each_member_its_demographics_and_charts() -> None:
    members = read_members(str(FIXTURES / "members.csv"))
    assert members.from_file
    first = members.members["987321"]
    assert first.chart_ids == ("clinic/c1", "clinic/c2")
    assert first.demographics == Demographics(75, "M", "00", "0", False)
    assert members.members["765123"].demographics == Demographics(81, "F", "01", "0", False)
    assert members.members["M3"].demographics.institutional is True
    assert members.of_chart("clinic/c4").member_id == "M3"  # type: ignore[union-attr]


def test_age_is_taken_on_the_first_of_february_2026() -> None:
    from datetime import date

    assert age_on(date(1950, 2, 1)) == 76
    assert age_on(date(1950, 2, 2)) == 75


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("member_id,chart_id,sex\nm,c,F\n", "lacks the column.*age or date_of_birth"),
        ("member_id,age,sex\nm,70,F\n", "lacks the column.*chart_id"),
        ("", "lacks the column"),
        ("member_id,chart_id,age,sex\nm,c,70,X\n", r"members.csv:2: sex 'X'"),
        ("member_id,chart_id,age,sex\nm,c,seventy,F\n", "age 'seventy' is not a whole number"),
        ("member_id,chart_id,date_of_birth,sex\nm,c,1950/01/01,F\n", "not a YYYY-MM-DD date"),
        ("member_id,chart_id,age,sex,dual_status\nm,c,70,F,7\n", "dual_status '7'"),
        ("member_id,chart_id,age,sex,orec\nm,c,70,F,9\n", "orec '9'"),
        ("member_id,chart_id,age,sex,institutional\nm,c,70,F,maybe\n", "institutional 'maybe'"),
        ("member_id,chart_id,age,sex\nm,c,70,F\nm,d,71,F\n", "other demographics"),
        ("member_id,chart_id,age,sex\nm,c,70,F\nn,c,70,F\n", "chart c belongs to member m"),
    ],
)
def test_bad_members_files_are_usage_errors(text: str, message: str) -> None:
    with pytest.raises(RiskInputError, match=message):
        parse_members(text, "members.csv")


def test_missing_or_undecodable_files_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(RiskInputError, match=r"nowhere\.csv: cannot read"):
        read_members(str(tmp_path / "nowhere.csv"))
    binary = tmp_path / "claims.csv"
    binary.write_bytes(b"member_id,dx\n\xff\xfe\x00")
    with pytest.raises(RiskInputError, match="not UTF-8"):
        read_claims([str(binary)])
    with pytest.raises(RiskInputError, match="unsupported scheme"):
        read_claims(["https://example.org/claims.csv"])


def test_claims_csv_without_its_columns_is_a_usage_error(fy2026: Fy2026Codes) -> None:
    with pytest.raises(RiskInputError, match=r"claims\.csv: claims file lacks the column.*dx"):
        parse_claims("member_id,code\nm,E11.9\n", "claims.csv", fy2026)


def test_claims_csv_rows_keep_their_dates_and_report_bad_codes(fy2026: Fy2026Codes) -> None:
    claims = read_claims([str(FIXTURES / "claims.csv")], codes=fy2026)
    assert [(r.member_id, r.dx, r.service_date, r.line) for r in claims.rows] == [
        ("987321", "E11.9", "2026-01-10", 2),
        ("987321", "I50.9", "2026-01-10", 3),
        ("765123", "N18.4", None, 4),
        ("M3", "J44.9", None, 5),
        ("NOPE", "I10", "2026-01-05", 8),
    ]
    assert [(e.reason, e.line) for e in claims.errors] == [
        (errors.BAD_SERVICE_DATE, 4),
        (errors.CODE_NOT_IN_FY2026, 6),
        (errors.CODE_NOT_BILLABLE, 7),
        (errors.ROW_INCOMPLETE, 9),
    ]


def test_837_claims_come_from_hccinfhirs_extractor(fy2026: Fy2026Codes) -> None:
    claims = parse_claims(get_837_sample(0), "sample_837_0.txt", fy2026)
    assert claims.codes_by_member() == {
        "987321": frozenset({"F11.20", "F10.20", "F12.20"}),
        "765123": frozenset({"F15.20", "F12.20", "F25.1"}),
    }
    assert {r.service_date for r in claims.rows} <= {"2018-04-26", "2018-04-27", "2018-04-28"}
    assert all(r.claim_id for r in claims.rows) and claims.errors == ()


def test_members_and_claims_are_read_from_s3(fy2026: Fy2026Codes) -> None:
    with moto_server() as endpoint:
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        client.create_bucket(Bucket="landing")
        for name in ("members.csv", "claims.csv"):
            client.put_object(
                Bucket="landing", Key=f"batch/{name}", Body=(FIXTURES / name).read_bytes()
            )
        members = read_members("s3://landing/batch/members.csv", client)
        claims = read_claims(["s3://landing/batch/claims.csv"], client, fy2026)
        with pytest.raises(RiskInputError, match=r"s3://landing/batch/claims\.837: cannot read"):
            read_claims(["s3://landing/batch/claims.837"], client, fy2026)
    assert set(members.members) == {"987321", "765123", "M3", "M5"}
    assert len(claims.rows) == 5 and len(claims.errors) == 4


def test_a_landing_prefix_gives_its_members_and_claims_files() -> None:
    names = ["members.csv", "claims.837", "a.txt", "claims.csv", "notes/claims.x12"]
    assert landing_inputs("s3://landing/incoming/b1/", names) == (
        "s3://landing/incoming/b1/members.csv",
        ["s3://landing/incoming/b1/claims.csv", "s3://landing/incoming/b1/claims.837"],
    )
    assert landing_inputs("/data/b2", ["a.txt"]) == (None, [])
