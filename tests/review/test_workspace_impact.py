"""The account stack's review says what a change does to each workspace.

On the shipped account stack (synthesized once per run), edited the way a pull request would edit its
config: each change is grouped under the workspaces its dependency graph reaches (the workspace's own
configuration, its metastore assignment and metastore, its permission assignments), and under no
other. Proves the grouping and the wording on synthesized documents and a hand-made plan; it does not
prove what Databricks does when the change is applied.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from infra.review import Inputs, diff, load_params
from infra.review.model import EnvReview
from infra.review.render import render_json, render_markdown
from mlops_spec.config import ACCOUNT_STACK
from tests.conftest import Docs

WORKSPACES = {"mlops-dev", "mlops-staging", "mlops-prod"}


@pytest.fixture(scope="module")
def params(repo_root: Path):
    return load_params(repo_root / "policies")


@pytest.fixture
def account(shipped_docs: Docs) -> dict[str, Any]:
    return copy.deepcopy(shipped_docs[ACCOUNT_STACK])


def one(doc: dict[str, Any], rtype: str, construct: str) -> str:
    """The logical id of the one ``rtype`` whose construct id starts with ``construct``."""
    (name,) = [n for n in doc["resource"][rtype] if n.startswith(construct)]
    return name


def review(params, base: dict[str, Any], head: dict[str, Any], plans=None) -> EnvReview:
    inputs = Inputs(params, plans=plans or {})
    (env,) = diff({ACCOUNT_STACK: base}, {ACCOUNT_STACK: head}, inputs).envs
    return env


def effects(env: EnvReview) -> dict[str, list[tuple[str, str, str]]]:
    return {w.workspace: [(e.part, e.action, e.what) for e in w.effects] for w in env.workspaces}


def test_no_change_touches_no_workspace(params, account) -> None:
    env = review(params, account, copy.deepcopy(account))
    assert env.workspaces == [] and env.changes == []


def test_a_network_change_touches_only_its_workspace(params, account) -> None:
    head = copy.deepcopy(account)
    network = head["resource"]["databricks_mws_networks"][
        one(head, "databricks_mws_networks", "workspace-prod")
    ]
    network["subnet_ids"] = [*network["subnet_ids"], "subnet-0a1b2c3d4e5f60099"]
    found = effects(review(params, account, head))
    assert found == {
        "mlops-prod": [("network", "update", "updates its network: mlops-prod-network (subnet_ids)")]
    }


def test_a_vpc_endpoint_reaches_the_workspace_through_its_network(params, account) -> None:
    """The endpoint is not referenced by the workspace itself, only by its network and private access."""
    head = copy.deepcopy(account)
    rest = head["resource"]["databricks_mws_vpc_endpoint"][
        one(head, "databricks_mws_vpc_endpoint", "workspace-prod_rest")
    ]
    rest["aws_vpc_endpoint_id"] = "vpce-0a1b2c3d4e5f60099"
    (prod,) = review(params, account, head).workspaces
    assert prod.workspace == "mlops-prod"
    assert [(e.part, e.action) for e in prod.effects] == [("network", "update")]


def test_a_metastore_change_touches_every_workspace_assigned_to_it(params, account) -> None:
    head = copy.deepcopy(account)
    (name,) = head["resource"]["databricks_metastore"]
    head["resource"]["databricks_metastore"][name]["owner"] = "someone-else"
    found = effects(review(params, account, head))
    assert set(found) == WORKSPACES
    assert {tuple(v) for v in found.values()} == {
        (
            (
                "metastore",
                "update",
                "updates the metastore the workspace is assigned to: mlops-eu-west-1 (owner)",
            ),
        )
    }


def test_unassigning_the_metastore_and_removing_a_group_say_what_the_workspace_loses(params, account) -> None:
    head = copy.deepcopy(account)
    del head["resource"]["databricks_metastore_assignment"][
        one(head, "databricks_metastore_assignment", "metastore-eu-west-1_assign-staging")
    ]
    assignments = head["resource"]["databricks_mws_permission_assignment"]
    for name in [n for n in assignments if n.startswith("identities_assign-") and "group-analysts" in n]:
        del assignments[name]
    env = review(params, account, head)
    found = effects(env)
    assert set(found) == WORKSPACES
    lost = ("access", "delete", "analysts (group) loses USER on the workspace")
    assert found["mlops-dev"] == [lost] and found["mlops-prod"] == [lost]
    assert found["mlops-staging"] == [
        (
            "metastore",
            "delete",
            "unassigns the metastore: the workspace's catalogs, models and tables become unreachable",
        ),
        lost,
    ]
    assert [w.workspace for w in env.workspaces if w.destructive] == [
        "mlops-staging"
    ]  # access is listed only


def test_renaming_the_workspace_construct_destroys_the_workspace(params, account) -> None:
    """A new logical id is a new address: without a moved block Terraform destroys and recreates it."""
    head = copy.deepcopy(account)
    workspaces = head["resource"]["databricks_mws_workspaces"]
    old = one(head, "databricks_mws_workspaces", "workspace-dev")
    workspaces["workspace-dev-renamed"] = workspaces.pop(old)
    text = json.dumps(head).replace(
        f"databricks_mws_workspaces.{old}.", "databricks_mws_workspaces.workspace-dev-renamed."
    )
    env = review(params, account, json.loads(text))
    dev = next(w for w in env.workspaces if w.workspace == "mlops-dev")
    assert dev.destructive
    (ws,) = [e for e in dev.effects if e.part == "workspace"]
    assert ws.action == "replace" and ws.what.startswith(
        "destroys and recreates the workspace: everything in it is lost"
    )
    whats = {e.what for e in dev.effects}
    assert "analysts (group) keeps USER on the workspace (what it refers to changes)" in whats
    # Its assignments move with it (one workspace, under its new address); nothing else is touched.
    assert {w.workspace for w in env.workspaces} == {"mlops-dev"}
    # Nothing in ownership.yaml protects a workspace, yet its destroy is never a silent pass.
    assert env.verdict == "warn" and "destructive" in env.kinds
    assert "workspace(s) lose something they are or run on: mlops-dev (see Workspaces)" in env.reasons


def test_an_existing_workspace_is_named_by_its_id(params) -> None:
    """A workspace the stack does not create: its assignments carry the literal id."""

    def doc(permissions: list[str]) -> dict[str, Any]:
        return {
            "resource": {
                "databricks_group": {"g": {"display_name": "ml-engineers"}},
                "databricks_mws_permission_assignment": {
                    "a": {
                        "workspace_id": 1234567890,
                        "principal_id": "${databricks_group.g.id}",
                        "permissions": permissions,
                    }
                },
            }
        }

    found = effects(review(params, doc(["USER"]), doc(["ADMIN"])))
    assert found == {
        "workspace 1234567890": [("access", "update", "ml-engineers (group): USER → ADMIN on the workspace")]
    }


def test_a_plan_gives_the_actions_and_the_synthesized_stack_the_graph(params, account) -> None:
    """With a plan, a replace Terraform announces (here of the prod network) is grouped the same way."""
    network = one(account, "databricks_mws_networks", "workspace-prod")
    address = f"databricks_mws_networks.{network}"
    values = account["resource"]["databricks_mws_networks"][network]
    plan = {
        "format_version": "1.2",
        "resource_changes": [
            {
                "address": address,
                "mode": "managed",
                "type": "databricks_mws_networks",
                "name": network,
                "change": {"actions": ["delete", "create"], "before": values, "after": values},
            }
        ],
    }
    env = review(params, account, copy.deepcopy(account), {ACCOUNT_STACK: ("plan.json", plan)})
    (prod,) = env.workspaces
    assert prod.workspace == "mlops-prod" and prod.destructive
    assert [(e.part, e.action, e.what) for e in prod.effects] == [
        ("network", "replace", "destroys and recreates its network: mlops-prod-network")
    ]


def test_environment_stacks_have_no_workspace_section(params, shipped_docs: Docs) -> None:
    base = shipped_docs["dev"]
    head = copy.deepcopy(base)
    (name,) = list(head["resource"]["databricks_catalog"])[:1]
    head["resource"]["databricks_catalog"][name]["comment"] = "edited"
    (env,) = diff({"dev": base}, {"dev": head}, Inputs(params)).envs
    assert env.changes and env.workspaces == []


def test_the_report_shows_each_workspace(params, account) -> None:
    head = copy.deepcopy(account)
    network = head["resource"]["databricks_mws_networks"][
        one(head, "databricks_mws_networks", "workspace-prod")
    ]
    network["subnet_ids"] = [*network["subnet_ids"], "subnet-0a1b2c3d4e5f60099"]
    result = diff({ACCOUNT_STACK: account}, {ACCOUNT_STACK: head}, Inputs(params))
    md = render_markdown(result)
    assert "Workspaces: 1 touched (mlops-prod), 0 with a destroy" in md
    assert "| network | update | updates its network: mlops-prod-network (subnet_ids) |" in md
    (prod,) = json.loads(render_json(result))["envs"][ACCOUNT_STACK]["workspaces"]
    assert prod["workspace"] == "mlops-prod" and prod["effects"][0]["part"] == "network"
