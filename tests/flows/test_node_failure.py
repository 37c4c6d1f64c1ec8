"""A worker node dies mid-run on a multi-node Ray cluster: every chart is still coded once."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest

from flows.code_charts import code_charts
from flows.options import RunOptions
from nlp.artifacts import Bundle
from tests.flows.pipeline_charts import EXAMPLES, code_records, from_flow

pytestmark = pytest.mark.usefixtures("prefect_api")

COPIES = 40


def busy_coder_pids() -> list[tuple[int, int]]:
    """(pid, parent pid) of actor processes running a shard right now."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            status = (entry / "status").read_text()
        except OSError:
            continue
        if cmdline.startswith("ray::ChartCoderWorker.code_shard"):
            ppid = next(
                int(line.split()[1]) for line in status.splitlines() if line.startswith("PPid:")
            )
            found.append((int(entry.name), ppid))
    return found


def test_killing_a_worker_node_mid_run_loses_nothing(
    tmp_path: Path,
    built: Bundle,
    ray_tmp: str,
    no_ray_left: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ray.cluster_utils import Cluster

    source = tmp_path / "charts"
    for copy in range(COPIES):
        shutil.copytree(EXAMPLES, source / f"copy{copy:02d}", ignore=shutil.ignore_patterns("*.md"))
    originals = code_records(built, [EXAMPLES])

    monkeypatch.setenv("RAY_TMPDIR", ray_tmp)  # the cluster's session folders, all nodes
    cluster = Cluster()
    try:
        cluster.add_node(num_cpus=0)  # the head: no actor runs there
        nodes = [cluster.add_node(num_cpus=1) for _ in range(3)]
        cluster.wait_for_nodes()
        outcome: dict = {}

        def run() -> None:
            outcome["state"] = code_charts(
                str(source),
                str(tmp_path / "out"),
                RunOptions(
                    workers=2,
                    shard_size=4,
                    ray_address=cluster.gcs_address,
                    artifacts=str(built.path),
                ),
                return_state=True,
            )

        runner = threading.Thread(target=run)
        runner.start()
        killed = None
        deadline = time.monotonic() + 300
        while killed is None and runner.is_alive() and time.monotonic() < deadline:
            for _, raylet_pid in busy_coder_pids():
                node = next(
                    (n for n in nodes if n.all_processes["raylet"][0].process.pid == raylet_pid),
                    None,
                )
                if node is not None:
                    cluster.remove_node(node, allow_graceful=False)
                    killed = node
                    break
            time.sleep(0.05)
        runner.join(timeout=600)
        assert killed is not None, "no shard was seen running: nothing was killed"
    finally:
        cluster.shutdown()

    state = outcome["state"]
    assert state.is_completed(), state.message
    lines = (tmp_path / "out" / "charts.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    ids = [r["chart_id"] for r in records]
    assert len(ids) == len(set(ids)) == COPIES * len(originals)
    for record in records:
        copy, _, original = record.pop("chart_id").partition("/")
        assert from_flow(record) == {
            k: v for k, v in originals[original].items() if k != "chart_id"
        }
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["charts_failed"] == 0
    # the shard in flight on the dead node was retried on a restarted actor
    assert len(manifest["coders_started"]) == 2
    restarted = set(manifest["workers"]) - set(manifest["coders_started"])
    assert restarted, manifest["workers"]
    assert sum(manifest["workers"].values()) >= -(-COPIES * len(originals) // 4)
