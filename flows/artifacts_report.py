"""What the run shows in the Prefect UI: progress, top codes/HCCs/errors, and a summary.

The inputs are the run's manifest and code counts: chart ids, codes, counts and timings, never
chart text.
"""

from __future__ import annotations

from collections import Counter
from typing import Any
from uuid import UUID

from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

PROGRESS_KEY = "chartcoder-progress"
TABLE_KEY = "chartcoder-codes"
SUMMARY_KEY = "chartcoder-summary"
TOP = 15
MAX_ERROR_ROWS = 100


class Progress:
    """The progress artifact, updated as shards finish."""

    def __init__(self, shards: int, charts: int) -> None:
        self.shards = shards
        self.charts = charts
        self.done_shards = 0
        self.done_charts = 0
        self.id: UUID = create_progress_artifact(  # type: ignore[assignment]
            progress=0.0 if shards else 100.0,
            key=PROGRESS_KEY,
            description=f"0 of {shards} shards ({charts} charts)",
        )

    def shard_done(self, charts: int) -> float:
        self.done_shards += 1
        self.done_charts += charts
        percent = 100.0 * self.done_shards / max(self.shards, 1)
        update_progress_artifact(
            self.id,
            progress=percent,
            description=(
                f"{self.done_shards} of {self.shards} shards, "
                f"{self.done_charts} of {self.charts} charts"
            ),
        )
        return percent


def code_table(
    code_counts: Counter[tuple[str, str]],
    hcc_counts: Counter[str],
    errors: list[dict[str, str]],
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for (code, description), count in sorted(code_counts.items(), key=lambda i: (-i[1], i[0]))[
        :TOP
    ]:
        rows.append({"kind": "code", "key": code, "detail": description, "charts": count})
    for hcc, count in sorted(hcc_counts.items(), key=lambda i: (-i[1], i[0]))[:TOP]:
        rows.append({"kind": "hcc", "key": hcc, "detail": "", "charts": count})
    for error in errors[:MAX_ERROR_ROWS]:
        rows.append({"kind": "error", "key": error["chart_id"], "detail": error["reason"]})
    return rows


def summary_markdown(manifest: dict[str, Any], run_url: str | None) -> str:
    timings = manifest["timings"]
    throughput = manifest["throughput"]
    cost = manifest["cost_estimate"]
    lines = [
        "# Chart coding run",
        "",
        f"- source: `{manifest['source']}`",
        f"- destination: `{manifest['destination']}`",
        f"- model: `{manifest['model_version']}`",
        f"- charts: {manifest['charts_total']} total, {manifest['charts_coded']} coded, "
        f"{manifest['charts_reused']} reused, {manifest['charts_failed']} failed",
        "",
        "## Throughput",
        "",
        "| measure | value |",
        "|---|---|",
        f"| charts/hour (whole run) | {throughput['charts_per_hour']:,.0f} |",
        f"| charts/hour (coding stage) | {throughput['coding_charts_per_hour']:,.0f} |",
        f"| characters/s (coding stage) | {throughput['characters_per_second']:,.0f} |",
        "",
        "## Stage timings (s)",
        "",
        "| stage | seconds |",
        "|---|---|",
        *(f"| {stage} | {seconds:.2f} |" for stage, seconds in timings.items()),
        "",
        "## Cost estimate",
        "",
        f"{cost['nodes']} node(s) x {cost['hours']:.4f} h x "
        f"${cost['instance_price_per_hour']:.3f}/h = **${cost['usd']:.4f}**",
    ]
    lines += risk_summary(manifest.get("risk"))
    if run_url:
        lines += ["", f"[flow run]({run_url})"]
    return "\n".join(lines) + "\n"


def risk_summary(risk: dict[str, Any] | None) -> list[str]:
    """The risk-adjustment section: counts and RAF sums only (the members' and charts' ids are
    in hccs.parquet and opportunities.parquet, never their text)."""
    if not risk:
        return []
    members = "from the members file" if risk["members_from_file"] else "one per chart"
    lines = [
        "",
        "## Risk adjustment (CMS-HCC V28, payment year 2026, raw RAF)",
        "",
        "| measure | value |",
        "|---|---|",
        f"| members ({members}) | {risk['members']} |",
        f"| RAF from charts (MEAT-supported HCCs) | {risk['raf_from_charts']:.3f} |",
    ]
    if risk["claims"]:
        lines += [
            f"| RAF from claims | {risk['raf_from_claims']:.3f} |",
            f"| adds | {risk['adds']} ({risk['add_raf']:+.3f}) |",
            f"| deletes | {risk['deletes']} ({risk['delete_raf']:+.3f}) |",
            f"| confirmed | {risk['confirmed']} |",
            f"| net RAF delta | **{risk['net_raf_delta']:+.3f}** |",
        ]
    else:
        lines.append("| opportunities | none: no claims file |")
    lines.append(f"| claims errors (in the manifest) | {risk['claims_errors']} |")
    return lines


def publish(
    manifest: dict[str, Any],
    code_counts: Counter[tuple[str, str]],
    hcc_counts: Counter[str],
    run_url: str | None,
) -> None:
    create_table_artifact(
        code_table(code_counts, hcc_counts, manifest["errors"]),
        key=TABLE_KEY,
        description="Top codes and HCCs by charts, and the charts in error",
    )
    create_markdown_artifact(
        summary_markdown(manifest, run_url),
        key=SUMMARY_KEY,
        description="Throughput, stage timings and cost estimate",
    )
