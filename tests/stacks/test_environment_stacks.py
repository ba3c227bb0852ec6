"""What each environment stack creates, read from the synthesized Terraform JSON.

The app is synthesized once per run (``synth_dir``); the Testing API checks use one extra stack
per module. Nothing here runs Terraform: the provider cannot be installed on this machine, so these
tests stop at the JSON that ``cdktf deploy`` would hand to Terraform.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path

import pytest

from infra.cdk import Testing as CdktfTesting  # aliased: pytest would try to collect 'Test*'
from infra.cdk import provider_version
from mlops_spec.config import ENV_NAMES, load_platform
from mlops_spec.naming import endpoint_name, folder_path
from stacks.environment_stack import EnvironmentStack

REF = re.compile(r"^\$\{(?P<data>data\.)?(?P<type>[a-z_]+)\.(?P<name>[^.}]+)\.(?P<attr>[a-z_]+)\}$")


def load(synth_dir: Path, env: str) -> dict:
    return json.loads((synth_dir / "stacks" / env / "cdk.tf.json").read_text())


def resources(doc: dict, rtype: str) -> dict[str, dict]:
    return doc.get("resource", {}).get(rtype, {})


def one(doc: dict, rtype: str) -> dict:
    (value,) = resources(doc, rtype).values()
    return value


def resolve(doc: dict, value: str) -> object:
    """``${type.name.attr}`` -> that attribute of the referenced resource or data source when set."""
    ref = REF.match(value)
    if not ref:
        return value
    section = doc.get("data", {}) if ref["data"] else doc.get("resource", {})
    found = section[ref["type"]][ref["name"]].get(ref["attr"], value)
    return resolve(doc, found) if isinstance(found, str) and found != value else found


def principal(doc: dict, value: str) -> str:
    """A principal reference -> the looked-up group's display name or service principal's display name."""
    ref = REF.match(value)
    assert ref and ref["data"], f"principals are named by reference to their lookup: {value}"
    return doc["data"][ref["type"]][ref["name"]]["display_name"]


@pytest.fixture(scope="module")
def stacks(synth_dir: Path) -> dict[str, dict]:
    return {env: load(synth_dir, env) for env in ENV_NAMES}


@pytest.fixture(scope="module")
def dev_stack_json(platform_wheel: Path) -> str:
    """One stack through cdktf's Testing API, as its docs recommend for unit tests."""
    app = CdktfTesting.app()
    stack = EnvironmentStack(app, "dev", load_platform("dev"), platform_wheel)
    return CdktfTesting.synth(stack)


def test_every_environment_is_synthesized(synth_dir: Path) -> None:
    # The account stack (workspaces, metastore, identities) is synthesized alongside: stacks/account.yaml.
    assert sorted(p.name for p in (synth_dir / "stacks").iterdir()) == sorted([*ENV_NAMES, "account"])


def test_provider_is_pinned_to_the_version_the_binding_was_generated_for(stacks: dict[str, dict]) -> None:
    # 1.99.0 with cdktf's binding, 1.138.0 with CDK Terrain's: derived from the installed binding.
    for doc in stacks.values():
        provider = doc["terraform"]["required_providers"]["databricks"]
        assert provider == {"source": "databricks/databricks", "version": provider_version()}


def test_testing_api_sees_the_hardened_workspace(dev_stack_json: str) -> None:
    assert CdktfTesting.to_have_resource(dev_stack_json, "databricks_workspace_conf")
    assert CdktfTesting.to_have_resource_with_properties(
        dev_stack_json,
        "databricks_workspace_conf",
        {"custom_config": {"enforceUserIsolation": "true", "enableVerboseAuditLogs": "true"}},
    )
    assert CdktfTesting.to_have_resource_with_properties(
        dev_stack_json, "databricks_directory", {"path": folder_path("dev")}
    )
    assert not CdktfTesting.to_have_resource(dev_stack_json, "databricks_secret")


def test_every_job_cluster_references_a_policy_of_its_stack(stacks: dict[str, dict]) -> None:
    for env, doc in stacks.items():
        policies = resources(doc, "databricks_cluster_policy")
        for name, job in resources(doc, "databricks_job").items():
            for cluster in job["job_cluster"]:
                ref = REF.match(cluster["new_cluster"]["policy_id"])
                assert ref and ref["type"] == "databricks_cluster_policy", (env, name)
                assert ref["name"] in policies
                assert cluster["new_cluster"]["data_security_mode"] == "SINGLE_USER"


