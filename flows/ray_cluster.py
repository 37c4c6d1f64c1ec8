"""Provision Ray for one run and release it in every case.

Three ways, one context manager:
- `local` (default): an ephemeral cluster on this machine, `ray.init(num_cpus=workers)`, with its
  session folders under `temp_dir` (or `$RAY_TMPDIR`); it ends with the run;
- `address`: an existing cluster; the run only connects and disconnects;
- `launcher`: a cluster described by a cluster-launcher YAML (`infra/ray/aws.yaml`), created with
  `create_or_update_cluster(..., no_config_cache=True)` and destroyed with `teardown_cluster`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

log = logging.getLogger(__name__)

Mode = Literal["local", "address", "launcher"]
RAY_CLIENT_PORT = 10001
# Ray's usage statistics stay off unless the user turns them on: a pipeline of protected health
# information sends nothing home, and a local cluster starts 1 s sooner without them.
USAGE_STATS_ENV = "RAY_USAGE_STATS_ENABLED"


@dataclass(frozen=True, slots=True)
class RaySpec:
    """How to get a cluster: validated at construction."""

    mode: Mode = "local"
    workers: int = 2
    address: str | None = None
    cluster_config: str | None = None
    temp_dir: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("local", "address", "launcher"):
            raise ValueError(f"ray mode {self.mode!r}: allowed 'local', 'address', 'launcher'")
        if self.workers < 1:
            raise ValueError(f"workers={self.workers}: at least 1")
        if self.mode == "address" and not self.address:
            raise ValueError("ray mode 'address' needs an address (host:port or ray://...)")
        if self.mode == "launcher" and not self.cluster_config:
            raise ValueError("ray mode 'launcher' needs a cluster config YAML")

    @classmethod
    def choose(
        cls,
        workers: int,
        address: str | None = None,
        cluster_config: str | None = None,
        temp_dir: str | None = None,
    ) -> RaySpec:
        if address and cluster_config:
            raise ValueError("give a Ray address or a cluster config, not both")
        mode: Mode = "address" if address else "launcher" if cluster_config else "local"
        return cls(mode, workers, address, cluster_config, temp_dir)


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    mode: Mode
    address: str
    nodes: int
    cpus: float
    start_seconds: float


class Teardown:
    """Releases a cluster on a thread, so the run can write its outputs meanwhile.

    `wait()` joins it; a run waits before it ends, so no process of its cluster outlives it.
    """

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None

    def start(self, release: Callable[[], None]) -> None:
        self._thread = threading.Thread(target=release, name="ray-teardown")
        self._thread.start()

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()


@contextmanager
def teardown_in_background() -> Iterator[Teardown]:
    """A `Teardown` for `ray_cluster`, waited for when the block ends (in every case)."""
    teardown = Teardown()
    try:
        yield teardown
    finally:
        teardown.wait()


@contextmanager
def ray_cluster(spec: RaySpec, teardown: Teardown | None = None) -> Iterator[ClusterInfo]:
    """A connected Ray cluster for the block; disconnected (and torn down if ours) after it: on
    `teardown`'s thread when one is given and the block succeeded, else before this returns."""
    import ray

    os.environ.setdefault(USAGE_STATS_ENV, "0")
    started = time.perf_counter()
    launched = False
    try:
        if spec.mode == "launcher":
            from ray.autoscaler.sdk import create_or_update_cluster, get_head_node_ip

            assert spec.cluster_config is not None
            launched = True
            create_or_update_cluster(spec.cluster_config, no_config_cache=True)
            address = f"ray://{get_head_node_ip(spec.cluster_config)}:{RAY_CLIENT_PORT}"
            context = ray.init(address=address, log_to_driver=False)
        elif spec.mode == "address":
            context = ray.init(address=spec.address, log_to_driver=False)
        else:
            temp_dir = spec.temp_dir or os.environ.get("RAY_TMPDIR")
            context = ray.init(
                num_cpus=spec.workers,
                include_dashboard=False,
                log_to_driver=False,
                _temp_dir=temp_dir,
            )
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        info = ClusterInfo(
            spec.mode,
            str(getattr(context, "address_info", {}).get("address") or spec.address or ""),
            len(nodes),
            float(ray.cluster_resources().get("CPU", 0)),
            time.perf_counter() - started,
        )
        log.info(
            "ray %s cluster: %d node(s), %g CPUs, up in %.1f s",
            spec.mode,
            info.nodes,
            info.cpus,
            info.start_seconds,
        )
        yield info
    except BaseException:
        # at once: a task still waiting on Ray (actors loading) must see it go, or it never ends
        _release(spec, launched)
        raise
    if teardown is None:
        _release(spec, launched)
    else:
        teardown.start(lambda: _release(spec, launched))


def _release(spec: RaySpec, launched: bool) -> None:
    import ray

    started = time.perf_counter()
    ray.shutdown()
    if launched:
        from ray.autoscaler.sdk import teardown_cluster

        assert spec.cluster_config is not None
        teardown_cluster(spec.cluster_config)
        log.info("ray cluster from %s torn down", spec.cluster_config)
    log.info("ray released in %.1f s", time.perf_counter() - started)
