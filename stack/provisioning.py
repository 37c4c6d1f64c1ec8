"""What `up` creates once the services run: the buckets, the queue and its dead-letter queue, the
landing bucket's notification; the work pool, the deployment (`prefect.yaml`), the notification
block and the automations in `deployments/`. Every step is idempotent."""

from __future__ import annotations

import contextlib
import json
import logging
import string
import subprocess
import sys
from pathlib import Path

from stack.clients import aws_client, prefect_client
from stack.parts import base_env
from stack.processes import StackError, StackFolder, tail
from stack.settings import (
    DEPLOYMENT,
    DEPLOYMENTS_DIR,
    NOTIFY_BLOCK,
    WORK_POOL,
    StackSettings,
    split_s3,
)

log = logging.getLogger(__name__)


def provision_aws(settings: StackSettings) -> tuple[str, str]:
    """Buckets, queue + dead-letter queue, and the landing bucket's notification (idempotent)."""
    s3, sqs = aws_client(settings, "s3"), aws_client(settings, "sqs")
    landing_bucket, landing_prefix = split_s3(settings.landing)
    for bucket in dict.fromkeys([landing_bucket, split_s3(settings.results)[0]]):
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
            s3.create_bucket(Bucket=bucket)
    dlq_url = sqs.create_queue(QueueName=f"{settings.queue_name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(
        QueueName=settings.queue_name,
        Attributes={
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=landing_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "chartcoder-landing",
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {"FilterRules": [{"Name": "prefix", "Value": landing_prefix}]}
                    },
                }
            ]
        },
    )
    log.info("S3: %s -> %s (dead letters %s)", settings.landing, queue_url, dlq_url)
    return queue_url, dlq_url


def _prefect_cli(settings: StackSettings, folder: StackFolder, *args: str) -> None:
    logfile = folder.log_file("setup")
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with logfile.open("ab") as out:
        out.write(f"\n=== prefect {' '.join(args)} ===\n".encode())
        out.flush()
        done = subprocess.run(
            [sys.executable, "-m", "prefect", *args],
            env=base_env(settings),
            cwd=settings.project_dir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=600,
            check=False,
        )
    if done.returncode != 0:
        raise StackError(
            f"`prefect {' '.join(args)}` failed ({done.returncode}); the end of {logfile}:\n"
            f"{tail(logfile)}"
        )


def automation_files(folder: Path = DEPLOYMENTS_DIR) -> list[Path]:
    """The automation definitions in deployments/ (YAML or JSON with a trigger and actions)."""
    import yaml

    found = []
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml"), *folder.glob("*.json")]):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "trigger" in data and "actions" in data:
            found.append(path)
    return found


def render_automation(path: Path, notify_block_id: str) -> str:
    """An automation file with the stack's notification block id filled in."""
    template = string.Template(path.read_text(encoding="utf-8"))
    return template.substitute(notify_block_id=notify_block_id)


def save_notification_block(settings: StackSettings) -> str:
    """The webhook block the automations notify through; its document id."""
    from prefect.blocks.notifications import CustomWebhookNotificationBlock
    from prefect.settings import PREFECT_API_URL, temporary_settings

    block = CustomWebhookNotificationBlock(
        name="chartcoder",
        url=settings.webhook_url,
        json_data={"subject": "{{subject}}", "body": "{{body}}"},
        headers=None,
        cookies=None,
    )
    with temporary_settings({PREFECT_API_URL: settings.api_url}):
        block_id = block.save(NOTIFY_BLOCK, overwrite=True)
    return str(block_id)


def create_automations(settings: StackSettings, folder: StackFolder, block_id: str) -> list[str]:
    """Each automation file, rendered into the stack folder, replaced by name on the server."""
    import yaml

    rendered_dir = folder.path / "automations"
    rendered_dir.mkdir(parents=True, exist_ok=True)
    names = []
    for path in automation_files():
        text = render_automation(path, block_id)
        name = yaml.safe_load(text)["name"]
        with prefect_client(settings) as client:
            for existing in client.read_automations_by_name(name):
                client.delete_automation(existing.id)
        target = rendered_dir / path.name
        target.write_text(text, encoding="utf-8")
        _prefect_cli(settings, folder, "automation", "create", "--from-file", str(target))
        names.append(name)
    return names


def set_up_prefect(settings: StackSettings, folder: StackFolder) -> None:
    with prefect_client(settings) as client:
        try:
            client.read_work_pool(WORK_POOL)
        except Exception:  # ObjectNotFound
            _prefect_cli(settings, folder, "work-pool", "create", WORK_POOL, "--type", "process")
    _prefect_cli(settings, folder, "--no-prompt", "deploy", "--all")
    block_id = save_notification_block(settings)
    names = create_automations(settings, folder, block_id)
    log.info("deployed %s; automations: %s", DEPLOYMENT, ", ".join(names))
