"""The pipeline's parts on their own: sources, shard plans, outputs, notifications, Ray teardown."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from flows.actors import ChartCoderWorker
from flows.notify import FileNotification, notifier, send
from flows.outputs import Previous, charts_jsonl, failed_record, reuse_key, with_run_fields
from flows.ray_cluster import RaySpec, ray_cluster, teardown_in_background
from flows.sources import (
    ChartReader,
    ChartRef,
    Location,
    auto_shard_size,
    balanced_shards,
    discover,
)
from flows.storage import Destination
from nlp.artifacts import Bundle
from nlp.reading import ChartSourceError, read_charts
from tests.flows.pipeline_charts import EXAMPLES


def test_discovery_gives_the_ids_and_reads_of_chartcoder_code(tmp_path: Path) -> None:
    batch = tmp_path / "batch.jsonl"
    batch.write_bytes(
        b'{"id": "a", "text": "Asthma."}\n\n'
        b"not json\n"
        b'{"text": "no id"}\n'
        b'\xef\xbb\xbf{"id": 7, "text": "Gout."}\n'
        b'{"id": "b", "text": "Asthma.", "setting": "inpatient"}\n'
        b'{"id": "c", "text": "Asthma.", "setting": "day-case"}\n'
    )
    for source in (EXAMPLES, batch):
        refs = discover(Location.parse(str(source)))
        expected = list(read_charts([source]))
        assert [r.chart_id for r in refs] == [c.chart_id for c in expected]
        reader = ChartReader()
        assert [reader.read(r).chart for r in refs] == expected
    assert [r.chart_id for r in discover(Location.parse(str(batch)))] == [
        "a",
        "batch.jsonl:3",
        "batch.jsonl:4",
        "7",
        "b",
        "c",
    ]
    # the examples' folders give their settings, the records theirs
    settings = {c.chart_id: c.setting for c in read_charts([EXAMPLES, batch])}
    assert settings["inpatient/pneumonia_sepsis_admission"] == "inpatient"
    assert settings["outpatient/copd_osa_visit"] == "outpatient"
    assert (settings["a"], settings["b"], settings["c"]) == (None, "inpatient", None)


def test_locations_refuse_what_they_cannot_read(tmp_path: Path) -> None:
    assert Location.parse("s3://bucket/some/prefix/") == Location(
        "s3://bucket/some/prefix/", "bucket", "some/prefix/"
    )
    with pytest.raises(ChartSourceError, match="unsupported scheme"):
        Location.parse("gs://bucket/charts")
    with pytest.raises(ChartSourceError, match="no bucket name"):
        Location.parse("s3:///charts")
    with pytest.raises(ChartSourceError, match="no such file or folder"):
        discover(Location.parse(str(tmp_path / "missing")))


def test_shards_are_balanced_by_size_and_cover_every_chart() -> None:
    refs = [
        ChartRef(f"c{i:02d}", f"/x/{i}", size)
        for i, size in enumerate([900, 100, 100, 100, 100, 100, 100, 100, 100, 100, 50, 50])
    ]
    shards = balanced_shards(refs, 4)
    assert len(shards) == 3
    assert sorted(r.chart_id for s in shards for r in s) == [r.chart_id for r in refs]
    assert [sum(r.size for r in s) for s in shards] == [900, 500, 500]
    assert all(s == sorted(s, key=lambda r: r.chart_id) for s in shards)
    with pytest.raises(ValueError, match="shard_size=0"):
        balanced_shards(refs, 0)


def test_default_shards_give_each_worker_several_and_stay_bounded() -> None:
    assert auto_shard_size(10_000, 2) == 500  # 20 shards: the cap
    assert auto_shard_size(1_000, 2) == 63  # 16 shards, 8 a worker
    assert auto_shard_size(10, 2) == 1  # every chart its own shard: both workers busy
    assert auto_shard_size(0, 2) == 1
    assert len(balanced_shards([ChartRef(f"c{i}", "", 10) for i in range(1_000)], 63)) == 16


def test_previous_records_are_reused_only_for_the_same_content_model_and_coding() -> None:
    def record(chart_id: str, model: str, digest: str, setting: str, convention: str) -> dict:
        plain = {"chart_id": chart_id, "model_version": model, "codes": [], "hccs": [], "raf": 0.4}
        return with_run_fields(plain, digest, setting, convention)

    old = (
        charts_jsonl(
            [
                record("b", "m1", "h2", "inpatient", "codiesp"),
                record("a", "m1", "h1", "outpatient", "us"),
                record("c", "m0", "h3", "outpatient", "us"),
                failed_record(
                    "d", "m1", "not coded: shard 3 failed after its retries (RayTaskError)"
                ),
                # from before settings were recorded: coded under rules that may have changed
                {"chart_id": "f", "model_version": "m1", "content_sha256": "h4", "codes": []},
                # from before risk adjustment: its codes carry no MEAT
                with_run_fields(
                    {"chart_id": "g", "model_version": "m1", "codes": []}, "h5", "outpatient", "us"
                ),
            ]
        )
        + b"{damaged\n"
    )
    assert old.splitlines()[0].startswith(b'{"chart_id": "a"')
    previous = Previous.parse(old)
    assert previous.reusable(["a", "b", "c", "d", "e", "f", "g"], "m1") == {
        "a": reuse_key("h1", "outpatient", "us"),
        "b": reuse_key("h2", "inpatient", "codiesp"),
    }
    assert (
        len({reuse_key("h", s, c) for s in ("outpatient", "inpatient") for c in ("us", "x")}) == 4
    )


def test_a_worker_codes_each_chart_under_its_setting_and_reuses_only_the_same_coding(
    tmp_path: Path, fixture_build: Bundle
) -> None:
    for relative in ("inpatient/a.txt", "clinic/b.txt"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("Assessment: probable pneumonia.", encoding="utf-8")
    refs = discover(Location.parse(str(tmp_path)))
    assert [(r.chart_id, r.setting) for r in refs] == [
        ("clinic/b", None),
        ("inpatient/a", "inpatient"),
    ]
    artifacts = str(fixture_build.path)
    worker = ChartCoderWorker(
        artifacts, ChartReader(), {"setting": "outpatient", "convention": "us"}
    )
    first = worker.code_shard(0, refs, {})
    assert [(o.chart_id, o.setting, o.convention, o.reused) for o in first.outcomes] == [
        ("clinic/b", "outpatient", "us", False),
        ("inpatient/a", "inpatient", "us", False),
    ]
    codes = {o.chart_id: [c["code"] for c in o.record["codes"]] for o in first.outcomes if o.record}
    assert codes == {"clinic/b": [], "inpatient/a": ["J18.9"]}  # uncertain: inpatient rule only

    known = {o.chart_id: reuse_key(o.sha256, o.setting, o.convention) for o in first.outcomes}
    again = worker.code_shard(1, refs, known)
    assert [o.reused for o in again.outcomes] == [True, True]
    # the same bytes coded as inpatient: the folder's chart is unchanged, the other is recoded
    inpatient = ChartCoderWorker(artifacts, ChartReader(), {"setting": "inpatient"}).code_shard(
        2, refs, known
    )
    assert [(o.chart_id, o.setting, o.reused) for o in inpatient.outcomes] == [
        ("clinic/b", "inpatient", False),
        ("inpatient/a", "inpatient", True),
    ]
    assert [c["code"] for c in inpatient.outcomes[0].record["codes"]] == ["J18.9"]
    codiesp = ChartCoderWorker(artifacts, ChartReader(), {"convention": "codiesp"})
    assert not any(o.reused for o in codiesp.code_shard(3, refs, known).outcomes)


def test_local_writes_replace_files_whole(tmp_path: Path) -> None:
    dest = Destination(Location.parse(str(tmp_path / "out")))
    assert dest.read("charts.jsonl") is None
    dest.write("charts.jsonl", b"one\n")
    dest.write("charts.jsonl", b"two\n")
    assert dest.read("charts.jsonl") == b"two\n"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["charts.jsonl"]


def test_notifications_go_to_a_file_or_a_loopback_webhook(tmp_path: Path) -> None:
    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        send(notifier(url, tmp_path / "unused.jsonl"), "9 charts coded", "run finished")
    finally:
        server.shutdown()
    assert received == [{"subject": "run finished", "body": "9 charts coded"}]

    block = notifier(None, tmp_path / "n.jsonl")
    assert isinstance(block, FileNotification)
    send(block, "body", "subject")
    [line] = (tmp_path / "n.jsonl").read_text().splitlines()
    assert {k: v for k, v in json.loads(line).items() if k != "time"} == {
        "subject": "subject",
        "body": "body",
    }


def test_ray_spec_is_checked_at_construction() -> None:
    with pytest.raises(ValueError, match="not both"):
        RaySpec.choose(2, address="127.0.0.1:6379", cluster_config="infra/ray/aws.yaml")
    with pytest.raises(ValueError, match="workers=0"):
        RaySpec.choose(0)
    assert RaySpec.choose(2, cluster_config="c.yaml").mode == "launcher"


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_ray_is_torn_down_when_the_run_fails_or_is_interrupted(
    error: type[BaseException], ray_tmp: str, no_ray_left: None
) -> None:
    import ray

    with pytest.raises(error), ray_cluster(RaySpec.choose(1, temp_dir=ray_tmp)) as cluster:
        assert (cluster.nodes, cluster.cpus) == (1, 1.0)
        raise error("stop")
    assert not ray.is_initialized()


def test_ray_released_in_the_background_is_gone_when_the_run_ends_even_on_error(
    ray_tmp: str, no_ray_left: None
) -> None:
    import ray

    with pytest.raises(RuntimeError, match="writing"), teardown_in_background() as teardown:
        with ray_cluster(RaySpec.choose(1, temp_dir=ray_tmp), teardown):
            assert ray.is_initialized()
        raise RuntimeError("writing the outputs failed while Ray stops")
    assert not ray.is_initialized()
