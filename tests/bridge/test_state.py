"""The durable state: round trips, crash intents, bounded memory, and refusal of a foreign or
damaged state file.
"""

from __future__ import annotations

import pytest

from bridge.batching import Batch
from bridge.config import ConfigError
from bridge.state import BridgeState
from tests.bridge.harness import (
    LANDING,
    FakeClock,
    batcher,
    obj,
)


def test_state_round_trip_keeps_generations_and_recognises_replays(tmp_path):
    clock = FakeClock()
    b = batcher(clock)
    b.add("m1", [obj("incoming/d/a.txt", "s1"), obj("incoming/d/_READY", "s2")])
    [batch] = b.ready()
    b.emitted(batch)
    path = b.state.save(tmp_path)
    assert "a.txt" not in path.read_text()  # digests, not keys

    restarted = batcher(clock, BridgeState.load(tmp_path, str(LANDING)))
    restarted.add("m1", [obj("incoming/d/a.txt", "s1"), obj("incoming/d/_READY", "s2")])
    assert restarted.ready() == []
    restarted.add("m2", [obj("incoming/d/b.txt", "s3"), obj("incoming/d/_READY", "s4")])
    assert restarted.ready() == [Batch("landing", "incoming/d/", 2, 1, "marker")]


def test_an_intent_left_by_a_crash_is_announced_again_unchanged(tmp_path):
    clock = FakeClock()
    b = batcher(clock)
    b.add("m1", [obj("incoming/d/a.txt", "s1"), obj("incoming/d/_READY", "s2")])
    [batch] = b.ready()
    assert b.intend(batch) and not b.intend(batch)  # noted once
    b.state.save(tmp_path)  # ... then the POST, and the process dies

    restarted = batcher(clock, BridgeState.load(tmp_path, str(LANDING)))
    assert restarted.ready() == [batch]  # at once, same generation, count and reason
    restarted.add("m1", [obj("incoming/d/a.txt", "s1")])  # re-delivered: joins it
    restarted.add("m2", [obj("incoming/d/b.txt", "s3")])  # later: the next generation
    restarted.emitted(batch)
    assert restarted.take_settled() == {"m1"}
    assert restarted.state.intents == {}
    clock.now += 20
    assert restarted.ready() == [Batch("landing", "incoming/d/", 2, 1, "quiet")]


def test_state_remembers_a_bounded_number_of_objects(tmp_path):
    state = BridgeState(str(LANDING), remembered=3)
    state.record("p/", 1, ["a", "b"])
    state.record("p/", 2, ["c", "d"])
    assert [state.seen("p/", d) for d in "abcd"] == [False, True, True, True]
    state.save(tmp_path)
    loaded = BridgeState.load(tmp_path, str(LANDING))
    assert loaded.generation("p/") == 2
    assert loaded.seen("p/", "d") and not loaded.seen("p/", "a")
    with pytest.raises(ValueError, match="generation 4 emitted after 2"):
        loaded.record("p/", 4, [])


def test_state_forgets_objects_of_quiet_prefixes_but_not_their_generation(tmp_path):
    wall = FakeClock()
    state = BridgeState(str(LANDING), forget_after=100, wall_clock=wall)
    state.record("old/", 1, ["a"])
    wall.now += 101
    state.record("new/", 1, ["b"])
    assert (state.seen("old/", "a"), state.seen("new/", "b")) == (False, True)
    state.save(tmp_path)
    loaded = BridgeState.load(tmp_path, str(LANDING))
    assert (loaded.generation("old/"), loaded.generation("new/")) == (1, 1)
    assert loaded.seen("new/", "b")


def test_state_of_another_landing_or_a_damaged_state_is_refused(tmp_path):
    BridgeState("s3://other/in/").save(tmp_path)
    with pytest.raises(ConfigError, match="state of s3://other/in/, not of s3://landing/incoming/"):
        BridgeState.load(tmp_path, str(LANDING))
    (tmp_path / "state.json").write_text("{oops")
    with pytest.raises(ConfigError, match="not a bridge state file"):
        BridgeState.load(tmp_path, str(LANDING))
