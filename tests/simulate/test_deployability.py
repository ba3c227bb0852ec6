"""A first deploy on a new account succeeds, and every job can do its work under its own identity.

What this proves: the synthesized JSON of every shipped stack, applied in Terraform's dependency order
to the simulator's model of Databricks (rules from the provider's source and Databricks' docs, see
infra/simulate/RULES.md), needs no privilege its applying identity lacks and no object that does not
exist yet; and each job task's declared operations are allowed to its run_as identity.
What it does not prove: that Databricks behaves as the model says (only a real deploy shows that),
anything about cloud resources (IAM roles, buckets, VPCs), or network reachability.

Each failure the audit found is reintroduced into the real synthesized JSON and must be reported
with its address and reason.
"""

from __future__ import annotations

from typing import Any

from infra.simulate import simulate
from tests.simulate.conftest import Docs, one, resources


def failures(docs: Docs) -> list[Any]:
    return simulate(docs).failures


def assert_fails(docs: Docs, rule: str, stack: str, where: str, missing: str) -> None:
    found = failures(docs)
    matching = [
        f for f in found if f.rule == rule and f.stack == stack and where in f.where and missing in f.missing
    ]
    assert matching, "expected {} {} at {!r} ({!r}); got:\n{}".format(
        rule, stack, where, missing, "\n".join(map(str, found)) or "no failures"
    )


def test_the_shipped_stacks_deploy_on_a_new_account_and_every_job_can_do_its_work(shipped_docs: Docs) -> None:
    result = simulate(shipped_docs)
    assert result.failures == [], "\n".join(map(str, result.failures))
    assert result.stacks == ["account", "dev", "staging", "prod"]
    assert result.resources > 200
    # train (4 tasks with deploy, or 3), monitor and retrain per model per environment
    assert result.job_tasks >= 30
    assert not result.notes, result.notes


# --- apply time: each failure of the audit, reintroduced ------------------------------------------


def test_fails_1_a_catalog_without_storage_root_on_a_metastore_without_one(docs: Docs) -> None:
    name, catalog = one(docs["dev"], "databricks_catalog")
    del catalog["storage_root"]
    assert_fails(docs, "SIM010", "dev", f"databricks_catalog.{name}", "has no storage root")


def test_fails_2_the_deployer_without_create_catalog_on_the_metastore(docs: Docs) -> None:
    _name, grant = one(docs["account"], "databricks_grant", "deployer-access-staging")
    grant["privileges"] = ["CREATE_EXTERNAL_LOCATION"]
    assert_fails(docs, "SIM011", "staging", "databricks_catalog.", "nor CREATE_CATALOG on metastore")


def test_fails_2_a_catalog_handed_to_a_group_the_deployer_is_not_in_cannot_be_bound(docs: Docs) -> None:
    name, catalog = one(docs["prod"], "databricks_catalog")
    catalog["owner"] = "mlops-engineers"
    assert_fails(
        docs, "SIM013", "prod", f"databricks_catalog.{name}", "the owner is now group 'mlops-engineers'"
    )


def test_fails_3_an_experiment_in_a_folder_nothing_creates(docs: Docs) -> None:
    name, experiment = one(docs["dev"], "databricks_mlflow_experiment", "marketing_churn_gbm")
    experiment["name"] = "/mlops/Development/nowhere/marketing_churn_gbm"
    assert_fails(
        docs, "SIM030", "dev", f"databricks_mlflow_experiment.{name}", "no workspace object directory"
    )


def test_fails_3_an_experiment_whose_folder_is_named_literally_is_not_ordered(docs: Docs) -> None:
    name, experiment = one(docs["dev"], "databricks_mlflow_experiment", "risk_fraud_xgb")
    experiment["name"] = "/mlops/Development/experiments/risk_fraud_xgb"
    assert_fails(docs, "SIM001", "dev", f"databricks_mlflow_experiment.{name}", "nothing orders it first")


def test_fails_4_a_wheel_uploaded_to_a_literal_volume_path(docs: Docs) -> None:
    name, file = one(docs["staging"], "databricks_file")
    file["path"] = "/Volumes/mlops_staging/models/artifacts/x/dbx_mlops_platform-0.1.0-py3-none-any.whl"
    assert_fails(
        docs, "SIM001", "staging", f"databricks_file.{name}", "volume 'mlops_staging.models.artifacts'"
    )


def test_fails_4_jobs_that_name_the_wheel_literally_do_not_wait_for_its_upload(docs: Docs) -> None:
    _, file = one(docs["dev"], "databricks_file")
    literal = "/Volumes/mlops_dev/models/artifacts/x/dbx.whl"
    file["path"] = file["path"].split("}")[0] + "}/x/dbx.whl"
    for _, job in resources(docs["dev"], "databricks_job"):
        for task in job["task"]:
            task["library"] = [{"whl": literal}]
    assert_fails(docs, "SIM001", "dev", "databricks_job.", "nothing orders the upload first")


