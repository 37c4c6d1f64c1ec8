"""The bridge's service loop: read the queue, feed the `Batcher`, announce ready batches, delete
the messages no batch needs any more.

A message is deleted only once every batch it feeds was accepted by the Prefect API and the state
file says so (save intent -> emit -> save generation -> delete); meanwhile its visibility is
extended. docs/bridge.md describes the crash windows that remain.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from bridge.batching import Batch, Batcher
from bridge.config import SQS_MAX_WAIT, BridgeConfig
from bridge.emitter import EVENT, PrefectEmitter, TransientEmitError, batch_event
from bridge.notifications import MalformedMessage, parse_message
from bridge.sqs import NotificationQueue
from bridge.state import BridgeState, lock_folder

log = logging.getLogger(__name__)


class _Interrupted(BaseException):
    """Raised by the signal handler to cut a long poll short."""


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
        self._lock: int | None = lock_folder(config.state_dir)
        try:
            self.state = BridgeState.load(config.state_dir, str(config.landing_url))
        except BaseException:
            os.close(self._lock)
            raise
        if sqs is None:
            import boto3

            sqs = boto3.client("sqs", endpoint_url=config.endpoint_url, region_name=config.region)
        self._queue = NotificationQueue(
            sqs,
            config.queue_url,
            visibility_timeout=config.visibility_timeout,
            dead_letter_queue_url=config.dead_letter_queue_url,
            clock=clock,
        )
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
        self._failures = 0
        self._retry_at = 0.0
        self._stop = threading.Event()

    # one cycle

    def run_once(self, wait_seconds: float | None = None) -> list[Batch]:
        """Receive (long poll), extend held messages, emit ready batches, delete settled ones.

        Returns the batches the API accepted in this cycle.
        """
        for message in self._queue.receive(self._wait(wait_seconds), self._stop):
            self._accept(message)
        self._queue.keep_invisible(self.batcher.waiting_messages)
        emitted = self._emit_ready()
        self._queue.delete(self.batcher.take_settled())
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
        if (renewal := self._queue.next_renewal()) is not None:
            due.append(renewal)
        return max(0.0, min(SQS_MAX_WAIT, min(due) - now))

    def _accept(self, message: dict[str, Any]) -> None:
        identifier, receipt = message["MessageId"], message["ReceiptHandle"]
        body = message.get("Body", "")
        try:
            objects = parse_message(body)
        except MalformedMessage as exc:
            self._queue.dead_letter(identifier, receipt, body, str(exc))
            return
        self._queue.hold(identifier, receipt)
        self.batcher.add(identifier, objects)
        log.debug("message %s: %d created objects", identifier, len(objects))

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
                self._queue.keep_invisible(self.batcher.waiting_messages)  # many take a while
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
            self._queue.hand_back(self.batcher.waiting_messages)
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
        if self._queue.receiving:
            raise _Interrupted
