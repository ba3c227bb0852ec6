"""The fleet's resources and jobs on the simulator: what would fail on a first deploy or at run time.

Each case weakens the real synthesized JSON the way a plausible change would and expects the named
rule, at the named place. What it proves and does not prove is as in ``test_deployability``: the
model of Databricks (infra/simulate/RULES.md), not Databricks.
"""

from __future__ import annotations

from infra.simulate import simulate
from infra.simulate.rules import RULES
from tests.simulate.conftest import Docs, one, resources
from tests.simulate.test_deployability import assert_fails


def test_the_fleet_is_modelled_and_its_job_and_sql_run_on_paper(shipped_docs: Docs) -> None:
    result = simulate(shipped_docs)
    assert result.failures == [] and result.notes == []
    # per environment: the inventory task, three alerts and the dashboard run under their identities
    assert result.job_tasks >= 3 * (1 + 3 + 1) + 30


def test_fails_a_dashboard_that_embeds_the_publishers_credentials(docs: Docs) -> None:
    _, dashboard = one(docs["prod"], "databricks_dashboard")
    dashboard.pop("embed_credentials")  # the provider's default is true: the deployer would read the data
    assert_fails(
        docs, "SIM059", "prod", "(embedded credentials)", "SELECT on mlops_prod.monitoring.fleet_metrics"
    )


def test_fails_a_dashboard_viewer_without_the_warehouse(docs: Docs) -> None:
    _, acl = one(docs["staging"], "databricks_permissions", "warehouse-permissions")
    acl["access_control"] = [a for a in acl["access_control"] if "analysts" not in str(a.get("group_name"))]
    assert_fails(docs, "SIM059", "staging", "as group 'analysts'", "no CAN_USE on warehouse mlops-staging")


def test_fails_a_warehouse_acl_without_an_owner(docs: Docs) -> None:
    _, acl = one(docs["dev"], "databricks_permissions", "warehouse-permissions")
    acl["access_control"] = [a for a in acl["access_control"] if a["permission_level"] != "IS_OWNER"]
    assert_fails(docs, "SIM032", "dev", "warehouse-permissions", "rejects the set as ambiguous")


def test_fails_a_warehouse_setting_the_api_refuses(docs: Docs) -> None:
    _, warehouse = one(docs["dev"], "databricks_sql_endpoint")
    warehouse["auto_stop_mins"] = 5
    assert_fails(docs, "SIM038", "dev", "databricks_sql_endpoint.", "must be 0 or >= 10")


def test_fails_an_alert_whose_folder_nothing_creates(docs: Docs) -> None:
    _, alert = one(docs["prod"], "databricks_alert_v2", "dataset_drift")
    alert["parent_path"] = "/mlops/Production/alerts"
    assert_fails(docs, "SIM039", "prod", "alert-dataset_drift", "no workspace object directory")


def test_fails_an_alert_run_as_an_identity_that_may_not_use_the_warehouse(docs: Docs) -> None:
    # The job runner owns the fleet tables it writes (the inventory job): the warehouse is what it lacks.
    _, acl = one(docs["prod"], "databricks_permissions", "warehouse-permissions")
    acl["access_control"] = [a for a in acl["access_control"] if "job_runner" not in str(a)]
    assert_fails(docs, "SIM058", "prod", "alert '[prod] fleet: dataset drift'", "no CAN_USE on warehouse")


def test_fails_the_inventory_when_the_job_runner_cannot_see_every_model(docs: Docs) -> None:
    _, grants = one(docs["dev"], "databricks_grants", "catalog_grants_")
    for grant in grants["grant"]:
        if "job_runner" in str(grant["principal"]):
            grant["privileges"] = [p for p in grant["privileges"] if p != "EXECUTE"]
    assert_fails(docs, "SIM054", "dev", "[dev] fleet: inventory", "EXECUTE on mlops_dev.models")


def test_fails_a_notification_destination_created_by_a_non_admin(docs: Docs) -> None:
    for _, assignment in resources(docs["account"], "databricks_mws_permission_assignment"):
        if "deployer" in str(assignment) and "staging" in str(assignment):
            assignment["permissions"] = ["USER"]
    assert_fails(docs, "SIM037", "staging", "databricks_notification_destination.", "not a workspace admin")


def test_fails_a_job_webhook_to_a_destination_nothing_creates(docs: Docs) -> None:
    _, job = one(docs["dev"], "databricks_job", "inventory-job")
    job["webhook_notifications"]["on_failure"] = [{"id": "0c7a11e2-not-managed"}]
    assert_fails(
        docs,
        "SIM001",
        "dev",
        "inventory-job",
        "no workspace object notification_destination '0c7a11e2-not-managed'",
    )


def test_every_new_rule_names_its_source() -> None:
    for rule in ("SIM037", "SIM038", "SIM039", "SIM058", "SIM059"):
        assert "v1.99.0" in RULES[rule].source or "docs.databricks.com" in RULES[rule].source
