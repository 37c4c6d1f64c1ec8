"""The Ray cluster configs in infra/ray/: checked against Ray's own schema and expectations."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest
import yaml

INFRA = Path(__file__).resolve().parents[2] / "infra" / "ray"


def load(name: str) -> dict:
    return yaml.safe_load((INFRA / name).read_text(encoding="utf-8"))


def test_aws_cluster_config_passes_rays_schema_and_bounds() -> None:
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = load("aws.yaml")
    validate_config(prepare_config(config))  # as `ray up` does: defaults filled in, then checked
    schema = json.loads((files("ray.autoscaler") / "ray-schema.json").read_text())
    jsonschema.validate(config, schema)
    assert config["provider"]["type"] == "aws"
    assert config["provider"]["cache_stopped_nodes"] is False
    assert config["idle_timeout_minutes"] == 5
    types = config["available_node_types"]
    assert set(types) == {"head", "worker"} and config["head_node_type"] == "head"
    assert types["head"]["resources"] == {"CPU": 0}
    assert 0 <= types["worker"]["min_workers"] <= types["worker"]["max_workers"]
    assert types["worker"]["max_workers"] <= config["max_workers"]


def test_a_broken_cluster_config_is_refused_by_the_schema() -> None:
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = load("aws.yaml")
    config["idle_timeout_minutes"] = "soon"
    with pytest.raises(jsonschema.ValidationError, match="soon"):
        validate_config(prepare_config(config))


def test_kuberay_rayjob_shuts_its_cluster_down() -> None:
    job = load("rayjob.yaml")
    assert (job["apiVersion"], job["kind"]) == ("ray.io/v1", "RayJob")
    spec = job["spec"]
    assert spec["shutdownAfterJobFinishes"] is True
    assert spec["ttlSecondsAfterFinished"] >= 0
    assert spec["entrypoint"].split()[:2] == ["chartcoder", "run"]
    cluster = spec["rayClusterSpec"]
    assert cluster["rayVersion"] == "2.60.0"
    assert cluster["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"
    [workers] = cluster["workerGroupSpecs"]
    assert workers["minReplicas"] <= workers["replicas"] <= workers["maxReplicas"]