def test_fails_5_a_registered_model_in_a_literal_schema(docs: Docs) -> None:
    name, model = one(docs["prod"], "databricks_registered_model", "marketing_churn_gbm")
    model["catalog_name"], model["schema_name"] = "mlops_prod", "models"
    assert_fails(docs, "SIM001", "prod", f"databricks_registered_model.{name}", "schema 'mlops_prod.models'")


def test_fails_6_run_as_a_service_principal_the_deployer_is_no_user_of(docs: Docs) -> None:
    name, _ = one(docs["account"], "databricks_access_control_rule_set", "deployer-access-prod")
    del docs["account"]["resource"]["databricks_access_control_rule_set"][name]
    assert_fails(
        docs,
        "SIM033",
        "prod",
        "databricks_job.",
        "no servicePrincipal.user role on service principal 'sp-mlops-jobs-prod'",
    )


def test_fails_7_job_permissions_with_the_deployer_as_can_manage_and_no_is_owner(docs: Docs) -> None:
    name, acl = one(docs["dev"], "databricks_permissions", "train-job-permissions")
    for entry in acl["access_control"]:
        if entry["permission_level"] == "IS_OWNER":
            entry["permission_level"] = "CAN_MANAGE"
    assert_fails(docs, "SIM032", "dev", f"databricks_permissions.{name}", "ambiguous")


def test_fails_8_an_inference_table_in_a_literal_schema(docs: Docs) -> None:
    name, endpoint = one(docs["staging"], "databricks_model_serving")
    table = endpoint["ai_gateway"]["inference_table_config"]
    table["catalog_name"], table["schema_name"] = "mlops_staging", "inference_logs"
    assert_fails(
        docs, "SIM001", "staging", f"databricks_model_serving.{name}", "schema 'mlops_staging.inference_logs'"
    )


def test_fails_8_an_inference_table_where_the_creator_may_not_create_tables(docs: Docs) -> None:
    _name, schema = one(docs["dev"], "databricks_schema", "inference_logs")
    schema["owner"] = "analysts"
    assert_fails(docs, "SIM022", "dev", "databricks_model_serving.", "on schema mlops_dev.inference_logs")


def test_fails_12_an_acl_on_a_folder_under_shared(docs: Docs) -> None:
    platform_folder = lambda n, b: n.startswith("folder_") and "experiments" not in n  # noqa: E731
    ((_name, folder),) = resources(docs["dev"], "databricks_directory", platform_folder)
    folder["path"] = "/Shared/mlops/Development"
    assert_fails(docs, "SIM031", "dev", "databricks_permissions.folder", "restricts nothing")


def test_fails_an_experiment_description_the_api_never_accepts(docs: Docs) -> None:
    name, experiment = one(docs["prod"], "databricks_mlflow_experiment")
    experiment["description"] = "Churn model"
    assert_fails(docs, "SIM030", "prod", f"databricks_mlflow_experiment.{name}", "never accepts it")


# --- run time -------------------------------------------------------------------------------------


def test_fails_9_a_job_runner_that_does_not_own_the_registered_model(docs: Docs) -> None:
    _, model = one(docs["prod"], "databricks_registered_model", "marketing_churn_gbm")
    model["owner"] = "mlops-engineers"
    assert_fails(docs, "SIM054", "prod", "task train", "ownership of mlops_prod.models.marketing_churn_gbm")
    assert_fails(docs, "SIM054", "prod", "task promote", "ownership of mlops_prod.models.marketing_churn_gbm")


def test_fails_10_a_monitor_that_may_not_start_the_retrain_job(docs: Docs) -> None:
    _, acl = one(docs["staging"], "databricks_permissions", "risk_fraud_xgb_retrain-job-permissions")
    acl["access_control"] = [a for a in acl["access_control"] if a["permission_level"] != "CAN_MANAGE_RUN"]
    assert_fails(docs, "SIM056", "staging", "risk_fraud_xgb: monitor' task monitor", "no CAN_MANAGE_RUN")


def test_fails_11_dev_jobs_without_run_as_run_as_the_deployer(docs: Docs) -> None:
    for _, job in resources(docs["dev"], "databricks_job"):
        del job["run_as"]
    found = failures(docs)
    deployer = [
        f for f in found if f.stack == "dev" and f.identity == "service principal 'sp-mlops-deployer-dev'"
    ]
    # The deployer owns the schemas, which gives it nothing on the tables in them (ownership page).
    assert any(f.rule == "SIM053" and "read_table mlops_dev.features" in f.operation for f in deployer), found


def test_fails_when_the_job_runner_cannot_read_the_secret_its_cluster_resolves(docs: Docs) -> None:
    name, _acl = one(docs["prod"], "databricks_secret_acl", "job_runner")
    del docs["prod"]["resource"]["databricks_secret_acl"][name]
    assert_fails(docs, "SIM052", "prod", "task monitor", "no READ on secret scope mlops-prod")
