"""What `up` provisions, checked the way Prefect reads it: prefect.yaml's deployment and trigger,
the automation files, and the flow's lock names.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import jinja2
import yaml

from bridge.batching import Batch
from bridge.config import S3Url
from bridge.emitter import batch_event
from stack.provisioning import automation_files, render_automation
from stack.settings import PROJECT_DIR

PREFECT_YAML = PROJECT_DIR / "prefect.yaml"


def test_prefect_yaml_deploys_code_charts_on_the_batch_event() -> None:
    from prefect.cli.deploy._triggers import _initialize_deployment_triggers

    config = yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))
    (deployment,) = config["deployments"]
    assert deployment["name"] == "code-charts"
    assert deployment["entrypoint"] == "flows/code_charts.py:code_charts"
    assert deployment["work_pool"]["name"] == "chartcoder"
    (step,) = config["pull"]
    assert step["prefect.deployments.steps.set_working_directory"] == {
        "directory": "{{ $CHARTCODER_PROJECT_DIR }}"
    }
    (trigger,) = _initialize_deployment_triggers("code-charts", deployment["triggers"])
    assert trigger.expect == {"chartcoder.batch.ready"}
    assert trigger.match.model_dump() == {"prefect.resource.id": "chartcoder.batch.*"}

    # the parameters rendered from the event the bridge sends
    batch = Batch("landing", "incoming/2026-11-26/", generation=1, objects=3, reason="marker")
    event = batch_event(batch, S3Url.parse("s3://results/out"), datetime.now(UTC))
    rendered = {
        name: jinja2.Template(template).render(event=event)
        for name, template in deployment["triggers"][0]["parameters"].items()
    }
    assert rendered == {
        "source": "s3://landing/incoming/2026-11-26/",
        "destination": "s3://results/out/incoming/2026-11-26/",
    }
    assert not rendered["destination"].startswith(rendered["source"])
    # the deployment's own parameters are valid parameters of the flow
    from flows.code_charts import code_charts

    parameters = code_charts.validate_parameters({**rendered, **deployment["parameters"]})
    options = parameters["options"]
    assert (options.workers, options.setting, options.convention) == (2, "outpatient", "us")


def test_the_automation_files_are_valid_automations_once_the_block_is_filled_in() -> None:
    from prefect.events.actions import SendNotification
    from prefect.events.schemas.automations import AutomationCore, EventTrigger

    files = automation_files()
    assert {f.name for f in files} == {"notify-completed.yaml", "notify-failed.yaml"}
    block = uuid.uuid4()
    expected = {
        "chartcoder-run-completed": {"prefect.flow-run.Completed"},
        "chartcoder-run-failed": {
            "prefect.flow-run.Failed",
            "prefect.flow-run.Crashed",
            "prefect.flow-run.TimedOut",
        },
    }
    for path in files:
        assert "${notify_block_id}" in path.read_text()
        automation = AutomationCore.model_validate(
            yaml.safe_load(render_automation(path, str(block)))
        )
        assert isinstance(automation.trigger, EventTrigger)
        assert automation.trigger.expect == expected[automation.name]
        assert automation.trigger.match_related.model_dump() == {  # type: ignore[union-attr]
            "prefect.resource.role": "flow",
            "prefect.resource.name": "code-charts",
        }
        (action,) = automation.actions
        assert isinstance(action, SendNotification) and action.block_document_id == block
        for template in (action.subject, action.body):
            jinja2.Environment().parse(template)  # the server renders them with Jinja
