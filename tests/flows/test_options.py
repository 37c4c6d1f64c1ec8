"""The flow's settings as one typed model: what Prefect shows, what it accepts, what it refuses.

Checked the way each path sees them: the flow's own parameter validation (a call, or a run that
starts), and the parameter schema the server validates a deployment run against
(`prefect deployment run ... -p options='{...}'`, the trigger, the UI form).
"""

from __future__ import annotations

import pytest
from prefect.exceptions import ParameterTypeError
from prefect.utilities.callables import parameter_schema
from prefect.utilities.schema_tools import ValidationError as SchemaError
from prefect.utilities.schema_tools import validate
from pydantic import ValidationError

from flows.code_charts import code_charts
from flows.options import RunOptions
from nlp.conventions import CONVENTIONS, SETTINGS
from nlp.settings import MAX_CHART_BYTES

LOCATIONS = {"source": "s3://landing/incoming/a/", "destination": "s3://results/incoming/a/"}


def schema() -> dict:
    return parameter_schema(code_charts.fn).model_dump()


def test_the_flow_takes_source_destination_and_one_options_model() -> None:
    found = schema()
    assert list(found["properties"]) == ["source", "destination", "options"]
    assert found["required"] == ["source", "destination"]
    options = found["properties"]["options"]
    assert options["$ref"] == "#/definitions/RunOptions"
    assert options["default"] == RunOptions().model_dump(mode="json")
    fields = found["definitions"]["RunOptions"]["properties"]
    assert (fields["setting"]["enum"], fields["setting"]["default"]) == (
        list(SETTINGS),
        "outpatient",
    )
    assert (fields["convention"]["enum"], fields["convention"]["default"]) == (
        list(CONVENTIONS),
        "us",
    )
    assert (fields["workers"]["default"], fields["workers"]["minimum"]) == (2, 1)
    assert fields["max_chart_bytes"]["default"] == MAX_CHART_BYTES
    # the UI form explains every field
    assert all(field.get("description") for field in fields.values())


def test_options_given_in_part_take_the_defaults_for_the_rest() -> None:
    parameters = code_charts.validate_parameters(
        {**LOCATIONS, "options": {"setting": "inpatient", "workers": "3"}}
    )
    assert parameters["options"] == RunOptions(setting="inpatient", workers=3)
    assert parameters["options"].convention == "us"
    assert code_charts.validate_parameters(LOCATIONS)["options"] == RunOptions()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"setting": "icu"}, r"options\.setting: Input should be 'outpatient' or 'inpatient'"),
        ({"convention": "uk"}, r"options\.convention: Input should be 'us' or 'codiesp'"),
        ({"workers": 0}, r"options\.workers: Input should be greater than or equal to 1"),
        ({"wrkers": 2}, r"options\.wrkers: Extra inputs are not permitted"),
    ],
)
def test_the_flow_refuses_bad_options_by_name(options: dict, message: str) -> None:
    with pytest.raises(ParameterTypeError, match=message):
        code_charts.validate_parameters({**LOCATIONS, "options": options})


def test_the_server_schema_accepts_what_the_flow_accepts_and_refuses_the_rest() -> None:
    found = schema()
    validate({**LOCATIONS, "options": {"workers": 1, "setting": "inpatient"}}, found)
    validate(LOCATIONS, found)
    for bad in ({"setting": "icu"}, {"workers": 0}, {"wrkers": 2}):
        with pytest.raises(SchemaError):
            validate({**LOCATIONS, "options": bad}, found, raise_on_error=True)
    with pytest.raises(SchemaError):
        validate({"source": LOCATIONS["source"]}, found, raise_on_error=True)


def test_options_are_frozen_and_checked_on_construction() -> None:
    options = RunOptions(shard_size=5)
    with pytest.raises(ValidationError, match="frozen"):
        options.workers = 4  # type: ignore[misc]
    with pytest.raises(ValidationError, match="shard_size"):
        RunOptions(shard_size=0)
