"""PlatformClusterPolicy: defaults, everything enabled, and templates that fail with their file named.

Rendered from the shipped templates in ``policies/cluster_policies/`` with the shipped dev profiles;
proves what the synthesized policy says, not what Databricks enforces with it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from infra.constructs.cluster_policies import ClusterPolicyProps, PlatformClusterPolicy, PolicyTemplateError
from mlops_spec.config import load_environment
from tests.cdk_constructs.conftest import of_type, only, synth

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "policies" / "cluster_policies"
TAGS = {"team": "mlops", "env": "dev"}


def props(name: str = "cpu_training", templates: Path = TEMPLATES, **extra: object) -> ClusterPolicyProps:
    profile = load_environment("dev").compute.profiles()[name]
    return ClusterPolicyProps("dev", name, profile, TAGS, templates, **extra)  # type: ignore[arg-type]


def definition(doc: dict) -> dict:
    return json.loads(only(doc, "databricks_cluster_policy")["definition"])


def test_defaults_a_single_node_job_policy_with_fixed_tags_and_no_acl() -> None:
    doc = synth(lambda s: PlatformClusterPolicy(s, "policy", props()))
    policy = only(doc, "databricks_cluster_policy")
    assert policy["name"] == "mlops-dev-cpu-training"
    rules = definition(doc)
    assert rules["cluster_type"] == {"type": "fixed", "value": "job"}
    assert rules["data_security_mode"]["values"] == ["SINGLE_USER"]
    assert rules["custom_tags.team"] == {"type": "fixed", "value": "mlops"}
    assert rules["ssh_public_keys.*"]["type"] == "forbidden"
    assert not any(k.startswith(("cluster_log_conf", "aws_attributes")) for k in rules)  # off by default
    assert not of_type(doc, "databricks_permissions")  # nobody granted: no ACL resource


def test_everything_log_delivery_pinned_capacity_and_who_may_use_it() -> None:
    extra = {
        "log_destination": "/Volumes/mlops_dev/platform/cluster_logs",
        "can_use": {"ml-engineers": ("group", "CAN_USE")},
        "capacity": "spot_with_fallback",
    }
    doc = synth(lambda s: PlatformClusterPolicy(s, "policy", props("inference", **extra)))
    rules = definition(doc)
    assert rules["cluster_log_conf.path"]["value"] == "/Volumes/mlops_dev/platform/cluster_logs"
    assert rules["aws_attributes.availability"]["value"] == "SPOT_WITH_FALLBACK"
    assert rules["aws_attributes.first_on_demand"]["type"] == "fixed"
    (name,) = of_type(doc, "databricks_cluster_policy")
    acl = only(doc, "databricks_permissions")
    assert acl["cluster_policy_id"] == f"${{databricks_cluster_policy.{name}.id}}"
    assert acl["access_control"] == [{"group_name": "ml-engineers", "permission_level": "CAN_USE"}]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "template not found"),
        ('{"cluster_type": ', "does not render to JSON"),
        ("[1, 2]", "must render to a JSON object"),
        ('{"x": {{ profile.max_workers / 0 }}}', "fails to render: ZeroDivisionError"),
    ],
)
def test_fails_on_a_template_that_is_not_a_policy(tmp_path: Path, text: str | None, message: str) -> None:
    shutil.copy(TEMPLATES / "_common.json.j2", tmp_path)
    if text is not None:
        (tmp_path / "cpu_training.json.j2").write_text(text)
    with pytest.raises(PolicyTemplateError, match=message) as exc:
        synth(lambda s: PlatformClusterPolicy(s, "policy", props(templates=tmp_path)))
    assert str(tmp_path / "cpu_training.json.j2") in str(exc.value)  # the file to fix
