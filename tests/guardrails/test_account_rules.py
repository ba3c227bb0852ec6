"""Account stack rules: the compliant account stack passes, each weakening is caught by the right rule.

The account stack is evaluated with the prod stack beside it, as `make check` does: DBX021 lets a
public prod workspace pass only when the prod stack restricts it with IP access lists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from infra.guardrails import Report, evaluate
from infra.tfdoc import resources_from_doc
from tests.guardrails.builders import TODAY, Stack, account, platform, ref
from tests.guardrails.test_inputs import plan_doc, planned


def at(rtype: str, name: str) -> str:
    return f"{rtype}.account_{name}"


WS = "databricks_mws_workspaces"
PAS = "databricks_mws_private_access_settings"
ASSIGN = "databricks_mws_permission_assignment"
PROD_WS = at(WS, "workspace_prod")
METASTORE = at("databricks_metastore", "metastore")
BROWNFIELD_ID = 1234567890123456


def workspace(acct: Stack, env: str) -> dict[str, Any]:
    return acct.get(at(WS, f"workspace_{env}"))


def metastore(acct: Stack) -> dict[str, Any]:
    return acct.get(METASTORE)


def public_prod(acct: Stack) -> None:
    acct.get(at(PAS, "workspace_prod_private"))["public_access_enabled"] = True


def open_prod_stack(prod: Stack) -> None:
    """The prod environment stack without its IP restriction."""
    prod.get("databricks_workspace_conf.prod_workspace_conf")["custom_config"]["enableIpAccessLists"] = (
        "false"
    )
    prod.remove("databricks_ip_access_list.prod_workspace_allow")


def brownfield(acct: Stack, workspace_id: Any, *, assigned: bool) -> str:
    """A workspace the stack does not create: identities (and maybe the metastore) by literal id."""
    if assigned:
        acct.add(
            "databricks_metastore_assignment",
            "metastore_assign_legacy",
            {"metastore_id": ref(METASTORE), "workspace_id": workspace_id},
        )
    depends = [at("databricks_metastore_assignment", "metastore_assign_legacy")] if assigned else []
    return acct.add(
        ASSIGN,
        "identities_assign_legacy_mlops",
        {
            "workspace_id": workspace_id,
            "principal_id": ref(at("databricks_group", "identities_group_mlops")),
            "permissions": ["ADMIN"],
            "depends_on": depends,
        },
    )


def pop_tags(ws: dict[str, Any]) -> None:
    ws.pop("custom_tags")


# (rule, weakening of (account, prod), address the finding must name)
WEAKENED: dict[str, tuple[str, Callable[[Stack, Stack], Any], str]] = {
    "public prod workspace, prod stack without IP lists": (
        "DBX021",
        lambda acct, prod: (public_prod(acct), open_prod_stack(prod)),
        PROD_WS,
    ),
    "prod workspace without private access settings, allow list off": (
        "DBX021",
        lambda acct, prod: (
            workspace(acct, "prod").pop("private_access_settings_id"),
            prod.get("databricks_ip_access_list.prod_workspace_allow").update(enabled=False),
        ),
        PROD_WS,
    ),
    "private access settings not managed here, prod allow list open to the internet": (
        "DBX021",
        lambda acct, prod: (
            workspace(acct, "prod").update(private_access_settings_id="pas-0123"),
            prod.get("databricks_ip_access_list.prod_workspace_allow").update(ip_addresses=["0.0.0.0/0"]),
        ),
        PROD_WS,
    ),
    "untagged public prod workspace is still prod by its name": (
        "DBX021",
        lambda acct, prod: (pop_tags(workspace(acct, "prod")), public_prod(acct), open_prod_stack(prod)),
        PROD_WS,
    ),
    "prod workspace tagged dev is still prod by its name": (
        "DBX021",
        lambda acct, prod: (
            workspace(acct, "prod")["custom_tags"].update(env="dev"),
            public_prod(acct),
            open_prod_stack(prod),
        ),
        PROD_WS,
    ),
    "workspace whose environment cannot be told": (
        "DBX021",
        lambda acct, prod: pop_tags(workspace(acct, "staging")),
        at(WS, "workspace_staging"),
    ),
    "workspace without metastore assignment": (
        "DBX022",
        lambda acct, prod: acct.remove(at("databricks_metastore_assignment", "metastore_assign_staging")),
        at(WS, "workspace_staging"),
    ),
    "identity assignment that does not wait for the metastore": (
        "DBX022",
        lambda acct, prod: acct.get(at(ASSIGN, "identities_assign_dev_ds")).pop("depends_on"),
        at(ASSIGN, "identities_assign_dev_ds"),
    ),
    "brownfield workspace with identities but no metastore": (
        "DBX022",
        lambda acct, prod: brownfield(acct, BROWNFIELD_ID, assigned=False),
        at(ASSIGN, "identities_assign_legacy_mlops"),
    ),
    "workspace assigned two metastores": (
        "DBX022",
        lambda acct, prod: acct.add(
            "databricks_metastore_assignment",
            "metastore_assign_dev_again",
            {"metastore_id": "abc", "workspace_id": ref(at(WS, "workspace_dev"), "workspace_id")},
        ),
        at("databricks_metastore_assignment", "metastore_assign_dev_again"),
    ),
    "metastore with force_destroy": (
        "DBX023",
        lambda acct, prod: metastore(acct).update(force_destroy=True),
        METASTORE,
    ),
    "metastore without prevent_destroy": (
        "DBX023",
        lambda acct, prod: metastore(acct).pop("lifecycle"),
        METASTORE,
    ),
    "prod workspace without prevent_destroy": (
        "DBX023",
        lambda acct, prod: workspace(acct, "prod")["lifecycle"].update(prevent_destroy=False),
        PROD_WS,
    ),
    "workspace with a token block": (
        "DBX024",
        lambda acct, prod: workspace(acct, "dev").update(token={"comment": "terraform"}),
        at(WS, "workspace_dev"),
    ),
    "metastore owned by an e-mail address": (
        "DBX105",
        lambda acct, prod: metastore(acct).update(owner="admin@example.com"),
        METASTORE,
    ),
    "metastore owned by a service principal": (
        "DBX105",
        lambda acct, prod: metastore(acct).update(
            owner=ref(at("databricks_service_principal", "identities_sp_deployer_prod"), "application_id")
        ),
        METASTORE,
    ),
    "metastore owned by a name that is no group": (
        "DBX105",
        lambda acct, prod: metastore(acct).update(owner="platform-team"),
        METASTORE,
    ),
    "workspace ADMIN to a literal principal id": (
        "DBX105",
        lambda acct, prod: acct.get(at(ASSIGN, "identities_assign_prod_mlops")).update(principal_id=4711),
        at(ASSIGN, "identities_assign_prod_mlops"),
    ),
    "workspace ADMIN to a user": (
        "DBX105",
        lambda acct, prod: acct.get(at(ASSIGN, "identities_assign_staging_mlops")).update(
            principal_id=ref(acct.add("databricks_user", "alice", {"user_name": "alice@example.com"}))
        ),
        at(ASSIGN, "identities_assign_staging_mlops"),
    ),
}


def test_shipped_account_conventions_pass_every_rule(run: Callable[..., Report]) -> None:
    report = run(account(), platform("dev"), platform("staging"), platform("prod"))
    assert [f"{f.rule.id} {f.address}: {f.message}" for f in report.findings] == []


@pytest.mark.parametrize("case", sorted(WEAKENED))
def test_fails_weakened_account_stack(run: Callable[..., Report], case: str) -> None:
    rule_id, weaken, address = WEAKENED[case]
    acct, prod = account(), platform("prod")
    weaken(acct, prod)
    report = run(acct, prod)
    hits = [f for f in report.findings if f.rule.id == rule_id and f.env == "account"]
    assert hits, f"{rule_id} missed '{case}'; got {[f.rule.id + ' ' + f.message for f in report.findings]}"
    assert address in {f.address for f in hits}
    assert report.exit_code() == 1


def test_passes_public_prod_workspace_when_the_prod_stack_restricts_ips(run: Callable[..., Report]) -> None:
    acct = account()
    public_prod(acct)
    assert run(acct, platform("prod")).findings == []


def test_fails_public_prod_workspace_when_the_prod_stack_is_not_in_the_run(
    run: Callable[..., Report],
) -> None:
    acct = account()
    public_prod(acct)
    (finding,) = run(acct).findings
    assert (finding.rule.id, finding.address) == ("DBX021", PROD_WS)
    assert "prod stack is not part of this run" in finding.message
    assert "public_access_enabled True" in finding.message


def test_passes_private_prod_workspace_without_the_prod_stack(run: Callable[..., Report]) -> None:
    assert run(account()).findings == []


def test_passes_non_prod_workspaces_that_are_public_and_deletable(run: Callable[..., Report]) -> None:
    acct = account()
    for env in ("dev", "staging"):
        assert "private_access_settings_id" not in workspace(acct, env)
        assert "lifecycle" not in workspace(acct, env)
    assert run(acct).findings == []


@pytest.mark.parametrize("workspace_id", [BROWNFIELD_ID, str(BROWNFIELD_ID)])
def test_passes_brownfield_workspace_assigned_by_literal_id(
    run: Callable[..., Report], workspace_id: Any
) -> None:
    acct = account()
    brownfield(acct, workspace_id, assigned=True)
    assert run(acct).findings == []


def test_fails_brownfield_identity_assignments_once_per_workspace(run: Callable[..., Report]) -> None:
    acct = account()
    brownfield(acct, BROWNFIELD_ID, assigned=False)
    acct.add(
        ASSIGN,
        "identities_assign_legacy_ds",
        {
            "workspace_id": BROWNFIELD_ID,
            "principal_id": ref(at("databricks_group", "identities_group_ds")),
            "permissions": ["USER"],
        },
    )
    hits = [f for f in run(acct).findings if f.rule.id == "DBX022"]
    assert len(hits) == 1 and str(BROWNFIELD_ID) in hits[0].message


@pytest.mark.parametrize(
    "owner",
    [
        "mlops-engineers",  # a literal equal to a group's display_name in the stack
        "${data.databricks_group.admins.display_name}",  # a looked-up group
    ],
)
def test_passes_metastore_owned_by_a_group(run: Callable[..., Report], owner: str) -> None:
    acct = account()
    acct.doc.setdefault("data", {})["databricks_group"] = {"admins": {"display_name": "platform-admins"}}
    metastore(acct)["owner"] = owner
    assert run(acct).findings == []


def test_passes_workspace_admin_service_principal_for_automation(run: Callable[..., Report]) -> None:
    acct = account()
    principal = acct.get(at(ASSIGN, "identities_assign_prod_sp"))
    assert principal["permissions"] == ["ADMIN"] and "service_principal" in principal["principal_id"]
    assert run(acct).findings == []


def test_fails_metastore_owner_that_resolves_to_nothing(run: Callable[..., Report]) -> None:
    acct = account()
    metastore(acct)["owner"] = "${var.metastore_owner}"
    messages = [f.message for f in run(acct).findings if f.rule.id == "DBX105"]
    assert messages and "reference to nothing" in messages[0]


def test_fails_plan_that_destroys_the_metastore_and_notes_what_plans_hide(policies) -> None:
    change = {
        "address": "databricks_metastore.main",
        "mode": "managed",
        "type": "databricks_metastore",
        "name": "main",
        "change": {"actions": ["delete"], "before": {"name": "m", "owner": "mlops-engineers"}, "after": None},
    }
    assignment = planned(ASSIGN, "a", {"workspace_id": 1, "principal_id": 2, "permissions": ["USER"]})
    report = evaluate(
        resources_from_doc(plan_doc([assignment], changes=[change]), "account"), policies, TODAY
    )
    hits = [(f.rule.id, f.address) for f in report.findings if f.rule.id in ("DBX022", "DBX023")]
    assert ("DBX023", "databricks_metastore.main") in hits
    # Workspace 1 has identities but no metastore assignment; depends_on is invisible in plans.
    assert ("DBX022", f"{ASSIGN}.a") in hits
    assert any("depends_on" in note for note in report.notes)
