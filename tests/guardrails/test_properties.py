"""Properties of the gate on generated input: unusable input is never a pass and never a crash.

Hypothesis generates random bytes, truncated stacks, JSON values in places where a stack has
objects, documents without resources, and stacks whose resources (of every type a rule reads) carry
random JSON values. The gate runs in-process as the CLI does. What this proves: no generated input
exits 0 unless it is a readable stack with resources, and none makes the gate crash (exit 4 or a
traceback). What it does not prove: that every finding on random values is meaningful.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.guardrails import Policies, load_policies
from infra.guardrails.cli import main
from tests.guardrails.builders import account, platform

REPO = Path(__file__).resolve().parents[2]
SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
# Every resource type a rule reads: random values there exercise every rule's reading code.
RULE_TYPES = (
    "databricks_job",
    "databricks_cluster",
    "databricks_cluster_policy",
    "databricks_grants",
    "databricks_grant",
    "databricks_permissions",
    "databricks_secret_acl",
    "databricks_secret_scope",
    "databricks_secret",
    "databricks_workspace_conf",
    "databricks_ip_access_list",
    "databricks_model_serving",
    "databricks_catalog",
    "databricks_schema",
    "databricks_registered_model",
    "databricks_entitlements",
    "databricks_group",
    "databricks_token",
    "databricks_sql_endpoint",
    "databricks_library",
    "databricks_global_init_script",
    "databricks_metastore",
    "databricks_metastore_assignment",
    "databricks_mws_workspaces",
    "databricks_mws_permission_assignment",
    "databricks_mws_private_access_settings",
)
ENVS = ("dev", "staging", "prod", "account")

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
# Strings that steer the rules into their branches: references, secret templates, known names.
steering = st.sampled_from(
    [
        "${databricks_group.g.display_name}",
        "${databricks_cluster_policy.p.id}",
        "${data.databricks_service_principal.sp.application_id}",
        "{{secrets/s/k}}",
        "users",
        "account users",
        "dbfs:/x.py",
        "SPOT",
        "0 * * * * ?",
        "not a cron",
        "ALL_PRIVILEGES",
        "CAN_USE",
        '{"spark_version": {"type": "fixed", "value": "x"}}',
        "prod",
    ]
)
json_values = st.recursive(
    scalars | steering,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=12) | steering, children, max_size=4)
    ),
    max_leaves=20,
)
attribute_names = st.sampled_from(
    [
        "task",
        "job_cluster",
        "new_cluster",
        "grant",
        "access_control",
        "definition",
        "custom_config",
        "schedule",
        "trigger",
        "run_as",
        "policy_id",
        "cluster_policy_id",
        "principal",
        "privileges",
        "permission",
        "initial_manage_principal",
        "spark_conf",
        "spark_env_vars",
        "init_scripts",
        "library",
        "config",
        "ai_gateway",
        "tags",
        "owner",
        "workspace_id",
        "allow_cluster_create",
        "aws_attributes",
        "lifetime_seconds",
        "parameter",
        "name",
    ]
)
resource_bodies = st.dictionaries(attribute_names, json_values, max_size=6)


@functools.cache
def _policies(policies_dir: Path) -> Policies:
    return load_policies(policies_dir)


def run(content: bytes, *, plan: bool = False, env: str = "dev") -> tuple[int, str]:
    """The CLI in-process; the policy files are read once per test run (they are not under test)."""
    with tempfile.TemporaryDirectory() as tmp, mock.patch("infra.guardrails.cli.load_policies", _policies):
        path = Path(tmp) / "stacks" / env / "cdk.tf.json"
        path.parent.mkdir(parents=True)
        path.write_bytes(content)
        args = ["--plan", str(path), "--env", "dev"] if plan else [str(path)]
        err, out = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            code = main([*args, "--policies-dir", str(REPO / "policies"), "--today", "2026-06-01"])
        return code, err.getvalue()


def refused(code: int, err: str) -> bool:
    return code == 2 and "Traceback" not in err and "unusable input" in err


@SETTINGS
@given(st.binary(max_size=3000))
def test_random_bytes_are_refused(content: bytes) -> None:
    code, err = run(content)
    assert refused(code, err), (code, err[-2000:])


@SETTINGS
@given(st.data())
def test_truncated_stacks_are_refused(data: st.DataObject) -> None:
    text = json.dumps(platform("dev").doc, indent=2).rstrip()
    cut = data.draw(st.integers(min_value=0, max_value=len(text) - 1))
    code, err = run(text[:cut].encode())
    assert refused(code, err), (cut, code, err[-2000:])


def _not(kind: type) -> st.SearchStrategy[Any]:
    return json_values.filter(lambda v: not isinstance(v, kind))


misplaced = st.one_of(
    _not(dict).map(lambda v: v),  # the document itself
    _not(dict).map(lambda v: {"resource": v}),
    _not(dict).map(lambda v: {"resource": {"databricks_job": v}}),
    _not(dict).map(lambda v: {"resource": {"databricks_job": {"j": v}}}),
    _not(dict).map(lambda v: {"resource": {"databricks_job": {"j": {}}}, "output": v}),
    _not(dict).map(lambda v: {"resource": {"databricks_job": {"j": {}}}, "output": {"o": v}}),
    _not(dict | list).map(
        lambda v: {"resource": {"databricks_job": {"j": {}}}, "provider": {"databricks": v}}
    ),
    _not(dict).map(lambda v: {"resource": {"databricks_job": {"j": {}}}, "data": v}),
)


@SETTINGS
@given(misplaced)
def test_values_where_a_stack_has_objects_are_refused(doc: Any) -> None:
    code, err = run(json.dumps(doc).encode())
    assert refused(code, err), (doc, code, err[-2000:])


@SETTINGS
@given(
    st.dictionaries(
        st.sampled_from(["terraform", "provider", "data", "locals", "variable", "hello"])
        | st.text(max_size=8),
        st.dictionaries(
            st.text(max_size=8), st.dictionaries(st.text(max_size=8), scalars, max_size=2), max_size=2
        ),
        max_size=4,
    ).filter(lambda d: "resource" not in d and "planned_values" not in d and "resource_changes" not in d)
)
def test_documents_without_resources_are_refused(doc: dict[str, Any]) -> None:
    code, err = run(json.dumps(doc).encode())
    assert refused(code, err), (doc, code, err[-2000:])


plan_parts = st.fixed_dictionaries(
    {},
    optional={
        "planned_values": json_values,
        "resource_changes": json_values,
        "configuration": json_values,
    },
).filter(lambda d: bool(d))


@SETTINGS
@given(plan_parts)
def test_malformed_plans_are_refused_or_judged_never_a_crash(doc: dict[str, Any]) -> None:
    code, err = run(json.dumps(doc).encode(), plan=True)
    assert "Traceback" not in err and code in (1, 2), (doc, code, err[-2000:])


stacks = st.dictionaries(
    st.sampled_from(RULE_TYPES),
    st.dictionaries(st.sampled_from(["a", "b", "g", "p", "sp"]), resource_bodies, min_size=1, max_size=2),
    min_size=1,
    max_size=4,
)


@settings(SETTINGS, max_examples=int(os.environ.get("PROPERTY_EXAMPLES", "300")))
@given(stacks, st.sampled_from(ENVS))
def test_random_attribute_values_never_crash_a_rule(resources: dict[str, Any], env: str) -> None:
    code, err = run(json.dumps({"resource": resources}).encode(), env=env)
    assert code in (0, 1, 2) and "Traceback" not in err, (resources, err[-3000:])


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        found += [p for k, v in node.items() for p in _paths(v, (*prefix, k))]
    elif isinstance(node, list):
        found += [p for i, v in enumerate(node) for p in _paths(v, (*prefix, i))]
    return found


BUILT = {env: platform(env).doc for env in ("dev", "staging", "prod")} | {"account": account().doc}
# Every attribute path of every resource (type, name, attribute, ...): where a mutation lands.
MUTABLE = {env: [p for p in _paths(doc["resource"]) if len(p) >= 3] for env, doc in BUILT.items()}


@settings(SETTINGS, max_examples=int(os.environ.get("PROPERTY_EXAMPLES", "300")))
@given(st.data())
def test_mutated_real_shaped_stacks_never_crash_a_rule(data: st.DataObject) -> None:
    """Compliant stacks with a few attributes (at any depth) replaced by random JSON values."""
    env = data.draw(st.sampled_from(sorted(BUILT)))
    doc = copy.deepcopy(BUILT[env])
    for path in data.draw(st.lists(st.sampled_from(MUTABLE[env]), min_size=1, max_size=4)):
        node = doc["resource"]
        with contextlib.suppress(KeyError, IndexError, TypeError):  # an earlier mutation moved it
            for part in path[:-1]:
                node = node[part]
            if isinstance(node, dict) == isinstance(path[-1], str):
                node[path[-1]] = data.draw(json_values)
    code, err = run(json.dumps(doc).encode(), env=env)
    assert code in (0, 1, 2) and "Traceback" not in err, err[-3000:]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_builder_stacks_still_pass_in_process(env: str) -> None:
    """The properties above would hold for a gate that refuses everything: this one does not."""
    code, err = run(json.dumps(platform(env).doc).encode(), env=env)
    assert (code, err) == (0, "")
