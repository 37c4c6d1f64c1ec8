"""The location lock's names: one per location, valid as Prefect global concurrency limits.

The lock itself (a second run on a prefix waits for the first) is tested on the running stack in
test_event_chain.py.
"""

from __future__ import annotations

from flows.location_lock import lock_name
from flows.sources import Location


def test_lock_names_are_one_per_location_and_valid_prefect_names() -> None:
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

    with_slash = lock_name(Location.parse("s3://landing/incoming/a/"))
    assert with_slash == lock_name(Location.parse("s3://landing/incoming/a"))
    assert with_slash != lock_name(Location.parse("s3://landing/incoming/b/"))
    assert with_slash != lock_name(Location.parse("s3://results/incoming/a/"))
    for name in (with_slash, lock_name(Location.parse("/tmp/some/folder"))):
        GlobalConcurrencyLimitCreate(name=name, limit=1)  # no banned characters