def test_job_clusters_stay_inside_their_policy(stacks: dict[str, dict]) -> None:
    for doc in stacks.values():
        policies = {
            k: json.loads(v["definition"]) for k, v in resources(doc, "databricks_cluster_policy").items()
        }
        for job in resources(doc, "databricks_job").values():
            cluster = job["job_cluster"][0]["new_cluster"]
            policy = policies[REF.match(cluster["policy_id"])["name"]]
            assert cluster["node_type_id"] in policy["node_type_id"]["values"]
            assert cluster["spark_version"] == policy["spark_version"]["value"]
            if "num_workers" in policy:  # training: single node, exactly as the policy fixes it
                assert cluster["num_workers"] == policy["num_workers"]["value"] == 0
                profile = policy["spark_conf.spark.databricks.cluster.profile"]["value"]
                assert cluster["spark_conf"]["spark.databricks.cluster.profile"] == profile
                assert cluster["custom_tags"]["ResourceClass"] == "SingleNode" and "autoscale" not in cluster
            else:
                assert cluster["autoscale"]["max_workers"] <= policy["autoscale.max_workers"]["maxValue"]
            for tag in ("team", "cost_center", "env"):
                assert cluster["custom_tags"][tag] == policy[f"custom_tags.{tag}"]["value"]


def test_policies_match_the_profiles(stacks: dict[str, dict]) -> None:
    for env, doc in stacks.items():
        compute = load_platform(env).env.compute
        by_name = {
            v["name"]: json.loads(v["definition"])
            for v in resources(doc, "databricks_cluster_policy").values()
        }
        expected = {f"mlops-{env}-{p.replace('_', '-')}" for p in compute.profiles()}
        assert set(by_name) == expected
        gpu = by_name[f"mlops-{env}-gpu-training"]
        assert gpu["cluster_type"] == {"type": "fixed", "value": "job"}
        assert all(n.startswith("g") for n in gpu["node_type_id"]["values"])
        assert "gpu-ml" in gpu["spark_version"]["value"]
        for definition in by_name.values():
            assert definition["dbus_per_hour"]["type"] == "range"
            assert set(definition["data_security_mode"]["values"]) <= {"SINGLE_USER", "USER_ISOLATION"}
            assert definition["ssh_public_keys.*"]["type"] == "forbidden"


def test_interactive_policy_fixes_autotermination(stacks: dict[str, dict]) -> None:
    doc = stacks["dev"]
    policy = next(
        json.loads(v["definition"])
        for v in resources(doc, "databricks_cluster_policy").values()
        if v["name"] == "mlops-dev-interactive"
    )
    assert policy["autotermination_minutes"] == {"type": "fixed", "value": 30, "hidden": True}
    assert policy["cluster_type"]["value"] == "all-purpose"


def expected_catalog_grants(env: str) -> dict[str, list[str]]:
    """Display name -> privileges, from the role matrix."""
    platform = load_platform(env)
    expected = {}
    for role, spec in platform.roles.roles.items():
        privileges = spec.catalog.for_env(env)
        if privileges:
            name = platform.env.groups.get(role) or platform.env.service_principals[role].display_name
            expected[name] = sorted(privileges)
    return expected


@pytest.mark.parametrize("env", ENV_NAMES)
def test_catalog_grants_equal_the_role_matrix(stacks: dict[str, dict], env: str) -> None:
    doc = stacks[env]
    catalog_grants = next(g for g in resources(doc, "databricks_grants").values() if "catalog" in g)
    actual = {principal(doc, g["principal"]): g["privileges"] for g in catalog_grants["grant"]}
    assert actual == expected_catalog_grants(env)


def test_data_scientists_write_in_dev_and_only_read_in_prod(stacks: dict[str, dict]) -> None:
    def privileges(env: str) -> set[str]:
        grants = next(g for g in resources(stacks[env], "databricks_grants").values() if "catalog" in g)
        return next(
            set(g["privileges"])
            for g in grants["grant"]
            if principal(stacks[env], g["principal"]) == "data-scientists"
        )

    assert {"MODIFY", "CREATE_TABLE"} <= privileges("dev")
    assert privileges("prod") == {"USE_CATALOG", "USE_SCHEMA", "SELECT", "BROWSE"}


