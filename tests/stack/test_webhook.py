"""The webhook receiver appends what Prefect's notification block sends."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.servers import free_ports


def test_the_webhook_receiver_appends_what_the_notification_block_sends(tmp_path: Path) -> None:
    import httpx
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    (port,), target = free_ports(1), tmp_path / "notifications.jsonl"
    receiver = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stack.webhook",
            "--port",
            str(port),
            "--file",
            str(target),
        ],
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.2)
        block = CustomWebhookNotificationBlock(
            name="chartcoder",
            url=f"http://127.0.0.1:{port}/notify",
            json_data={"subject": "{{subject}}", "body": "{{body}}"},
        )
        block.notify("run 1 completed: 3 charts", subject="chartcoder run completed")
        (line,) = target.read_text().splitlines()
        assert json.loads(line)["message"] == {
            "subject": "chartcoder run completed",
            "body": "run 1 completed: 3 charts",
        }
    finally:
        receiver.send_signal(signal.SIGTERM)
        receiver.wait(timeout=10)
    assert receiver.returncode == 0
