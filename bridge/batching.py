"""Batching: created objects grouped into batches per prefix, pure decisions (no I/O, the time
from an injected clock).

A batch is the objects under one "folder" below the landing prefix; it is ready when the marker
object lands or after a quiet period. Objects that land after their batch was sealed form the next
generation; an object already in an announced batch (per the state) is a replay and is ignored.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bridge.config import S3Url
from bridge.notifications import S3Object
from bridge.state import BridgeState, Intent, object_digest

log = logging.getLogger(__name__)

# uuid5 namespace of batch event ids; changing it would re-run every replayed batch.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:chartcoder:batch")


@dataclass(frozen=True)
class Batch:
    """A batch ready to announce: `objects` counts distinct chart keys (the marker excluded)."""

    bucket: str
    prefix: str
    generation: int
    objects: int
    reason: str  # "marker" or "quiet"

    @property
    def id(self) -> uuid.UUID:
        return batch_id(self.bucket, self.prefix, self.generation)


def batch_id(bucket: str, prefix: str, generation: int) -> uuid.UUID:
    """The event id of a batch: the same batch always gets the same id, so Prefect runs it once."""
    return uuid.uuid5(NAMESPACE, json.dumps([bucket, prefix, generation]))


@dataclass
class _Pending:
    generation: int
    last_added: float
    objects: dict[str, str] = field(default_factory=dict)  # chart key -> version
    digests: set[str] = field(default_factory=set)  # members, marker included
    messages: set[str] = field(default_factory=set)
    marker: bool = False
    reason: str = ""
    restored: int | None = None  # the object count of a batch restored from an Intent

    @property
    def count(self) -> int:
        return len(self.objects) if self.restored is None else self.restored


@dataclass
class _Prefix:
    open: _Pending | None = None
    sealed: deque[_Pending] = field(default_factory=deque)  # ready, oldest generation first

    def holding(self, digest: str) -> _Pending | None:
        for pending in (*self.sealed, self.open):
            if pending is not None and digest in pending.digests:
                return pending
        return None


class Batcher:
    """Groups created objects into batches per prefix; no I/O, time from `clock`.

    `add` takes the objects of one message, `ready` seals due batches and returns the oldest
    unannounced batch of each prefix, `intend` notes a batch about to be announced, `emitted`
    records an accepted batch in the state, and `take_settled` hands over the messages that no
    batch needs any more (safe to delete once the state is saved). Intents found in the state
    come back as sealed batches, ready at once.
    """

    def __init__(
        self,
        landing: S3Url,
        state: BridgeState,
        *,
        marker: str = "_READY",
        quiet_seconds: float = 20.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.landing = landing
        self.state = state
        self.marker = marker
        self.quiet_seconds = quiet_seconds
        self._clock = clock
        self._prefixes: dict[str, _Prefix] = {}
        self._waiting: dict[str, set[tuple[str, int]]] = {}  # message -> (prefix, generation)
        self._settled: set[str] = set()
        for prefix, intent in state.intents.items():  # announced (maybe) before a crash
            restored = _Pending(
                intent.generation,
                clock(),
                digests=set(intent.members),
                reason=intent.reason,
                restored=intent.objects,
            )
            self._prefixes[prefix] = _Prefix(sealed=deque([restored]))

    def batch_prefix(self, item: S3Object) -> str | None:
        """The batch `item` belongs to, or None when it is not a landing object."""
        if item.bucket != self.landing.bucket or not item.key.startswith(self.landing.prefix):
            return None
        if item.key.endswith("/"):
            return None  # a "folder" placeholder
        parent = item.key[len(self.landing.prefix) :].rpartition("/")[0]
        return self.landing.prefix + (f"{parent}/" if parent else "")

    def is_marker(self, item: S3Object) -> bool:
        return item.key.rpartition("/")[2] == self.marker

    def add(self, message: str, objects: Sequence[S3Object]) -> None:
        now = self._clock()
        waits = self._waiting.get(message, set())
        for item in objects:
            prefix = self.batch_prefix(item)
            if prefix is None:
                log.debug("ignored %s/%s: outside %s", item.bucket, item.key, self.landing)
                continue
            digest = object_digest(item.key, item.version)
            if self.state.seen(prefix, digest):
                log.debug("ignored %s: already in an emitted batch of %s", item.key, prefix)
                continue
            group = self._prefixes.setdefault(prefix, _Prefix())
            pending = group.holding(digest)
            if pending is None:  # a new object (or a new version of a key)
                if group.open is None:
                    generation = self.state.generation(prefix) + len(group.sealed) + 1
                    group.open = _Pending(generation, now)
                pending = group.open
                pending.digests.add(digest)
                pending.last_added = now
                if self.is_marker(item):
                    pending.marker = True
                else:
                    pending.objects[item.key] = item.version
            pending.messages.add(message)
            waits.add((prefix, pending.generation))
        if waits:
            self._waiting[message] = waits
        else:
            self._settled.add(message)

    def ready(self) -> list[Batch]:
        """Seal the batches that are due; the oldest unannounced batch of each prefix."""
        now = self._clock()
        for prefix, group in list(self._prefixes.items()):
            pending = group.open
            if pending is None:
                continue
            if not (pending.marker or now - pending.last_added >= self.quiet_seconds):
                continue
            group.open = None
            if not pending.objects:
                log.info("marker under %s with no new object: no batch", prefix)
                self._release(prefix, pending)
                continue
            pending.reason = "marker" if pending.marker else "quiet"
            group.sealed.append(pending)
        return [
            Batch(
                self.landing.bucket,
                prefix,
                group.sealed[0].generation,
                group.sealed[0].count,
                group.sealed[0].reason,
            )
            for prefix, group in sorted(self._prefixes.items())
            if group.sealed
        ]

    def intend(self, batch: Batch) -> bool:
        """Note in the state that `batch` is being announced; True if the state must be saved."""
        pending = self._head(batch)
        intent = Intent(batch.generation, batch.objects, batch.reason, frozenset(pending.digests))
        return self.state.intend(batch.prefix, intent)

    def emitted(self, batch: Batch) -> None:
        """Record that the API accepted `batch` (the caller saves the state next)."""
        pending = self._head(batch)
        self._prefixes[batch.prefix].sealed.popleft()
        self.state.record(batch.prefix, batch.generation, pending.digests)
        self._release(batch.prefix, pending)

    def _head(self, batch: Batch) -> _Pending:
        group = self._prefixes.get(batch.prefix)
        if group is None or not group.sealed or group.sealed[0].generation != batch.generation:
            raise ValueError(f"{batch.prefix} generation {batch.generation} is not the next one")
        return group.sealed[0]

    def take_settled(self) -> set[str]:
        """Messages no batch waits for any more; forgets them."""
        settled, self._settled = self._settled, set()
        return settled

    @property
    def waiting_messages(self) -> set[str]:
        return set(self._waiting)

    @property
    def sealed(self) -> int:
        """How many batches are ready and not yet accepted."""
        return sum(len(group.sealed) for group in self._prefixes.values())

    def next_deadline(self) -> float | None:
        """When the next open batch falls due (clock time), or None."""
        deadlines = [
            group.open.last_added + (0.0 if group.open.marker else self.quiet_seconds)
            for group in self._prefixes.values()
            if group.open is not None
        ]
        return min(deadlines, default=None)

    def _release(self, prefix: str, pending: _Pending) -> None:
        for message in pending.messages:
            waits = self._waiting.get(message)
            if waits is None:
                continue
            waits.discard((prefix, pending.generation))
            if not waits:
                del self._waiting[message]
                self._settled.add(message)
        group = self._prefixes[prefix]
        if group.open is None and not group.sealed:
            del self._prefixes[prefix]
