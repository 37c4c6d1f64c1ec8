"""The risk-adjustment stage: the batch's members and claims, read before Ray starts, and after
coding each chart's CMS-HCCs and RAF, each member's opportunities against the claims, the rows of
`hccs.parquet` and `opportunities.parquet`, and the manifest's `risk` and `claims_errors`.

The members file and the claims files are the run's options (`RunOptions.members`, `.claims`),
else the `members.csv` and `claims.csv` / `claims.837` / `claims.x12` placed directly in the
source folder or prefix (`risk.sources.landing_inputs`: how an event-triggered batch brings
them). A file that cannot be used raises `risk.errors.RiskInputError` before Ray starts
(`chartcoder run` exits 2). The work is `risk.batch.assess_batch`'s; it reads the coders'
MEAT-annotated records, never chart text, and what it logs are counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.options import RunOptions
from flows.sources import Location, names_at_top
from flows.storage import s3_bucket
from nlp.reading import ChartSourceError
from risk.batch import BatchRisk, assess_batch
from risk.charts import chart_risk
from risk.claims import Claims, read_claims
from risk.errors import RiskInputError
from risk.members import Members, read_members
from risk.model import DEFAULT_DEMOGRAPHICS, RiskModel
from risk.sources import landing_inputs


@dataclass(frozen=True, slots=True)
class RiskInputs:
    """The batch's members and claims, and the files they came from (None, () when absent)."""

    members_file: str | None
    claims_files: tuple[str, ...]
    members: Members | None
    claims: Claims | None

    def describe(self) -> dict[str, Any]:
        return {"members_file": self.members_file, "claims_files": list(self.claims_files)}


@task(persist_result=False, cache_policy=NO_CACHE)
def read_risk_inputs(source: Location, source_bucket: Any, options: RunOptions) -> RiskInputs:
    """The files the options name, else those directly at the source; read and validated."""
    landed_members, landed_claims = landing_inputs(source.uri, names_at_top(source, source_bucket))
    members_file = options.members or landed_members
    claims_files = tuple(options.claims) or tuple(landed_claims)
    uris = [*([members_file] if members_file else []), *claims_files]
    client = _s3_client(uris, options)
    members = read_members(members_file, client) if members_file else None
    claims = read_claims(claims_files, client) if claims_files else None
    get_run_logger().info(
        "risk inputs: %s; %s",
        f"{len(members.members)} members from {members_file}"
        if members is not None
        else "no members file (each chart is its own member)",
        f"{len(claims.rows)} claim diagnoses ({len(claims.errors)} reported) from "
        f"{', '.join(claims_files)}"
        if claims is not None
        else "no claims (no opportunities)",
    )
    return RiskInputs(members_file, claims_files, members, claims)


@task(persist_result=False, cache_policy=NO_CACHE)
def assess_risk(
    records: list[dict[str, Any]], inputs: RiskInputs, service_year: int | None = None
) -> BatchRisk:
    """Every chart's HCCs and RAF, every member's opportunities (`risk.batch.assess_batch`),
    of the diagnoses that count for `service_year` (all without one)."""
    batch = assess_batch(records, inputs.members, inputs.claims, service_year=service_year)
    totals = batch.totals()
    get_run_logger().info(
        "risk: %d members, %d adds, %d deletes, %d confirmed, net RAF delta %+.3f, "
        "%d claims errors",
        totals["members"],
        totals["adds"],
        totals["deletes"],
        totals["confirmed"],
        totals["net_raf_delta"],
        totals["claims_errors"],
    )
    return batch


def with_chart_risk(records: list[dict[str, Any]], batch: BatchRisk) -> list[dict[str, Any]]:
    """Each record with its `member_id` (None for a chart the members file leaves out) and its
    chart's `hccs` and `raf` (under its member's demographics)."""
    return [
        r
        | {"member_id": batch.chart_members.get(str(r["chart_id"]))}
        | batch.charts[str(r["chart_id"])].record_fields()
        for r in records
    ]


def with_codeless_risk(
    records: list[dict[str, Any]], batch: BatchRisk, inputs: RiskInputs
) -> list[dict[str, Any]]:
    """Records left out of the batch's risk adjustment (the error record of a duplicate id,
    which would take the place of the coded chart of that id): each with the member of its id
    and the HCCs (none) and RAF of a chart without codes under that member's demographics, as
    `chartcoder code` gives them."""
    if not records:
        return []
    model = RiskModel()
    members = inputs.members.members if inputs.members is not None else {}
    extended = []
    for record in records:
        member_id = batch.chart_members.get(str(record["chart_id"]))
        member = members.get(member_id) if member_id is not None else None
        demographics = member.demographics if member is not None else DEFAULT_DEMOGRAPHICS
        risk = chart_risk(record, demographics, model, batch.service_year).record_fields()
        extended.append(record | {"member_id": member_id} | risk)
    return extended


def risk_manifest(batch: BatchRisk, inputs: RiskInputs) -> dict[str, Any]:
    """What the manifest says of risk adjustment: the inputs, the totals, the claims errors."""
    return {
        "risk": {**inputs.describe(), **batch.totals()},
        "claims_errors": batch.claims_error_dicts(),
    }


def _s3_client(uris: list[str], options: RunOptions) -> Any:
    """A boto3 client for the s3:// files among `uris`, as the run's S3 options give it."""
    s3_uris = [uri for uri in uris if uri.startswith("s3://")]
    if not s3_uris:
        return None
    try:
        location = Location.parse(s3_uris[0])
    except ChartSourceError as exc:
        raise RiskInputError(str(exc)) from exc
    bucket = s3_bucket(location, options.s3_endpoint_url, options.aws_credentials_block)
    assert bucket is not None
    return bucket.credentials.get_s3_client()
