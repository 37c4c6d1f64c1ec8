"""The SQS side of the bridge: receive notifications, keep the held ones invisible, delete the
settled ones, dead-letter the malformed ones and hand held ones back on the way out.

`NotificationQueue` keeps each held message's latest receipt handle and when its visibility was
last set; which messages to renew or delete is the caller's decision (the `Batcher`'s).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

log = logging.getLogger(__name__)

SQS_BATCH = 10  # most messages per receive / delete / visibility call
DRAIN_RECEIVES = 10  # receives per cycle at most (a backlog is read over several cycles)


def chunks(items: Sequence[str], size: int = SQS_BATCH) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class NotificationQueue:
    """One SQS queue (a boto3 client) and the messages this bridge holds from it."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        *,
        visibility_timeout: int,
        dead_letter_queue_url: str | None = None,
        clock: Callable[[], float],
    ) -> None:
        self._sqs = sqs
        self.queue_url = queue_url
        self.visibility_timeout = visibility_timeout
        self.dead_letter_queue_url = dead_letter_queue_url
        self._clock = clock
        self._receipts: dict[str, str] = {}  # message id -> latest receipt handle
        self._renewed: dict[str, float] = {}  # message id -> when its visibility was last set
        self.receiving = False  # inside a receive call (a signal may cut it short)

    def receive(self, wait: float, stop: threading.Event) -> list[dict[str, Any]]:
        """Long poll whole seconds (SQS takes no fractions); below one, sleep then short poll."""
        if wait < 1:
            stop.wait(wait)
        messages: list[dict[str, Any]] = []
        for _ in range(DRAIN_RECEIVES):
            self.receiving = True
            try:
                response = self._sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=SQS_BATCH,
                    WaitTimeSeconds=int(wait) if not messages else 0,
                    VisibilityTimeout=self.visibility_timeout,
                )
            finally:
                self.receiving = False
            batch = response.get("Messages", [])
            messages.extend(batch)
            if len(batch) < SQS_BATCH or stop.is_set():
                break  # drained (as far as one short poll can tell)
        return messages

    def hold(self, identifier: str, receipt: str) -> None:
        """Keep `identifier` (received just now) until it is deleted or handed back."""
        self._receipts[identifier] = receipt
        self._renewed[identifier] = self._clock()

    def next_renewal(self) -> float | None:
        """When the held message renewed longest ago falls due again (clock time), or None."""
        if not self._renewed:
            return None
        return min(self._renewed.values()) + self.visibility_timeout / 2

    def dead_letter(self, identifier: str, receipt: str, body: str, reason: str) -> None:
        dlq = self.dead_letter_queue_url
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
        self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt)
        log.error(
            "message %s is not an S3 notification (%s): moved to the dead-letter queue",
            identifier,
            reason,
        )

    def keep_invisible(self, waiting: Iterable[str]) -> None:
        """Renew the visibility of the `waiting` messages held for half a timeout or longer."""
        now = self._clock()
        due = [
            m
            for m in sorted(waiting)
            if now - self._renewed.get(m, now) >= self.visibility_timeout / 2
        ]
        for chunk in chunks(due):
            response = self._sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {
                        "Id": str(number),
                        "ReceiptHandle": self._receipts[m],
                        "VisibilityTimeout": self.visibility_timeout,
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

    def delete(self, messages: Iterable[str]) -> None:
        settled = sorted(m for m in messages if m in self._receipts)
        for chunk in chunks(settled):
            response = self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
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

    def hand_back(self, waiting: Iterable[str]) -> None:
        """Make the `waiting` messages visible again at once, for the next bridge (best effort)."""
        from botocore.exceptions import BotoCoreError, ClientError

        held = sorted(m for m in waiting if m in self._receipts)
        try:
            for chunk in chunks(held):
                self._sqs.change_message_visibility_batch(
                    QueueUrl=self.queue_url,
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
