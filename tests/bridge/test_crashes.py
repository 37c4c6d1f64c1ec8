"""Crashes in either window (after the POST, before the delete) against the real Prefect API:
nothing is lost and no batch is announced twice.
"""

from __future__ import annotations

from typing import Any

import pytest

from bridge.batching import batch_id
from bridge.emitter import EVENT, PrefectEmitter
from bridge.service import Bridge
from tests.bridge.harness import (
    cycle,
    drained,
    make_config,
    prefect_events,
)


class Crash(BaseException):
    """Stands for kill -9 at a chosen point."""


class CrashingDeletes:
    """The SQS client, except that deleting a batch of messages 'kills' the process."""

    def __init__(self, sqs: Any) -> None:
        self._sqs = sqs

    def __getattr__(self, name: str) -> Any:
        if name == "delete_message_batch":
            raise Crash
        return getattr(self._sqs, name)


class Recording(PrefectEmitter):
    """The real emitter, keeping what it sent; optionally 'killed' right after a POST."""

    def __init__(self, api_url: str, crash_after: bool = False) -> None:
        super().__init__(api_url)
        self.sent: list[dict[str, Any]] = []
        self.crash_after = crash_after

    def emit(self, event: dict[str, Any]) -> None:
        super().emit(event)
        self.sent.append(event)
        if self.crash_after:
            raise Crash


@pytest.mark.usefixtures("prefect_api")
def test_restarts_in_either_crash_window_lose_nothing_and_repeat_no_run(landing, tmp_path):
    for key in ("a.txt", "b.txt", "_READY"):
        landing.put(f"incoming/day1/{key}")
    landing.put("incoming/day2/c.txt")
    from prefect.settings import PREFECT_API_URL

    quiet = make_config(landing, tmp_path, quiet_seconds=2)
    assert quiet.prefect_api_url == PREFECT_API_URL.value()  # the default

    # 1. emitted day1 (marker) and saved the state, killed before deleting any message
    first_emitter = Recording(quiet.prefect_api_url)
    first = Bridge(quiet, sqs=CrashingDeletes(landing.sqs), emitter=first_emitter)
    with pytest.raises(Crash):
        cycle(first, lambda e: False)
    first.close()
    assert first.state.generation("incoming/day1/") == 1
    assert first.state.generation("incoming/day2/") == 0

    # 2. messages come back after the visibility timeout; day1's are recognised, day2 is
    #    batched again; killed after the POST, before saving the generation
    second_emitter = Recording(quiet.prefect_api_url, crash_after=True)
    second = Bridge(quiet, sqs=landing.sqs, emitter=second_emitter)
    with pytest.raises(Crash):
        cycle(second, lambda e: False, timeout=15)
    second.close()
    assert landing.counts() == (0, 1)  # only day2's message is left
    landing.put("incoming/day2/d.txt")  # lands while the bridge is down

    # 3. day2 generation 1 is announced again as it was (same id, one object); d.txt makes
    #    generation 2 once its quiet period is over; every message is deleted in the end
    third_emitter = Recording(quiet.prefect_api_url)
    third = Bridge(quiet, sqs=landing.sqs, emitter=third_emitter)
    emitted = cycle(third, lambda e: len(e) == 2 and drained(landing), timeout=15)
    third.close()

    sent = first_emitter.sent + second_emitter.sent + third_emitter.sent
    day1 = str(batch_id(landing.bucket, "incoming/day1/", 1))
    day2 = str(batch_id(landing.bucket, "incoming/day2/", 1))
    day2_next = str(batch_id(landing.bucket, "incoming/day2/", 2))
    assert [e["id"] for e in sent] == [day1, day2, day2, day2_next]
    assert [e["payload"]["objects"] for e in sent] == [2, 1, 1, 1]
    assert [str(b.id) for b in emitted] == [day2, day2_next]
    stored = prefect_events(landing.bucket, expected=3)
    assert sorted((e["id"], e["payload"]["generation"]) for e in stored) == sorted(
        [(day1, 1), (day2, 1), (day2_next, 2)]
    )
    assert {e["event"] for e in stored} == {EVENT}
