"""Reading back what a flow run left in the Prefect API: states, task runs, logs, artifacts; and
the command line of a one-worker `chartcoder run` on the session's artefacts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.sorting import LogSort


def task_runs(flow_run_id: UUID) -> list[Any]:
    with get_client(sync_client=True) as client:
        return client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )


def logs(flow_run_id: UUID) -> list[str]:
    with get_client(sync_client=True) as client:
        found = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])),
            sort=LogSort.TIMESTAMP_ASC,
        )
    return [log.message for log in found]


def artifacts(flow_run_id: UUID) -> dict[str, Any]:
    """key -> artifact, for the artifacts of one flow run (the latest version of each key)."""
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return {a.key: a for a in found if a.key}


def everything_said(flow_run_id: UUID) -> str:
    """All text the API holds about a run: states, task runs, logs, artifacts, parameters."""
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(flow_run_id)
    parts = [run.model_dump_json()]
    parts += [t.model_dump_json() for t in task_runs(flow_run_id)]
    parts += logs(flow_run_id)
    parts += [json.dumps(a.model_dump(mode="json")) for a in artifacts(flow_run_id).values()]
    return "\n".join(parts)


def run_args(source: Path, dest: Path, built, ray_tmp: str, *extra: str) -> list[str]:
    """`chartcoder run SOURCE --output DEST` on one worker, the built artefacts and a short Ray
    folder, then `extra` flags."""
    return [
        "run",
        str(source),
        "--output",
        str(dest),
        "--workers",
        "1",
        "--artifacts",
        str(built.path),
        "--ray-temp-dir",
        ray_tmp,
        *extra,
    ]
