"""Where the run's summary is sent: a Prefect notification block.

`notifier(target)` resolves a target string:
- `None` or a path: `FileNotification`, one JSON line per run appended to a local file;
- `http://...` / `https://...`: Prefect's `CustomWebhookNotificationBlock` posting
  `{"subject", "body"}` as JSON (a loopback webhook works);
- `block:<type-slug>/<name>`: any saved notification block (Slack, email, ...).
Only counts, ids and locations are ever sent, never chart text.
"""

from __future__ import annotations

import inspect
import json
import logging
import time
from pathlib import Path

from prefect.blocks.abstract import NotificationBlock
from prefect.blocks.core import Block
from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.utilities.asyncutils import run_coro_as_sync
from pydantic import Field

log = logging.getLogger(__name__)


class FileNotification(NotificationBlock):
    """Appends each notification as a JSON line to a local file."""

    _block_type_name = "Chartcoder File Notification"

    path: str = Field(description="file the notifications are appended to")

    async def notify(self, body: str, subject: str | None = None) -> None:
        target = Path(self.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"time": time.time(), "subject": subject, "body": body})
        with target.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")


def notifier(target: str | None, default_file: Path) -> NotificationBlock:
    if target is None:
        return FileNotification(path=str(default_file))
    if target.startswith(("http://", "https://")):
        return CustomWebhookNotificationBlock(
            name="chartcoder",
            url=target,
            json_data={"subject": "{{subject}}", "body": "{{body}}"},
            headers=None,
            cookies=None,
        )
    if target.startswith("block:"):
        block = Block.load(target[len("block:") :])
        if not isinstance(block, NotificationBlock):
            raise ValueError(f"{target}: not a notification block ({type(block).__name__})")
        return block
    return FileNotification(path=target)


def send(block: NotificationBlock, body: str, subject: str) -> None:
    result = block.notify(body, subject=subject)
    if inspect.isawaitable(result):
        run_coro_as_sync(result)