def test_prod_differs_from_dev_where_it_must(stacks: dict[str, dict]) -> None:
    dev, prod = stacks["dev"], stacks["prod"]
    dev_conf, prod_conf = (
        one(dev, "databricks_workspace_conf")["custom_config"],
        one(prod, "databricks_workspace_conf")["custom_config"],
    )
    assert dev_conf["enableResultsDownloading"] == "true" and prod_conf["enableResultsDownloading"] == "false"
    assert (
        prod_conf["enableExportNotebook"] == "false" and prod_conf["enableNotebookTableClipboard"] == "false"
    )
    assert prod_conf["enableIpAccessLists"] == "true" and dev_conf["enableIpAccessLists"] == "false"
    assert int(prod_conf["maxTokenLifetimeDays"]) <= 7
    assert len(resources(prod, "databricks_ip_access_list")) == 2 and not resources(
        dev, "databricks_ip_access_list"
    )
    assert not any(
        v["name"].endswith("interactive") for v in resources(prod, "databricks_cluster_policy").values()
    )
    for job in [*resources(prod, "databricks_job").values(), *resources(dev, "databricks_job").values()]:
        assert REF.match(job["run_as"]["service_principal_name"])["type"] == "databricks_service_principal"
    for job in resources(prod, "databricks_job").values():
        assert job["job_cluster"][0]["new_cluster"]["cluster_log_conf"]["volumes"]["destination"].startswith(
            "/Volumes/"
        )
        assert job.get("schedule", {}).get("pause_status", "UNPAUSED") == "UNPAUSED"
    for rtype in (
        "databricks_catalog",
        "databricks_schema",
        "databricks_registered_model",
        "databricks_model_serving",
    ):
        assert all(r["lifecycle"]["prevent_destroy"] for r in resources(prod, rtype).values()), rtype
        assert not any(
            r.get("lifecycle", {}).get("prevent_destroy") for r in resources(dev, rtype).values()
        ), rtype


def test_each_model_gets_experiment_registered_model_and_three_jobs(stacks: dict[str, dict]) -> None:
    for env, doc in stacks.items():
        platform = load_platform(env)
        jobs = {v["name"]: v for v in resources(doc, "databricks_job").values()}
        for model in platform.models:
            assert any(
                v["name"] == model.name and resolve(doc, v["catalog_name"]) == platform.env.catalog.name
                for v in resources(doc, "databricks_registered_model").values()
            )
            assert any(
                v["name"].endswith(f"/{model.name}")
                for v in resources(doc, "databricks_mlflow_experiment").values()
            )
            train, monitor, retrain = (
                jobs[f"[{env}] {model.name}: {p}"] for p in ("train", "monitor", "retrain")
            )
            # With feature tables the training set is built first (tests/stacks/test_feature_stack.py).
            keys = [t["task_key"] for t in train["task"] if t["task_key"] != "training-set"]
            assert keys[:3] == ["train", "validate", "promote"]
            assert train["schedule"]["quartz_cron_expression"] == model.training.schedule
            assert monitor["schedule"]["quartz_cron_expression"] == model.monitoring.schedule
            assert retrain["max_concurrent_runs"] == 1 and "schedule" not in retrain
            for job in (train, monitor, retrain):
                assert job["timeout_seconds"] > 0
                assert job["email_notifications"]["on_failure"]
                assert {"team", "cost_center", "env", "model"} <= set(job["tags"])
                for task in job["task"]:
                    # By reference: the job waits for the upload (create_before_destroy orders it).
                    assert REF.match(task["library"][0]["whl"])["type"] == "databricks_file"
                    assert task["python_wheel_task"]["package_name"] == "dbx_mlops_platform"
                    assert task["python_wheel_task"]["named_parameters"]["model"] == model.name


