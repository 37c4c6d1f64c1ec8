"""The bridge's durable state: per batch prefix, the generations announced, a bounded record of the
objects in them, and the batch being announced; saved by atomic replace in the state folder, which
one bridge at a time holds locked.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.config import ConfigError

STATE_FILE = "state.json"
STATE_VERSION = 1
REMEMBERED_PER_PREFIX = 100_000  # emitted (key, version) digests kept per prefix
# Digests of a prefix are dropped this long after its last batch: SQS keeps a message 14 days at
# most, so no re-delivery can come later. Generations are kept for good.
FORGET_AFTER_SECONDS = 14 * 24 * 3600


def object_digest(key: str, version: str) -> str:
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


def lock_folder(folder: Path) -> int:
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
