"""The Batcher on a fake clock: which objects form a batch, when it is ready, when its messages
settle.
"""

from __future__ import annotations

import json
import uuid

import pytest

from bridge.batching import Batch
from tests.bridge.harness import (
    FakeClock,
    batcher,
    obj,
)


@pytest.mark.parametrize(
    ("key", "prefix"),
    [
        ("incoming/2026-11-26/a.txt", "incoming/2026-11-26/"),
        ("incoming/a.txt", "incoming/"),
        ("incoming/2026-11-26/ward 3/a.txt", "incoming/2026-11-26/ward 3/"),
        ("incoming/2026-11-26/_READY", "incoming/2026-11-26/"),
        ("incoming/2026-11-26/", None),
        ("incomingX/a.txt", None),
        ("outgoing/a.txt", None),
    ],
)
def test_batch_prefix_is_the_parent_folder_below_the_landing_prefix(key, prefix):
    assert batcher(FakeClock()).batch_prefix(obj(key)) == prefix


def test_batch_prefix_of_another_bucket_is_none():
    assert batcher(FakeClock()).batch_prefix(obj("incoming/a.txt", bucket="other")) is None


def test_quiet_period_readies_a_batch_and_its_messages_settle_only_when_emitted():
    clock = FakeClock()
    b = batcher(clock)
    b.add("m1", [obj("incoming/d/a.txt")])
    clock.now += 15
    b.add("m2", [obj("incoming/d/b.txt")])  # resets the quiet period
    clock.now += 19.9
    assert b.ready() == []
    assert b.next_deadline() == pytest.approx(clock.now + 0.1)
    clock.now += 0.1
    [batch] = b.ready()
    assert batch == Batch("landing", "incoming/d/", 1, 2, "quiet")
    assert batch.id == uuid.uuid5(
        uuid.uuid5(uuid.NAMESPACE_URL, "urn:chartcoder:batch"),
        json.dumps(["landing", "incoming/d/", 1]),
    )
    assert b.take_settled() == set()
    assert b.waiting_messages == {"m1", "m2"}
    b.emitted(batch)
    assert b.take_settled() == {"m1", "m2"}
    assert b.state.generation("incoming/d/") == 1
    assert b.ready() == []


def test_marker_readies_the_batch_at_once_and_is_not_a_chart():
    clock = FakeClock()
    b = batcher(clock)
    b.add("m1", [obj("incoming/d/a.txt")])
    b.add("m2", [obj("incoming/d/_READY")])
    assert b.next_deadline() == clock.now
    assert b.ready() == [Batch("landing", "incoming/d/", 1, 1, "marker")]


def test_marker_without_new_objects_makes_no_batch():
    clock = FakeClock()
    b = batcher(clock)
    b.add("m1", [obj("incoming/d/_READY")])
    assert b.ready() == []
    assert b.take_settled() == {"m1"}


def test_ignored_records_settle_their_message_at_once():
    b = batcher(FakeClock())
    b.add("test-event", [])
    b.add("outside", [obj("elsewhere/a.txt"), obj("incoming/a.txt", bucket="other")])
    assert b.take_settled() == {"test-event", "outside"}
    assert b.ready() == []


def test_duplicates_join_their_batch_and_replays_after_emission_are_ignored():
    clock = FakeClock()
    b = batcher(clock)
    b.add("m1", [obj("incoming/d/a.txt", "s1")])
    b.add("m1-again", [obj("incoming/d/a.txt", "s1")])
    clock.now += 20
    [batch] = b.ready()
    assert batch.objects == 1
    b.emitted(batch)
    assert b.take_settled() == {"m1", "m1-again"}
    b.add("m1-replay", [obj("incoming/d/a.txt", "s1"), obj("incoming/d/_READY", "s9")])
    b.add("m1-replay", [obj("incoming/d/a.txt", "s1")])
    clock.now += 60
    assert b.ready() == []  # the marker alone makes no batch
    assert b.take_settled() == {"m1-replay"}


def test_objects_after_a_sealed_batch_form_the_next_generation():
    clock = FakeClock()
    b = batcher(clock)
    b.add("m1", [obj("incoming/d/a.txt", "s1"), obj("incoming/d/_READY", "s2")])
    [first] = b.ready()
    # sealed, not yet accepted (the API is down): a late object and a rewrite of a.txt
    b.add("m2", [obj("incoming/d/c.txt", "s3")])
    b.add("m3", [obj("incoming/d/a.txt", "s4")])
    b.add("m1-again", [obj("incoming/d/a.txt", "s1")])  # a re-delivery joins generation 1
    clock.now += 20
    assert b.ready() == [first]  # generation 2 waits for generation 1
    b.emitted(first)
    assert b.take_settled() == {"m1", "m1-again"}
    [second] = b.ready()
    assert second == Batch("landing", "incoming/d/", 2, 2, "quiet")
    assert second.id != first.id
    with pytest.raises(ValueError, match="generation 3 is not the next one"):
        b.emitted(Batch("landing", "incoming/d/", 3, 1, "quiet"))
    b.emitted(second)
    assert b.take_settled() == {"m2", "m3"}


def test_a_message_feeding_two_batches_settles_after_both():
    clock = FakeClock()
    b = batcher(clock)
    b.add("m", [obj("incoming/x/a.txt"), obj("incoming/y/a.txt"), obj("incoming/x/_READY")])
    [x] = b.ready()
    b.emitted(x)
    assert b.take_settled() == set()
    clock.now += 20
    [y] = b.ready()
    assert (y.prefix, y.objects) == ("incoming/y/", 1)
    b.emitted(y)
    assert b.take_settled() == {"m"}
