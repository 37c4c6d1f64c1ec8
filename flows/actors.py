"""Ray actors that each hold one loaded `ChartCoder`, and the pool the driver hands shards to.

An actor loads the engine once, in `__init__`, from built artefacts: a folder every node can
read (a shared cache), or files shipped once through the object store. It reads the charts of a
shard itself from their references and returns plain records and metrics, never chart text:
the MEAT evidence of each HCC-bearing code (`nlp.meat`) is found here, where the text is, and
leaves as offsets.
Each chart is coded under its own setting (a record's, or its folder's) or else the actor's.
Actors restart when they or their node die, and the call in flight is retried (`max_restarts`,
`max_task_retries`); results are keyed by chart id, so a retried shard is harmless.

A big scanned PDF's OCR is shared with the other coders (`flows.pdf_sharing`): each actor knows
its peers (`meet_peers`) and reads their page ranges in a concurrency group of its own
(`read_pages`). The text of every PDF an actor read stays with it, up to `KEPT_TEXT_CHARS`,
until the driver takes it for `texts.jsonl` (`take_texts`), so no PDF is recognised twice.
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

import ray

from flows.outputs import reuse_key
from flows.pdf_sharing import PeerPdfReader
from flows.sources import ChartReader, ChartRef
from nlp.records import Chart
from records import PdfLimits, PdfText, read_pdf

log = logging.getLogger(__name__)

ACTOR_RESTARTS = 3
CALL_RETRIES = 3
# The concurrency group in which an actor reads its peers' page ranges, one range at a time,
# beside the shard it is coding.
PAGES_GROUP = "pages"
# Characters of PDF text an actor keeps for `texts.jsonl`; past it the driver reads them again.
KEPT_TEXT_CHARS = 256 * 1024 * 1024


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
    shared_pdfs: int = 0


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
        self.pdf_reader = PeerPdfReader()
        self.kept_texts: dict[str, str] = {}
        self.kept_chars = 0
        self.load_seconds = time.perf_counter() - started
        self.name = f"{os.uname().nodename}:{os.getpid()}"

    def meet_peers(self, peers: list[Any]) -> None:
        """The other coders (actor handles), to share a big PDF's OCR with. An actor restarted
        after a failure has none, and reads its PDFs alone."""
        self.pdf_reader = PeerPdfReader(peers)

    @ray.method(concurrency_group=PAGES_GROUP)
    def read_pages(self, data: bytes, limits: PdfLimits, pages: range) -> PdfText:
        """A peer's page range of one PDF (`flows.pdf_sharing`)."""
        return read_pdf(data, limits, pages)

    def take_texts(self) -> dict[str, str]:
        """The texts of the PDFs this actor read (chart id -> text, as coded), handed over
        once."""
        texts, self.kept_texts, self.kept_chars = self.kept_texts, {}, 0
        return texts

    def _keep_text(self, chart: Chart) -> None:
        if not chart.pages or self.kept_chars + len(chart.text) > KEPT_TEXT_CHARS:
            return
        self.kept_chars += len(chart.text) - len(self.kept_texts.get(chart.chart_id, ""))
        self.kept_texts[chart.chart_id] = chart.text

    def info(self) -> WorkerInfo:
        node_id = ""
        try:
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
        shared_before = self.pdf_reader.shared
        for ref in refs:
            read = self.reader.read(ref, self.pdf_reader)
            self._keep_text(read.chart)
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
            shared_pdfs=self.pdf_reader.shared - shared_before,
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


def coder_actor_class(num_cpus: float = 1) -> Any:
    """`ChartCoderWorker` as a Ray actor class: restarted when it dies, its calls retried, and
    peers' page ranges read in a concurrency group of their own."""
    return ray.remote(concurrency_groups={PAGES_GROUP: 1})(ChartCoderWorker).options(  # type: ignore[call-overload]
        num_cpus=num_cpus,
        max_restarts=ACTOR_RESTARTS,
        max_task_retries=CALL_RETRIES,
    )


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
        shipped: Any = ray.put(artifacts) if isinstance(artifacts, ArtifactFiles) else artifacts
        actor_class = coder_actor_class(num_cpus)
        actors: list[Any] = [actor_class.remote(shipped, reader, options) for _ in range(size)]
        for index, actor in enumerate(actors):
            # each actor's peers in turn from the next one, so that the first range of a shared
            # PDF (the longest, when they differ) does not always go to the same peer
            peers = actors[index + 1 :] + actors[:index]
            actor.meet_peers.remote(peers)
        return cls(actors)

    def wait_ready(self) -> list[WorkerInfo]:
        return ray.get([actor.info.remote() for actor in self.actors])

    def take(self) -> int:
        return self.idle.pop(0)

    def give_back(self, slot: int) -> None:
        self.idle.append(slot)

    def code(
        self, slot: int, shard: int, refs: list[ChartRef], known: dict[str, str], timeout: float
    ) -> ShardResult:
        ref = self.actors[slot].code_shard.remote(shard, refs, known)
        return ray.get(ref, timeout=timeout)

    def take_texts(self) -> dict[str, str]:
        """The PDF texts every actor kept (`ChartCoderWorker.take_texts`); an actor that cannot
        answer gives none, and those charts are read again."""
        from ray.exceptions import RayError

        texts: dict[str, str] = {}
        for actor in self.actors:
            try:
                texts |= ray.get(actor.take_texts.remote())
            except RayError as exc:
                log.warning("a coder's PDF texts are lost (%s): read again", type(exc).__name__)
        return texts

    def shutdown(self) -> None:
        for actor in self.actors:
            ray.kill(actor, no_restart=True)
