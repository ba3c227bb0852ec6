"""Identities: every role looked up by name (never created here), entitlements per role, and roles
without a configured name rejected. Proves the synthesized lookups, not that the principals exist."""

from __future__ import annotations

import pytest

from infra.constructs.identities import Identities, IdentitiesProps
from mlops_spec.config import load_environment, load_roles
from mlops_spec.config.environment import ServicePrincipal
from tests.cdk_constructs.conftest import of_type, synth

ROLES = load_roles()
DEV = load_environment("dev")


def test_defaults_groups_by_display_name_service_principals_by_display_name_entitlements_per_role() -> None:
    built: dict[str, Identities] = {}
    doc = synth(
        lambda s: built.setdefault(
            "ids", Identities(s, "ids", IdentitiesProps(ROLES, DEV.groups, DEV.service_principals))
        )
    )
    groups = {g["display_name"] for g in doc["data"]["databricks_group"].values()}
    assert groups == set(DEV.groups.values())
    sps = list(doc["data"]["databricks_service_principal"].values())
    assert {sp["display_name"] for sp in sps} == {"sp-mlops-jobs-dev", "sp-mlops-deployer-dev"}
    assert all("application_id" not in sp for sp in sps)
    assert not of_type(doc, "databricks_group") and not of_type(doc, "databricks_service_principal")
    assert len(of_type(doc, "databricks_entitlements")) == len(ROLES.roles)
    assert built["ids"].principal("job_runner").kind == "service_principal"
    for ent in of_type(doc, "databricks_entitlements").values():  # each on the principal it looked up
        (ref,) = [ent[k] for k in ("group_id", "service_principal_id") if k in ent]
        assert ref.startswith(("${data.databricks_group.", "${data.databricks_service_principal."))


def test_everything_service_principals_by_application_id_and_every_entitlement() -> None:
    roles = ROLES.model_copy(
        update={
            "roles": {
                **ROLES.roles,
                "analysts": ROLES.roles["analysts"].model_copy(
                    update={
                        "entitlements": ROLES.roles["analysts"].entitlements.model_copy(
                            update={"allow_cluster_create": True, "allow_instance_pool_create": True}
                        )
                    }
                ),
            }
        }
    )
    app_id = "00000000-0000-0000-0000-0000000000a1"
    sps = {
        **DEV.service_principals,
        "job_runner": ServicePrincipal(display_name="sp-jobs", application_id=app_id),
    }
    doc = synth(lambda s: Identities(s, "ids", IdentitiesProps(roles, DEV.groups, sps)))
    (runner,) = [sp for sp in doc["data"]["databricks_service_principal"].values() if "application_id" in sp]
    assert runner == {**runner, "application_id": app_id} and "display_name" not in runner  # one key
    analysts = [
        e for e in of_type(doc, "databricks_entitlements").values() if "analysts" in e.get("group_id", "")
    ]
    (entitled,) = analysts
    assert entitled["allow_cluster_create"] is True and entitled["allow_instance_pool_create"] is True


@pytest.mark.parametrize(
    ("groups", "sps", "message"),
    [
        (
            {k: v for k, v in DEV.groups.items() if k != "analysts"},
            DEV.service_principals,
            "role 'analysts': no group name",
        ),
        (
            DEV.groups,
            {k: v for k, v in DEV.service_principals.items() if k != "deployer"},
            "role 'deployer': no service principal",
        ),
    ],
)
def test_fails_on_a_role_without_a_configured_name(groups, sps, message: str) -> None:
    with pytest.raises(KeyError, match=message):
        synth(lambda s: Identities(s, "ids", IdentitiesProps(ROLES, groups, sps)))


def test_fails_to_name_an_unknown_role() -> None:
    built: dict[str, Identities] = {}
    synth(
        lambda s: built.setdefault(
            "ids", Identities(s, "ids", IdentitiesProps(ROLES, DEV.groups, DEV.service_principals))
        )
    )
    with pytest.raises(KeyError, match="unknown role 'auditors'; known: analysts, data_scientists"):
        built["ids"].principal("auditors")