def test_wheel_is_shipped_by_the_same_stack(stacks: dict[str, dict]) -> None:
    for doc in stacks.values():
        ((file_key, wheel_file),) = resources(doc, "databricks_file").items()
        whl = {t["library"][0]["whl"] for j in resources(doc, "databricks_job").values() for t in j["task"]}
        assert whl == {f"${{databricks_file.{file_key}.path}}"}
        volume = REF.match(wheel_file["path"].split("}")[0] + "}")
        assert volume["type"] == "databricks_volume" and volume["attr"] == "volume_path"
        assert wheel_file["source"].startswith("assets/")
        assert wheel_file["lifecycle"] == {"create_before_destroy": True}


def test_serving_endpoint_survives_first_deploy_and_promotions(stacks: dict[str, dict]) -> None:
    for env, doc in stacks.items():
        endpoints = resources(doc, "databricks_model_serving")
        assert [e["name"] for e in endpoints.values()] == [endpoint_name(env, "marketing_churn_gbm")]
        endpoint = next(iter(endpoints.values()))
        assert "config" not in endpoint  # no model version needed on the first deploy
        assert endpoint["lifecycle"]["ignore_changes"] == ["config"]  # the deploy job owns versions
        table = endpoint["ai_gateway"]["inference_table_config"]
        assert table["enabled"] and resolve(doc, table["schema_name"]) == "inference_logs"
        assert REF.match(table["catalog_name"])["type"] == "databricks_schema"
        assert endpoint["ai_gateway"]["rate_limits"][0]["renewal_period"] == "minute"
        deploy = next(
            t
            for j in resources(doc, "databricks_job").values()
            for t in j["task"]
            if t["task_key"] == "deploy"
        )
        assert deploy["python_wheel_task"]["named_parameters"]["scale_to_zero"] == (
            "false" if env == "prod" else "true"
        )


def test_secret_scopes_have_acls_and_no_values(stacks: dict[str, dict], synth_dir: Path) -> None:
    for env, doc in stacks.items():
        acls = resources(doc, "databricks_secret_acl").values()
        levels = {a["permission"] for a in acls}
        assert levels == {"READ", "MANAGE"}
        manage = next(a for a in acls if a["permission"] == "MANAGE")["principal"]
        assert principal(doc, manage) == "mlops-engineers"
        assert not resources(doc, "databricks_secret")
        text = (synth_dir / "stacks" / env / "cdk.tf.json").read_text()
        assert "string_value" not in text and "dapi" not in text


def test_uc_securables_are_owned_by_the_deployer_and_models_by_the_model_owner_group(
    stacks: dict[str, dict],
) -> None:
    for env, doc in stacks.items():
        for rtype in (
            "databricks_catalog",
            "databricks_schema",
            "databricks_volume",
            "databricks_external_location",
        ):
            owners = {principal(doc, r["owner"]) for r in resources(doc, rtype).values()}
            assert owners == {f"sp-mlops-deployer-{env}"}, rtype
        owners = {principal(doc, r["owner"]) for r in resources(doc, "databricks_registered_model").values()}
        assert owners == {f"mlops-model-owners-{env}"}


def test_local_state_backend_by_default(stacks: dict[str, dict]) -> None:
    for env, doc in stacks.items():
        path = doc["terraform"]["backend"]["local"]["path"]
        # Terraform runs in cdktf.out/stacks/<env>; synth replaces cdktf.out, so state lives in the root.
        assert os.path.normpath(f"/repo/cdktf.out/stacks/{env}/{path}") == f"/repo/terraform.{env}.tfstate"


def test_jobs_run_as_the_configured_service_principal_role(platform_wheel: Path) -> None:
    """``jobs.run_as: deployer`` is honoured, not replaced by the job runner (a reviewer then sees it)."""
    platform = load_platform("staging")
    env = platform.env.model_copy(
        update={"jobs": platform.env.jobs.model_copy(update={"run_as": "deployer"})}
    )
    stack = EnvironmentStack(
        CdktfTesting.app(), "staging", dataclasses.replace(platform, env=env), platform_wheel
    )
    doc = json.loads(CdktfTesting.synth(stack))
    for job in resources(doc, "databricks_job").values():
        ref = REF.match(job["run_as"]["service_principal_name"])
        assert doc["data"][ref["type"]][ref["name"]]["display_name"] == "sp-mlops-deployer-staging"
