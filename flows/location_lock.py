"""One run per location: a second run on a `source` or `destination` prefix waits for the first.

Two batch events for one prefix, a retried event or a manual run never code or write the same
prefix at once; runs on other prefixes go on in parallel. Each location is a one-slot Prefect
global concurrency limit (docs/events.md, "Two runs never code the same prefix at once").
"""

from __future__ import annotations

import functools
import inspect
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

from prefect import get_run_logger

from flows.sources import Location

LOCK_LEASE_SECONDS = 120.0  # a crashed run's slots free themselves after this (renewed while alive)


def lock_name(location: Location) -> str:
    """The global concurrency limit of one location (Prefect bans / % & < > in names)."""
    uri = f"s3://{location.bucket}/{location.prefix}" if location.is_s3 else location.uri
    return "chartcoder-location:" + re.sub(r"[/%&<>]+", ":", uri.rstrip("/"))


@contextmanager
def location_lock(locations: list[Location]) -> Iterator[list[str]]:
    """Hold one slot of a one-slot global concurrency limit per location, all at once.

    Prefect 3.9 no longer creates a limit on first acquisition, so each is created here when
    missing (a second creator gets a conflict, which is fine); `strict=True` then refuses to run
    unlocked. Slots are leased: renewed while the run lives, released when it ends, and freed by
    the server `LOCK_LEASE_SECONDS` after a run that died without releasing them.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.concurrency.sync import concurrency
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    names = sorted({lock_name(location) for location in locations})
    with get_client(sync_client=True) as client:
        for name in names:
            try:
                client.read_global_concurrency_limit_by_name(name)
            except ObjectNotFound:
                # a rerun finds its limit; creating it again makes the server log an error
                with suppress(ObjectAlreadyExists):
                    client.create_global_concurrency_limit(
                        GlobalConcurrencyLimitCreate(name=name, limit=1)
                    )
    logger = get_run_logger()
    waited = time.perf_counter()
    with concurrency(
        names,
        occupy=1,
        strict=True,
        lease_duration=LOCK_LEASE_SECONDS,
        raise_on_lease_renewal_failure=False,
    ):
        logger.info("holding %s (waited %.1f s)", ", ".join(names), time.perf_counter() - waited)
        yield names


def one_run_per_location[**P, R](fn: Callable[P, R]) -> Callable[P, R]:
    """Runs of the decorated flow never overlap on the same `source` or `destination`: a second
    run for a prefix waits until the first is over. The flow must name its parameters `source`
    and `destination` (location strings: a path or s3://bucket/prefix)."""

    @functools.wraps(fn)
    def locked(*args: P.args, **kwargs: P.kwargs) -> R:
        bound = inspect.signature(fn).bind(*args, **kwargs)
        where = [Location.parse(bound.arguments[name]) for name in ("source", "destination")]
        with location_lock(where):
            return fn(*args, **kwargs)

    return locked
