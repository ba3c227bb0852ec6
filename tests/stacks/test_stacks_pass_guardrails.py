"""The real synthesized stacks (account included) pass the guardrails, and weakening them is caught.

Reads the session's ``synth_dir`` (one synth per test run); the weakened variants are edited copies
of that JSON in memory, so they show what the rules catch in the shape cdktf really writes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from infra.guardrails import Policies
from infra.tfdoc import resources_from_doc
from stacks.account_stack import ACCOUNT_STACK
from tests.conftest import Docs
from tests.guardrails.builders import evaluate_docs


def of_type(doc: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return doc["resource"][rtype]


def one(doc: dict[str, Any], rtype: str, word: str) -> tuple[str, dict[str, Any]]:
    """The single resource of ``rtype`` whose logical id mentions ``word`` (e.g. the prod workspace)."""
    (found,) = [(f"{rtype}.{n}", body) for n, body in of_type(doc, rtype).items() if word in n]
    return found


def test_every_synthesized_stack_passes_with_zero_unwaived_findings(
    shipped_docs: Docs, policies: Policies
) -> None:
    assert {ACCOUNT_STACK, "dev", "staging", "prod"} <= set(shipped_docs)
    report = evaluate_docs(shipped_docs, policies)
    assert [f"{f.env} {f.rule.id} {f.address}: {f.message}" for f in report.unwaived()] == []
    # The account rules looked at something: workspaces, metastore, assignments.
    account = {r.type for r in resources_from_doc(shipped_docs[ACCOUNT_STACK], ACCOUNT_STACK)}
    assert {"databricks_mws_workspaces", "databricks_metastore", "databricks_metastore_assignment"} <= account


def _public_prod_without_ip_lists(docs: Docs) -> str:
    account, prod = docs[ACCOUNT_STACK], docs["prod"]
    _, settings = one(account, "databricks_mws_private_access_settings", "prod")
    settings["public_access_enabled"] = True
    for conf in of_type(prod, "databricks_workspace_conf").values():
        conf["custom_config"]["enableIpAccessLists"] = "false"
    prod["resource"].pop("databricks_ip_access_list", None)
    return one(account, "databricks_mws_workspaces", "prod")[0]


def _metastore_owned_by_a_person(docs: Docs) -> str:
    address, metastore = one(docs[ACCOUNT_STACK], "databricks_metastore", "metastore")
    metastore["owner"] = "admin@example.com"
    return address


def _metastore_unprotected(docs: Docs) -> str:
    address, metastore = one(docs[ACCOUNT_STACK], "databricks_metastore", "metastore")
    metastore["force_destroy"] = True
    return address


def _prod_workspace_deletable_with_token(docs: Docs) -> str:
    address, workspace = one(docs[ACCOUNT_STACK], "databricks_mws_workspaces", "prod")
    workspace.pop("lifecycle")
    workspace["token"] = {"comment": "terraform"}
    return address


def _staging_without_metastore(docs: Docs) -> str:
    account = docs[ACCOUNT_STACK]
    name, _ = one(account, "databricks_metastore_assignment", "staging")
    del of_type(account, "databricks_metastore_assignment")[name.split(".", 1)[1]]
    for body in of_type(account, "databricks_mws_permission_assignment").values():
        body["depends_on"] = [d for d in body.get("depends_on", []) if d != name]
    return one(account, "databricks_mws_workspaces", "staging")[0]


def _prod_admin_by_literal_id(docs: Docs) -> str:
    assignments = of_type(docs[ACCOUNT_STACK], "databricks_mws_permission_assignment")
    name = next(n for n, b in sorted(assignments.items()) if "prod" in n and b["permissions"] == ["ADMIN"])
    assignments[name]["principal_id"] = 4711
    return f"databricks_mws_permission_assignment.{name}"


WEAKENINGS: dict[str, tuple[set[str], Callable[[Docs], str]]] = {
    "prod workspace public and prod stack without IP lists": (
        {"DBX021", "DBX010"},
        _public_prod_without_ip_lists,
    ),
    "metastore owned by an e-mail address": ({"DBX105", "DBX002"}, _metastore_owned_by_a_person),
    "metastore force_destroy": ({"DBX023"}, _metastore_unprotected),
    "prod workspace deletable, with a token block": (
        {"DBX023", "DBX024"},
        _prod_workspace_deletable_with_token,
    ),
    "staging workspace without metastore assignment": ({"DBX022"}, _staging_without_metastore),
    "prod workspace ADMIN to a literal principal id": ({"DBX105"}, _prod_admin_by_literal_id),
}


@pytest.mark.parametrize("case", sorted(WEAKENINGS))
def test_fails_weakened_real_stacks_with_the_right_rules(
    shipped_docs: Docs, policies: Policies, case: str
) -> None:
    expected, weaken = WEAKENINGS[case]
    docs = copy.deepcopy(shipped_docs)
    address = weaken(docs)
    report = evaluate_docs(docs, policies)
    assert {f.rule.id for f in report.unwaived()} == expected
    account_hits = {f.rule.id for f in report.findings if f.env == ACCOUNT_STACK and f.address == address}
    assert account_hits & expected, [f"{f.rule.id} {f.address}" for f in report.findings]
    assert report.exit_code() == 1
