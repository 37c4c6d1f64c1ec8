"""How a batch is coded: the `code-charts` flow's settings, one typed model.

`RunOptions` is the flow's third parameter, beside `source` and `destination` (which stay
top-level: the location lock and the automations in `deployments/` read them by name). Prefect
builds the run form of the UI and the deployment's parameter schema from it, so a value that is
not allowed (`workers: 0`, `setting: icu`, a misspelt field) is refused when the run is created
(`prefect deployment run ... -p options='{...}'`) or when the flow is called, with the field's
name and what it allows.

The coder's choices (`Setting`, `Convention`) come from `nlp.conventions`, where they are named
once for the engine, the flow and the command line.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from nlp.conventions import Convention, Setting
from nlp.settings import MAX_CHART_BYTES

DEFAULT_PRICE_PER_HOUR = 0.192  # an m5.xlarge on demand, us-east-1, USD


class RunOptions(BaseModel):
    """How the charts of one run are coded, on which Ray cluster, and where its news goes.

    Every field has a default: a run needs only `source` and `destination`. A deployment run
    given `options` replaces the deployment's `options` whole (Prefect merges parameters by
    name), so the fields it leaves out take these defaults.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    setting: Setting = Field(
        default="outpatient",
        description="The guideline for uncertain diagnoses: outpatient does not code them, "
        "inpatient codes them as established. A chart's own setting (a record's 'setting', an "
        "inpatient/ or outpatient/ folder) wins.",
    )
    convention: Convention = Field(
        default="us",
        description="Coding convention: us (the ICD-10-CM Official Guidelines) or codiesp "
        "(the CodiEsp benchmark's).",
    )
    workers: int = Field(default=2, ge=1, description="Ray actors coding shards in parallel.")
    shard_size: int | None = Field(
        default=None,
        ge=1,
        description="Charts per shard (default: about 8 shards per worker, at most 500 charts).",
    )
    ray_address: str | None = Field(
        default=None, description="An existing Ray cluster to use (host:port or ray://...)."
    )
    cluster_config: str | None = Field(
        default=None,
        description="A Ray cluster-launcher YAML: the cluster is launched and torn down.",
    )
    ray_temp_dir: str | None = Field(
        default=None, description="Folder for Ray's session files (default: $RAY_TMPDIR)."
    )
    cache_dir: str | None = Field(
        default=None, description="chartcoder's cache folder (default: $CHARTCODER_CACHE)."
    )
    artifacts: str | None = Field(
        default=None,
        description="A built artefact folder (default: the newest valid one in the cache).",
    )
    ship_artifacts: bool | None = Field(
        default=None,
        description="Send the artefacts to the coders instead of a path they read (default: "
        "only on a launched cluster).",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint (default: AWS, or $AWS_ENDPOINT_URL)."
    )
    aws_credentials_block: str | None = Field(
        default=None, description="A saved prefect-aws AwsCredentials block."
    )
    notify_target: str | None = Field(
        default=None,
        description="Where the run's summary goes: a file, an http(s) webhook or "
        "block:TYPE/NAME (default: notifications.jsonl beside the results, or in the cache "
        "folder for S3).",
    )
    instance_price_per_hour: float = Field(
        default=DEFAULT_PRICE_PER_HOUR,
        ge=0,
        description="USD per node-hour, for the cost estimate.",
    )
    shard_retries: int = Field(default=2, ge=0, description="Retries of a failed shard.")
    shard_timeout_seconds: float = Field(
        default=3600.0, gt=0, description="Longest a shard may take before it counts as failed."
    )
    max_chart_bytes: int = Field(
        default=MAX_CHART_BYTES,
        ge=1,
        description="Largest chart read; a larger one is an error record.",
    )
    members: str | None = Field(
        default=None,
        description="Members CSV (member_id, chart_id, age or date_of_birth, sex; local or "
        "s3://) for risk adjustment (default: a members.csv directly in the source folder or "
        "prefix, else each chart is its own member with default demographics).",
    )
    claims: tuple[str, ...] = Field(
        default=(),
        description="Claims files (a CSV of member_id, dx[, service_date] or an X12 837; local "
        "or s3://) to compare the charts' HCCs with (default: claims.csv, claims.837 or "
        "claims.x12 directly in the source folder or prefix, else no opportunities).",
    )
    service_year: int | None = Field(
        default=None,
        ge=1900,
        le=2100,
        description="Risk adjustment counts only diagnoses of this year's dates of service, on "
        "charts (a code whose evidence is all dated in other years is listed in its record's "
        "codes_out_of_year) and on claims (by service_date); undated ones count (default: "
        "every date).",
    )
    review_site: bool = Field(
        default=False,
        description="Also write the static review site (chartcoder review) under the "
        "destination's review/.",
    )
