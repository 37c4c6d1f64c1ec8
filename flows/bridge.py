"""The S3 -> Prefect event bridge: S3 notifications read from SQS become one event per batch.

The self-hosted Prefect server has no webhooks and prefect-aws has no S3 sensor, so this small
process reads the S3 event notifications of the landing bucket from an SQS queue (the same code
for AWS and for moto's server), groups the objects into batches and emits one
`chartcoder.batch.ready` event per batch with a plain `POST {PREFECT_API_URL}/events`.

- A batch is the objects under one "folder" below the landing prefix (`incoming/` + key
  `incoming/2026-11-26/a.txt` -> batch `incoming/2026-11-26/`; a key directly under the landing
  prefix belongs to the root batch `incoming/`). It is ready when the producer writes the marker
  object (`_READY`) or after a quiet period with no new object under that prefix.
- The event id is a uuid5 of (bucket, prefix, generation): a replayed notification never makes a
  second run. Objects that land after their batch was sealed form the next generation.
- A message is deleted from the queue only once every batch it feeds was accepted by the API and
  the state file says so (save intent -> emit -> save generation -> delete); meanwhile its
  visibility is extended. The intent (the batch's members) makes a bridge restarted after a crash
  announce exactly the same batch again rather than fold later objects into it.

Three parts: `Batcher` (pure batching, no I/O, injected clock), `PrefectEmitter` (the POST) and
`Bridge` (the SQS loop). docs/bridge.md describes the crash windows that remain.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import signal
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import unquote_plus

import httpx

log = logging.getLogger(__name__)

EVENT = "chartcoder.batch.ready"
RESOURCE_PREFIX = "chartcoder.batch."
# uuid5 namespace of batch event ids; changing it would re-run every replayed batch.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:chartcoder:batch")
STATE_FILE = "state.json"
STATE_VERSION = 1
REMEMBERED_PER_PREFIX = 100_000  # emitted (key, version) digests kept per prefix
# Digests of a prefix are dropped this long after its last batch: SQS keeps a message 14 days at
# most, so no re-delivery can come later. Generations are kept for good.
FORGET_AFTER_SECONDS = 14 * 24 * 3600
SQS_BATCH = 10  # most messages per receive / delete / visibility call
SQS_MAX_WAIT = 20  # longest long poll
SQS_MAX_VISIBILITY = 43_200  # 12 hours
DRAIN_RECEIVES = 10  # receives per cycle at most (a backlog is read over several cycles)


class ConfigError(ValueError):
    """A bad bridge setting; the message names the value and what is allowed."""


class MalformedMessage(ValueError):
    """An SQS message that is not an S3 event notification; the message says why."""


class EmitError(RuntimeError):
    """The Prefect API refused an event for good (a 4xx other than 408/429)."""


class TransientEmitError(RuntimeError):
    """The Prefect API could not take the event now (down, 5xx, timeout): retry later."""


# -- configuration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Url:
    """`s3://bucket/prefix`, the prefix normalised to end with "/" (or empty: the whole bucket)."""

    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, uri: str) -> S3Url:
        if not uri.startswith("s3://"):
            raise ConfigError(f"{uri!r}: not an S3 location (expected s3://bucket/prefix)")
        bucket, _, prefix = uri[len("s3://") :].partition("/")
        if not bucket:
            raise ConfigError(f"{uri!r}: no bucket name (expected s3://bucket/prefix)")
        prefix = prefix.strip("/")
        return cls(bucket, f"{prefix}/" if prefix else "")

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def default_state_dir() -> Path:
    from platformdirs import user_state_dir

    return Path(user_state_dir("chartcoder")) / "bridge"


def default_prefect_api_url() -> str:
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or ""


@dataclass(frozen=True)
class BridgeConfig:
    """Where notifications come from, where events go, and how batches are cut.

    `visibility_timeout` is the SQS visibility (seconds) the bridge keeps on messages it holds,
    renewed at half-time; `poll_wait_seconds` the longest long poll. `prefect_api_url` defaults to
    the PREFECT_API_URL setting, `endpoint_url` to AWS (set it for moto or another S3/SQS server).
    """

    queue_url: str
    landing: str
    results: str
    dead_letter_queue_url: str | None = None
    quiet_seconds: float = 20.0
    marker: str = "_READY"
    state_dir: Path = field(default_factory=default_state_dir)
    visibility_timeout: int = 120
    poll_wait_seconds: int = 20
    prefect_api_url: str = field(default_factory=default_prefect_api_url)
    endpoint_url: str | None = None
    region: str | None = None
    request_timeout: float = 10.0
    retry_initial_seconds: float = 1.0
    retry_max_seconds: float = 60.0

    def __post_init__(self) -> None:
        if not self.queue_url:
            raise ConfigError("queue_url is empty: give the URL of the SQS queue S3 notifies")
        S3Url.parse(self.landing)
        S3Url.parse(self.results)
        if not self.quiet_seconds > 0:
            raise ConfigError(f"quiet_seconds={self.quiet_seconds}: must be above 0")
        if not self.marker or "/" in self.marker:
            raise ConfigError(f"marker={self.marker!r}: must be a non-empty name without '/'")
        if not 2 <= self.visibility_timeout <= SQS_MAX_VISIBILITY:
            raise ConfigError(
                f"visibility_timeout={self.visibility_timeout}: allowed 2..{SQS_MAX_VISIBILITY} s"
            )
        if not 0 <= self.poll_wait_seconds <= SQS_MAX_WAIT:
            raise ConfigError(
                f"poll_wait_seconds={self.poll_wait_seconds}: allowed 0..{SQS_MAX_WAIT} s"
            )
        if not self.prefect_api_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"prefect_api_url={self.prefect_api_url!r}: need an http(s) URL "
                "(set PREFECT_API_URL or pass it)"
            )
        if not 0 < self.retry_initial_seconds <= self.retry_max_seconds:
            raise ConfigError(
                f"retry_initial_seconds={self.retry_initial_seconds}, retry_max_seconds="
                f"{self.retry_max_seconds}: need 0 < initial <= max"
            )
        object.__setattr__(self, "state_dir", Path(self.state_dir).expanduser())

    @property
    def landing_url(self) -> S3Url:
        return S3Url.parse(self.landing)

    @property
    def results_url(self) -> S3Url:
        return S3Url.parse(self.results)


# -- notifications ----------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Object:
    """One ObjectCreated record. `version` (the S3 sequencer, else eTag@eventTime) tells a
    re-delivered notification (same key, same version) from a new write of the key."""

    bucket: str
    key: str
    version: str


def parse_message(body: str) -> list[S3Object]:
    """The created objects an SQS message announces (S3 direct, or S3 -> SNS -> SQS).

    The `s3:TestEvent` and records other than ObjectCreated give nothing; keys are URL-decoded.
    Anything else raises `MalformedMessage`.
    """
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise MalformedMessage(f"not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise MalformedMessage(f"a JSON {type(data).__name__}, not an object")
    if data.get("Type") == "Notification" and isinstance(data.get("Message"), str):
        return parse_message(data["Message"])  # delivered through SNS
    if data.get("Event") == "s3:TestEvent":
        return []
    records = data.get("Records")
    if records is None:
        raise MalformedMessage("no Records")
    if not isinstance(records, list):
        raise MalformedMessage("Records is not a list")
    objects = []
    for number, record in enumerate(records):
        if not isinstance(record, dict) or not isinstance(record.get("eventName"), str):
            raise MalformedMessage(f"record {number} has no eventName")
        if not record["eventName"].removeprefix("s3:").startswith("ObjectCreated:"):
            continue
        try:
            bucket = record["s3"]["bucket"]["name"]
            described = record["s3"]["object"]
            key = described["key"]
        except (KeyError, TypeError) as exc:
            raise MalformedMessage(
                f"record {number} lacks s3.bucket.name or s3.object.key"
            ) from exc
        if not (isinstance(bucket, str) and isinstance(key, str) and key):
            raise MalformedMessage(f"record {number}: bucket name or key is not a string")
        sequencer = described.get("sequencer")
        if sequencer is None:  # servers without sequencers (moto): the write's eTag and time
            sequencer = f"{described.get('eTag', '')}@{record.get('eventTime', '')}"
        if not isinstance(sequencer, str):
            raise MalformedMessage(f"record {number}: sequencer is not a string")
        objects.append(S3Object(bucket, unquote_plus(key), sequencer))
    return objects


# -- state ------------------------------------------------------------------------------------


def _digest(key: str, version: str) -> str:
    """What the state remembers of an emitted object: no key (keys may name patients)."""
    return hashlib.sha256(f"{key}\0{version}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Intent:
    """A batch about to be announced, saved before the POST: after a crash the same batch (same
    members, same id) is announced again, and objects that came later are not folded into it."""

    generation: int
    objects: int
    reason: str
    members: frozenset[str]  # digests

    def to_dict(self) -> dict[str, Any]:
        return {
            "generation": self.generation,
            "objects": self.objects,
            "reason": self.reason,
            "members": sorted(self.members),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Intent:
        return cls(
            int(data["generation"]),
            int(data["objects"]),
            str(data["reason"]),
            frozenset(str(d) for d in data["members"]),
        )


class BridgeState:
    """Per batch prefix: the last emitted generation, a bounded record of emitted objects and
    the batch being announced (`Intent`), if any.

    Saved as JSON in the state folder by atomic replace; a state written for another landing
    location is refused (its generations would mean nothing here).
    """

    def __init__(
        self,
        landing: str,
        remembered: int = REMEMBERED_PER_PREFIX,
        *,
        forget_after: float = FORGET_AFTER_SECONDS,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.landing = landing
        self.remembered = remembered
        self.forget_after = forget_after
        self._wall_clock = wall_clock
        self._generations: dict[str, int] = {}
        self._emitted: dict[str, deque[str]] = {}
        self._emitted_set: dict[str, set[str]] = {}
        self._emitted_at: dict[str, float] = {}
        self._intents: dict[str, Intent] = {}

    def generation(self, prefix: str) -> int:
        """The last generation emitted for `prefix` (0: none yet)."""
        return self._generations.get(prefix, 0)

    def seen(self, prefix: str, digest: str) -> bool:
        return digest in self._emitted_set.get(prefix, ())

    @property
    def intents(self) -> dict[str, Intent]:
        return dict(self._intents)

    def intend(self, prefix: str, intent: Intent) -> bool:
        """Note that `intent` is being announced; False when it was already noted."""
        if self._intents.get(prefix) == intent:
            return False
        self._check_next(prefix, intent.generation)
        self._intents[prefix] = intent
        return True

    def record(self, prefix: str, generation: int, digests: Iterable[str]) -> None:
        """Note that generation `generation` of `prefix` was accepted, with these members."""
        self._check_next(prefix, generation)
        now = self._wall_clock()
        self._generations[prefix] = generation
        self._intents.pop(prefix, None)
        for old, at in list(self._emitted_at.items()):
            if at < now - self.forget_after:  # no re-delivery can come any more
                del self._emitted_at[old], self._emitted[old], self._emitted_set[old]
        self._emitted_at[prefix] = now
        order = self._emitted.setdefault(prefix, deque())
        members = self._emitted_set.setdefault(prefix, set())
        for digest in digests:
            if digest not in members:
                order.append(digest)
                members.add(digest)
        while len(order) > self.remembered:
            members.discard(order.popleft())

    def _check_next(self, prefix: str, generation: int) -> None:
        if generation != self.generation(prefix) + 1:
            raise ValueError(
                f"{prefix}: generation {generation} emitted after {self.generation(prefix)}"
            )

    def to_dict(self) -> dict[str, Any]:
        prefixes: dict[str, Any] = {}
        for prefix in sorted(self._generations.keys() | self._intents.keys()):
            entry: dict[str, Any] = {"generation": self.generation(prefix)}
            if prefix in self._emitted_at:
                entry["emitted_at"] = self._emitted_at[prefix]
                entry["emitted"] = list(self._emitted[prefix])
            if prefix in self._intents:
                entry["emitting"] = self._intents[prefix].to_dict()
            prefixes[prefix] = entry
        return {"version": STATE_VERSION, "landing": self.landing, "prefixes": prefixes}

    @classmethod
    def from_dict(cls, data: dict[str, Any], **options: Any) -> BridgeState:
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"state version {data.get('version')!r}: expected {STATE_VERSION}")
        state = cls(data["landing"], **options)
        for prefix, entry in data["prefixes"].items():
            if int(entry["generation"]):
                state._generations[prefix] = int(entry["generation"])
            if "emitted_at" in entry:
                digests = [str(d) for d in entry["emitted"]][-state.remembered :]
                state._emitted[prefix] = deque(digests)
                state._emitted_set[prefix] = set(digests)
                state._emitted_at[prefix] = float(entry["emitted_at"])
            if "emitting" in entry:
                state._intents[prefix] = Intent.from_dict(entry["emitting"])
        return state

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / STATE_FILE
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".state-", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(self.to_dict(), out, indent=1)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        directory = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return path

    @classmethod
    def load(cls, folder: Path, landing: str, **options: Any) -> BridgeState:
        """The saved state, or a fresh one when the folder holds none."""
        path = folder / STATE_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(landing, **options)
        try:
            state = cls.from_dict(json.loads(text), **options)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"{path}: not a bridge state file ({exc})") from exc
        if state.landing != landing:
            raise ConfigError(
                f"{path}: state of {state.landing}, not of {landing}: use one state folder "
                "per landing location"
            )
        return state


# -- batching ---------------------------------------------------------------------------------


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
            digest = _digest(item.key, item.version)
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


# -- events -----------------------------------------------------------------------------------


def batch_event(batch: Batch, results: S3Url, occurred: datetime) -> dict[str, Any]:
    """The `chartcoder.batch.ready` event of a batch, as the Prefect events API takes it."""
    return {
        "id": str(batch.id),
        "occurred": occurred.isoformat(),
        "event": EVENT,
        "resource": {
            "prefect.resource.id": f"{RESOURCE_PREFIX}{batch.bucket}.{batch.prefix}",
            "prefect.resource.name": f"s3://{batch.bucket}/{batch.prefix}",
        },
        "payload": {
            "bucket": batch.bucket,
            "prefix": batch.prefix,
            "results": f"s3://{results.bucket}/{results.prefix}{batch.prefix}",
            "objects": batch.objects,
            "generation": batch.generation,
            "reason": batch.reason,
        },
        "related": [],
    }


def _auth_headers() -> dict[str, str]:
    """The Authorization header the Prefect client would send (auth string, else API key)."""
    import base64

    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_KEY

    auth_string, api_key = PREFECT_API_AUTH_STRING.value(), PREFECT_API_KEY.value()
    if auth_string:
        return {"Authorization": f"Basic {base64.b64encode(auth_string.encode()).decode()}"}
    if api_key:
        return {"Authorization": f"Bearer {api_key}"}
    return {}


class PrefectEmitter:
    """Sends one event by `POST {api_url}/events` (HTTP 204 = accepted), synchronously."""

    def __init__(
        self, api_url: str, *, timeout: float = 10.0, client: httpx.Client | None = None
    ) -> None:
        self.url = f"{api_url.rstrip('/')}/events"
        self._client = client or httpx.Client(timeout=timeout, headers=_auth_headers())

    def emit(self, event: dict[str, Any]) -> None:
        try:
            response = self._client.post(self.url, json=[event])
        except httpx.TransportError as exc:  # refused, reset, timed out
            raise TransientEmitError(f"{type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if 200 <= status < 300:
            return
        if status >= 500 or status in (408, 429):
            raise TransientEmitError(f"HTTP {status}")
        raise EmitError(f"{self.url} refused the event: HTTP {status} {response.text[:300]}")

    def close(self) -> None:
        self._client.close()


# -- the SQS loop -----------------------------------------------------------------------------


class _Interrupted(BaseException):
    """Raised by the signal handler to cut a long poll short."""


def _lock_folder(folder: Path) -> int:
    """An exclusive lock on the state folder: two bridges on one state would reuse event ids."""
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    handle = os.open(folder / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(handle)
        raise ConfigError(f"{folder}: another bridge is using this state folder") from None
    return handle


def _chunks(items: Sequence[str], size: int = SQS_BATCH) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Bridge:
    """Reads the queue, feeds the `Batcher`, emits ready batches, deletes settled messages.

    One bridge per queue: its batches live in memory, only generations and emitted objects in
    the state file. `sqs` (a boto3 SQS client), `emitter` and `clock` are injectable for tests.
    """

    def __init__(
        self,
        config: BridgeConfig,
        *,
        sqs: Any = None,
        emitter: PrefectEmitter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._lock: int | None = _lock_folder(config.state_dir)
        try:
            self.state = BridgeState.load(config.state_dir, str(config.landing_url))
        except BaseException:
            os.close(self._lock)
            raise
        if sqs is None:
            import boto3

            sqs = boto3.client("sqs", endpoint_url=config.endpoint_url, region_name=config.region)
        self._sqs = sqs
        self._emitter = emitter or PrefectEmitter(
            config.prefect_api_url, timeout=config.request_timeout
        )
        self._clock = clock
        self.batcher = Batcher(
            config.landing_url,
            self.state,
            marker=config.marker,
            quiet_seconds=config.quiet_seconds,
            clock=clock,
        )
        self._results = config.results_url
        self._receipts: dict[str, str] = {}  # message id -> latest receipt handle
        self._renewed: dict[str, float] = {}  # message id -> when its visibility was last set
        self._failures = 0
        self._retry_at = 0.0
        self._stop = threading.Event()
        self._receiving = False

    # one cycle

    def run_once(self, wait_seconds: float | None = None) -> list[Batch]:
        """Receive (long poll), extend held messages, emit ready batches, delete settled ones.

        Returns the batches the API accepted in this cycle.
        """
        for message in self._receive(self._wait(wait_seconds)):
            self._accept(message)
        self._renew_visibility()
        emitted = self._emit_ready()
        self._delete(self.batcher.take_settled())
        return emitted

    def _wait(self, wait_seconds: float | None) -> float:
        """How long to wait for messages: until the next batch, renewal or retry falls due."""
        if wait_seconds is not None:
            return wait_seconds
        now = self._clock()
        due = [now + self.config.poll_wait_seconds]
        if (deadline := self.batcher.next_deadline()) is not None:
            due.append(max(deadline, self._retry_at))
        if self.batcher.sealed:
            due.append(self._retry_at)
        if self._renewed:
            due.append(min(self._renewed.values()) + self.config.visibility_timeout / 2)
        return max(0.0, min(SQS_MAX_WAIT, min(due) - now))

    def _receive(self, wait: float) -> list[dict[str, Any]]:
        """Long poll whole seconds (SQS takes no fractions); below one, sleep then short poll."""
        if wait < 1:
            self._stop.wait(wait)
        messages: list[dict[str, Any]] = []
        for _ in range(DRAIN_RECEIVES):
            self._receiving = True
            try:
                response = self._sqs.receive_message(
                    QueueUrl=self.config.queue_url,
                    MaxNumberOfMessages=SQS_BATCH,
                    WaitTimeSeconds=int(wait) if not messages else 0,
                    VisibilityTimeout=self.config.visibility_timeout,
                )
            finally:
                self._receiving = False
            batch = response.get("Messages", [])
            messages.extend(batch)
            if len(batch) < SQS_BATCH or self._stop.is_set():
                break  # drained (as far as one short poll can tell)
        return messages

    def _accept(self, message: dict[str, Any]) -> None:
        identifier, receipt = message["MessageId"], message["ReceiptHandle"]
        body = message.get("Body", "")
        try:
            objects = parse_message(body)
        except MalformedMessage as exc:
            self._dead_letter(identifier, receipt, body, str(exc))
            return
        self._receipts[identifier] = receipt
        self._renewed[identifier] = self._clock()
        self.batcher.add(identifier, objects)
        log.debug("message %s: %d created objects", identifier, len(objects))

    def _dead_letter(self, identifier: str, receipt: str, body: str, reason: str) -> None:
        dlq = self.config.dead_letter_queue_url
        if dlq is None:
            log.error(
                "message %s is not an S3 notification (%s); no dead-letter queue configured: "
                "left on the queue (its redrive policy decides)",
                identifier,
                reason,
            )
            return
        self._sqs.send_message(
            QueueUrl=dlq,
            MessageBody=body or "(empty)",
            MessageAttributes={
                "chartcoder-reason": {"DataType": "String", "StringValue": reason[:1000]},
                "chartcoder-message-id": {"DataType": "String", "StringValue": identifier},
            },
        )
        self._sqs.delete_message(QueueUrl=self.config.queue_url, ReceiptHandle=receipt)
        log.error(
            "message %s is not an S3 notification (%s): moved to the dead-letter queue",
            identifier,
            reason,
        )

    def _renew_visibility(self) -> None:
        now = self._clock()
        due = [
            m
            for m in sorted(self.batcher.waiting_messages)
            if now - self._renewed.get(m, now) >= self.config.visibility_timeout / 2
        ]
        for chunk in _chunks(due):
            response = self._sqs.change_message_visibility_batch(
                QueueUrl=self.config.queue_url,
                Entries=[
                    {
                        "Id": str(number),
                        "ReceiptHandle": self._receipts[m],
                        "VisibilityTimeout": self.config.visibility_timeout,
                    }
                    for number, m in enumerate(chunk)
                ],
            )
            for failed in response.get("Failed", []):
                log.warning(
                    "could not keep message %s invisible (%s): it may be delivered again",
                    chunk[int(failed["Id"])],
                    failed.get("Code"),
                )
            for m in chunk:
                self._renewed[m] = now
        if due:
            log.debug("kept %d held messages invisible", len(due))

    def _emit_ready(self) -> list[Batch]:
        emitted: list[Batch] = []
        if self._clock() < self._retry_at:
            return emitted
        while batches := self.batcher.ready():
            for batch in batches:
                if self.batcher.intend(batch):
                    self.state.save(self.config.state_dir)
                event = batch_event(batch, self._results, datetime.now(UTC))
                try:
                    self._emitter.emit(event)
                except TransientEmitError as exc:
                    self._failures += 1
                    delay = min(
                        self.config.retry_max_seconds,
                        self.config.retry_initial_seconds * 2 ** (self._failures - 1),
                    )
                    self._retry_at = self._clock() + delay
                    log.warning(
                        "Prefect API unavailable (%s): %d batch(es) waiting, retry in %.1f s",
                        exc,
                        self.batcher.sealed,
                        delay,
                    )
                    return emitted
                if self._failures:
                    log.info("Prefect API back after %d failed attempts", self._failures)
                    self._failures = 0
                self.batcher.emitted(batch)
                self.state.save(self.config.state_dir)
                emitted.append(batch)
                self._renew_visibility()  # many batches can take a while
                log.info(
                    "batch s3://%s/%s generation %d: %d objects (%s), event %s",
                    batch.bucket,
                    batch.prefix,
                    batch.generation,
                    batch.objects,
                    batch.reason,
                    batch.id,
                )
        return emitted

    def _delete(self, messages: Iterable[str]) -> None:
        settled = sorted(m for m in messages if m in self._receipts)
        for chunk in _chunks(settled):
            response = self._sqs.delete_message_batch(
                QueueUrl=self.config.queue_url,
                Entries=[
                    {"Id": str(number), "ReceiptHandle": self._receipts[m]}
                    for number, m in enumerate(chunk)
                ],
            )
            for failed in response.get("Failed", []):
                log.warning(
                    "could not delete message %s (%s): a re-delivery will be recognised",
                    chunk[int(failed["Id"])],
                    failed.get("Code"),
                )
        for m in settled:
            del self._receipts[m]
            self._renewed.pop(m, None)

    # the long run

    def run_forever(self) -> None:
        """Cycle until `stop()`, SIGTERM or SIGINT; then hand held messages back to the queue."""
        from botocore.exceptions import ConnectionError as AwsConnectionError
        from botocore.exceptions import HTTPClientError

        handlers: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                handlers[signum] = signal.signal(signum, self._on_signal)
        log.info(
            "bridge: %s (queue %s) -> %s events at %s; quiet %g s, marker %s, state %s",
            self.config.landing_url,
            self.config.queue_url,
            EVENT,
            self.config.prefect_api_url,
            self.config.quiet_seconds,
            self.config.marker,
            self.config.state_dir,
        )
        outage = 0
        try:
            while not self._stop.is_set():
                try:
                    self.run_once()
                    outage = 0
                except (AwsConnectionError, HTTPClientError) as exc:
                    outage += 1
                    delay = min(self.config.retry_max_seconds, 2.0**outage)
                    log.warning("SQS unreachable (%s): retry in %.0f s", exc, delay)
                    self._stop.wait(delay)
        except _Interrupted:
            pass
        finally:
            for number, handler in handlers.items():
                signal.signal(number, handler)
            self._hand_back()
            self.close()
            log.info("bridge stopped")

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        """Release the state folder and the HTTP client (held messages stay hidden)."""
        self._emitter.close()
        if self._lock is not None:
            os.close(self._lock)  # releases the flock
            self._lock = None

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        self._stop.set()
        if self._receiving:
            raise _Interrupted

    def _hand_back(self) -> None:
        """Make held messages visible again at once, for the next bridge (best effort)."""
        from botocore.exceptions import BotoCoreError, ClientError

        held = sorted(m for m in self.batcher.waiting_messages if m in self._receipts)
        try:
            for chunk in _chunks(held):
                self._sqs.change_message_visibility_batch(
                    QueueUrl=self.config.queue_url,
                    Entries=[
                        {"Id": str(n), "ReceiptHandle": self._receipts[m], "VisibilityTimeout": 0}
                        for n, m in enumerate(chunk)
                    ],
                )
        except (BotoCoreError, ClientError) as exc:
            log.warning(
                "could not hand %d held messages back (%s): they return after the visibility "
                "timeout",
                len(held),
                exc,
            )
        else:
            if held:
                log.info("handed %d held messages back to the queue", len(held))


# -- command line -----------------------------------------------------------------------------


def _s3_location(value: str) -> str:
    try:
        S3Url.parse(value)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return value


def _seconds(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number of seconds")
    return number


def add_bridge_parser(sub: Any) -> None:
    bridge = sub.add_parser(
        "bridge", help="turn S3 notifications (read from SQS) into Prefect batch events"
    )
    bridge.add_argument("--queue-url", required=True, help="SQS queue the landing bucket notifies")
    bridge.add_argument(
        "--landing", required=True, type=_s3_location, help="s3://bucket/prefix charts land in"
    )
    bridge.add_argument(
        "--results", required=True, type=_s3_location, help="s3://bucket/prefix for results"
    )
    bridge.add_argument("--dead-letter-queue-url", help="SQS queue for malformed messages")
    bridge.add_argument(
        "--quiet-seconds", type=_seconds, default=20.0, help="batch after this quiet (default 20)"
    )
    bridge.add_argument("--marker", default="_READY", help="object name that readies a batch")
    bridge.add_argument("--state-dir", type=Path, help="state folder (default: user state dir)")
    bridge.add_argument("--endpoint-url", help="S3/SQS endpoint (default: AWS)")
    bridge.add_argument("--region", help="AWS region (default: the AWS configuration)")
    bridge.add_argument("--visibility-timeout", type=int, help="seconds held messages stay hidden")
    bridge.add_argument("--poll-seconds", type=int, help="longest SQS long poll (0-20)")
    bridge.add_argument("--prefect-api-url", help="default: the PREFECT_API_URL setting")


def run_bridge(args: argparse.Namespace) -> int:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per POST otherwise
    logging.getLogger("botocore").setLevel(logging.WARNING)
    options = {
        "queue_url": args.queue_url,
        "landing": args.landing,
        "results": args.results,
        "dead_letter_queue_url": args.dead_letter_queue_url,
        "quiet_seconds": args.quiet_seconds,
        "marker": args.marker,
        "state_dir": args.state_dir,
        "endpoint_url": args.endpoint_url,
        "region": args.region,
        "visibility_timeout": args.visibility_timeout,
        "poll_wait_seconds": args.poll_seconds,
        "prefect_api_url": args.prefect_api_url,
    }
    try:
        config = BridgeConfig(**{k: v for k, v in options.items() if v is not None})
        bridge = Bridge(config)
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    try:
        bridge.run_forever()
    except EmitError as exc:
        log.error("%s", exc)
        return 1
    return 0
