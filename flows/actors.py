"""Ray actors that each hold one loaded `ChartCoder`, and the pool the driver hands shards to.

An actor loads the engine once, in `__init__`, from built artefacts: a folder every node can
read (a shared cache), or files shipped once through the object store. It reads the charts of a
shard itself from their references and returns plain records and metrics, never chart text:
the MEAT evidence of each HCC-bearing code (`nlp.meat`) is found here, where the text is, and
leaves as offsets.
Each chart is coded under its own setting (a record's, or its folder's) or else the actor's.
Actors restart when they or their node die, and the call in flight is retried (`max_restarts`,
`max_task_retries`); results are keyed by chart id, so a retried shard is harmless.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flows.outputs import reuse_key
from flows.sources import ChartReader, ChartRef
from nlp.records import Chart

log = logging.getLogger(__name__)

ACTOR_RESTARTS = 3
CALL_RETRIES = 3


@dataclass(frozen=True, slots=True)
class ChartOutcome:
    """One chart's result: its `chartcoder code` record, or `reused` (the old record stands),
    and the setting and convention it was coded under."""

    chart_id: str
    sha256: str | None
    record: dict[str, Any] | None
    reused: bool = False
    setting: str | None = None
    convention: str | None = None


@dataclass(frozen=True, slots=True)
class ShardResult:
    shard: int
    outcomes: tuple[ChartOutcome, ...]
    characters: int
    read_seconds: float
    code_seconds: float
    worker: str
    errors: int = 0
    reused: int = 0


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    worker: str
    node_id: str
    load_seconds: float
    model_version: str


@dataclass(frozen=True, slots=True)
class ArtifactFiles:
    """Built artefacts shipped through the object store: file name -> bytes."""

    name: str
    files: dict[str, bytes] = field(repr=False)


class ChartCoderWorker:
    """The body of a Ray actor (`ray.remote(ChartCoderWorker)`); also usable in-process."""

    def __init__(
        self,
        artifacts: str | ArtifactFiles,
        reader: ChartReader,
        options: dict[str, Any] | None = None,
    ) -> None:
        from nlp.coder import ChartCoder
        from nlp.meat import MeatFinder

        started = time.perf_counter()
        path = _materialise(artifacts)
        self.coder = ChartCoder.from_artifacts(path, **(options or {}))
        self.meat = MeatFinder()
        self.reader = reader
        self.load_seconds = time.perf_counter() - started
        self.name = f"{os.uname().nodename}:{os.getpid()}"

    def info(self) -> WorkerInfo:
        node_id = ""
        try:
            import ray

            node_id = ray.get_runtime_context().get_node_id()
        except Exception:  # outside Ray: no node
            node_id = "local"
        return WorkerInfo(self.name, node_id, self.load_seconds, self.coder.model_version)

    def code_shard(self, shard: int, refs: list[ChartRef], known: dict[str, str]) -> ShardResult:
        """Read and code a shard; `known` maps chart id -> `reuse_key` of a reusable previous
        record (the same bytes, coded under the same setting and convention)."""
        started = time.perf_counter()
        outcomes: dict[str, ChartOutcome] = {}
        to_code: list[tuple[Chart, str | None]] = []
        characters = 0
        convention = self.coder.convention
        for ref in refs:
            read = self.reader.read(ref)
            setting = read.chart.setting or self.coder.setting
            if read.sha256 is not None and known.get(ref.chart_id) == reuse_key(
                read.sha256, setting, convention
            ):
                outcomes[ref.chart_id] = ChartOutcome(
                    ref.chart_id, read.sha256, None, True, setting, convention
                )
                continue
            characters += len(read.chart.text)
            to_code.append((read.chart, read.sha256))
        read_seconds = time.perf_counter() - started
        coded = self._code([chart for chart, _ in to_code])
        for (chart, digest), record in zip(to_code, coded, strict=True):
            setting = chart.setting or self.coder.setting
            outcomes[chart.chart_id] = ChartOutcome(
                chart.chart_id, digest, record, False, setting, convention
            )
        ordered = tuple(outcomes[ref.chart_id] for ref in refs)
        return ShardResult(
            shard=shard,
            outcomes=ordered,
            characters=characters,
            read_seconds=read_seconds,
            code_seconds=time.perf_counter() - started - read_seconds,
            worker=self.name,
            errors=sum(1 for o in ordered if o.record is not None and o.record["error"]),
            reused=sum(1 for o in ordered if o.reused),
        )

    def _code(self, charts: list[Chart]) -> list[dict[str, Any]]:
        """Records for a batch, their HCC-bearing codes annotated with their MEAT evidence; a
        chart the engine fails on becomes an error record."""
        try:
            results = self.coder.code(charts)
            return [
                self.meat.annotate(chart.text, result.to_dict())
                for chart, result in zip(charts, results, strict=True)
            ]
        except Exception:
            records = []
            for chart in charts:
                try:
                    result = self.coder.code([chart])[0]
                    records.append(self.meat.annotate(chart.text, result.to_dict()))
                except Exception as exc:  # a bad chart is a result; the type, never the text
                    failed = Chart(chart.chart_id, "", f"coding failed: {type(exc).__name__}")
                    records.append(self.coder.code([failed])[0].to_dict())
            return records


def _materialise(artifacts: str | ArtifactFiles) -> Path:
    if isinstance(artifacts, str):
        return Path(artifacts)
    folder = Path(tempfile.gettempdir()) / "chartcoder-artifacts" / artifacts.name
    if not (folder / "manifest.json").is_file():
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder.parent.as_posix()))
        for name, data in artifacts.files.items():
            (staging / name).write_bytes(data)
        with contextlib.suppress(OSError):  # another actor on this node got there first
            staging.rename(folder)
    return folder


def read_artifact_files(path: Path) -> ArtifactFiles:
    files = {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.is_file()}
    return ArtifactFiles(path.name, files)


# Shards queued per actor: with two, an actor starts its next shard as soon as one finishes,
# instead of idling while the driver collects the result and submits the next task.
QUEUE_DEPTH = 2


class CoderPool:
    """A fixed set of actors; the driver keeps up to QUEUE_DEPTH shards queued on each."""

    def __init__(self, actors: list[Any], depth: int = QUEUE_DEPTH) -> None:
        if not actors:
            raise ValueError("a coder pool needs at least one actor")
        self.actors = actors
        self.idle = [slot for _ in range(depth) for slot in range(len(actors))]

    @classmethod
    def start(
        cls,
        size: int,
        artifacts: str | ArtifactFiles,
        reader: ChartReader,
        options: dict[str, Any] | None = None,
        num_cpus: float = 1,
    ) -> CoderPool:
        import ray

        shipped: Any = ray.put(artifacts) if isinstance(artifacts, ArtifactFiles) else artifacts
        actor_class = ray.remote(ChartCoderWorker).options(
            num_cpus=num_cpus,
            max_restarts=ACTOR_RESTARTS,
            max_task_retries=CALL_RETRIES,
        )
        return cls([actor_class.remote(shipped, reader, options) for _ in range(size)])

    def wait_ready(self) -> list[WorkerInfo]:
        import ray

        return ray.get([actor.info.remote() for actor in self.actors])

    def take(self) -> int:
        return self.idle.pop(0)

    def give_back(self, slot: int) -> None:
        self.idle.append(slot)

    def code(
        self, slot: int, shard: int, refs: list[ChartRef], known: dict[str, str], timeout: float
    ) -> ShardResult:
        import ray

        ref = self.actors[slot].code_shard.remote(shard, refs, known)
        return ray.get(ref, timeout=timeout)

    def shutdown(self) -> None:
        import ray

        for actor in self.actors:
            ray.kill(actor, no_restart=True)
