"""The account stack and how the environment stacks depend on it, read from synthesized JSON.

The shipped app (``synth_dir``) has every workspace greenfield: the environment stacks take their
host from the account stack through a cross-stack reference. A second app, built from a copy of the
config with dev brownfield, shows the other path. Nothing here talks to Databricks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

from infra.cdk import Testing as CdktfTesting  # aliased: pytest would try to collect 'Test*'
from infra.cdk import provider_version
from mlops_spec.config import ENV_NAMES, load_account, load_roles, production_envs
from mlops_spec.config.account import AccountConfig, GreenfieldWorkspace
from stacks.account_stack import ACCOUNT_STACK, AccountStack, workspace_name
from stacks.main import build_app, main

REPO = Path(__file__).resolve().parents[2]
REF = re.compile(r"^\$\{(?P<type>[a-z_]+)\.(?P<name>[^.}]+)\.(?P<attr>[a-z_]+)\}$")
REMOTE = re.compile(r"^\$\{data\.terraform_remote_state\.(?P<name>[^.}]+)\.outputs\.(?P<output>[^}]+)\}$")


def load(root: Path, stack: str) -> dict:
    return json.loads((root / "stacks" / stack / "cdk.tf.json").read_text())


def resources(doc: dict, rtype: str) -> dict[str, dict]:
    return doc.get("resource", {}).get(rtype, {})


def target(doc: dict, ref: str, rtype: str) -> dict:
    """The resource of type ``rtype`` that a ``${type.name.attr}`` reference points at."""
    match = REF.match(ref)
    assert match and match["type"] == rtype, ref
    return resources(doc, rtype)[match["name"]]


def ref_name(ref: str) -> str:
    match = REF.match(ref)
    assert match, ref
    return match["name"]


def workspace_key(doc: dict, env: str) -> str:
    (key,) = (
        k
        for k, v in resources(doc, "databricks_mws_workspaces").items()
        if v["workspace_name"] == workspace_name(env)
    )
    return key


@pytest.fixture(scope="module")
def account() -> AccountConfig:
    cfg = load_account()
    assert cfg is not None
    return cfg


@pytest.fixture(scope="module")
def account_doc(synth_dir: Path) -> dict:
    return load(synth_dir, ACCOUNT_STACK)


# -- the account stack ---------------------------------------------------------------------------


def test_account_provider_talks_to_the_account_console_as_a_service_principal(
    account_doc: dict, account: AccountConfig
) -> None:
    account_provider, grants_provider = account_doc["provider"]["databricks"]
    # No auth_type: it comes from the environment (OAuth M2M or GitHub OIDC); explicit settings would win.
    assert account_provider == {"host": account.account.host, "account_id": account.account.account_id}
    # Metastore grants are a workspace API: one aliased provider on a non-prod workspace of the region.
    assert grants_provider["alias"] == "grants_eu_west_1"
    assert ref_name(grants_provider["host"]) == workspace_key(account_doc, "dev")
    assert account_doc["terraform"]["required_providers"]["databricks"]["version"] == provider_version()


def test_one_workspace_per_environment_with_credentials_storage_and_network(
    account_doc: dict, account: AccountConfig
) -> None:
    workspaces = resources(account_doc, "databricks_mws_workspaces")
    assert sorted(w["workspace_name"] for w in workspaces.values()) == sorted(
        workspace_name(e) for e in ENV_NAMES
    )
    for env, cfg in account.workspaces.items():
        assert isinstance(cfg, GreenfieldWorkspace)
        ws = workspaces[workspace_key(account_doc, env)]
        assert ws["deployment_name"] == cfg.deployment_name and ws["aws_region"] == cfg.region
        assert ws["account_id"] == account.account.account_id
        assert ws["custom_tags"]["env"] == env
        credentials = target(account_doc, ws["credentials_id"], "databricks_mws_credentials")
        assert credentials["role_arn"] == cfg.credentials_role_arn
        storage = target(account_doc, ws["storage_configuration_id"], "databricks_mws_storage_configurations")
        assert storage["bucket_name"] == cfg.root_bucket
        network = target(account_doc, ws["network_id"], "databricks_mws_networks")
        assert network["vpc_id"] == cfg.vpc_id
        assert network["subnet_ids"] == list(cfg.subnet_ids)
        assert network["security_group_ids"] == list(cfg.security_group_ids)
        assert "token" not in ws  # no PAT in state: the environment stacks authenticate with OAuth


def test_every_workspace_has_a_metastore_assignment(account_doc: dict, account: AccountConfig) -> None:
    (metastore_key, metastore) = next(iter(resources(account_doc, "databricks_metastore").items()))
    assigned = {
        ref_name(a["workspace_id"]): a
        for a in resources(account_doc, "databricks_metastore_assignment").values()
    }
    for env in account.workspaces:
        assignment = assigned[workspace_key(account_doc, env)]
        assert assignment["metastore_id"] == f"${{databricks_metastore.{metastore_key}.id}}"
    assert len(assigned) == len(account.workspaces)
    assert metastore["region"] == "eu-west-1" and metastore["lifecycle"] == {"prevent_destroy": True}


def test_metastore_admin_is_a_group(account_doc: dict, account: AccountConfig) -> None:
    (metastore,) = resources(account_doc, "databricks_metastore").values()
    owner = target(account_doc, metastore["owner"], "databricks_group")
    admin_key = account.metastores["eu-west-1"].admin_group
    assert owner["display_name"] == account.identities.groups[admin_key]


def test_identities_are_created_once_and_assigned_to_each_workspace(
    account_doc: dict, account: AccountConfig
) -> None:
    groups = resources(account_doc, "databricks_group")
    sps = resources(account_doc, "databricks_service_principal")
    expected_groups = {account.group_name(k, e) for k in account.identities.groups for e in ENV_NAMES}
    assert sorted(g["display_name"] for g in groups.values()) == sorted(expected_groups)
    expected_sps = {
        account.service_principal_name(k, e) for k in account.identities.service_principals for e in ENV_NAMES
    }
    assert {s["display_name"] for s in sps.values()} == expected_sps
    ids = account.identities

    def admins(env: str) -> set[str]:
        return {
            ids.groups[k] if k in ids.groups else account.service_principal_name(k, env)
            for k in ids.workspace_admins
        }

    assignments = resources(account_doc, "databricks_mws_permission_assignment").values()
    metastore_assignments = resources(account_doc, "databricks_metastore_assignment")
    for env in ENV_NAMES:
        ws = workspace_key(account_doc, env)
        mine = [a for a in assignments if ref_name(a["workspace_id"]) == ws]
        by_principal = {}
        for a in mine:
            if a["principal_id"] == "${data.databricks_service_principal.account-admin.id}":
                continue  # the account admin, assigned to grant metastore privileges
            match = REF.match(a["principal_id"])
            principal = (groups if match["type"] == "databricks_group" else sps)[match["name"]]
            by_principal[principal["display_name"]] = a["permissions"]
            # Identity federation needs the metastore assignment first.
            (dep,) = a["depends_on"]
            assert ref_name("${" + dep + ".x}") in metastore_assignments
        env_sps = {account.service_principal_name(k, env) for k in account.identities.service_principals}
        env_groups = {account.group_name(k, env) for k in account.identities.groups}
        assert set(by_principal) == env_groups | env_sps
        for name, permissions in by_principal.items():
            assert permissions == (["ADMIN"] if name in admins(env) else ["USER"]), (env, name)


def test_prod_is_reachable_only_through_private_link_and_uses_its_own_keys(account_doc: dict) -> None:
    prod = resources(account_doc, "databricks_mws_workspaces")[workspace_key(account_doc, "prod")]
    settings = target(
        account_doc, prod["private_access_settings_id"], "databricks_mws_private_access_settings"
    )
    assert settings["public_access_enabled"] is False and settings["private_access_level"] == "ENDPOINT"
    network = target(account_doc, prod["network_id"], "databricks_mws_networks")
    rest = target(account_doc, network["vpc_endpoints"]["rest_api"][0], "databricks_mws_vpc_endpoint")
    relay = target(account_doc, network["vpc_endpoints"]["dataplane_relay"][0], "databricks_mws_vpc_endpoint")
    assert rest["aws_vpc_endpoint_id"] != relay["aws_vpc_endpoint_id"]
    assert settings["allowed_vpc_endpoint_ids"] == network["vpc_endpoints"]["rest_api"]
    key = target(account_doc, prod["storage_customer_managed_key_id"], "databricks_mws_customer_managed_keys")
    assert prod["managed_services_customer_managed_key_id"] == prod["storage_customer_managed_key_id"]
    assert key["aws_key_info"]["key_arn"].startswith("arn:aws:kms:")
    assert prod["lifecycle"] == {"prevent_destroy": True}
    for env in ("dev", "staging"):
        ws = resources(account_doc, "databricks_mws_workspaces")[workspace_key(account_doc, env)]
        assert "private_access_settings_id" not in ws and "lifecycle" not in ws


def test_testing_api_sees_workspace_metastore_and_provider(account: AccountConfig) -> None:
    synth = CdktfTesting.synth(
        AccountStack(CdktfTesting.app(), ACCOUNT_STACK, account, load_roles(), production_envs())
    )
    assert CdktfTesting.to_have_provider_with_properties(
        synth,
        "databricks",
        {"host": "https://accounts.cloud.databricks.com", "account_id": account.account.account_id},
    )
    for env, cfg in account.workspaces.items():
        assert isinstance(cfg, GreenfieldWorkspace)
        assert CdktfTesting.to_have_resource_with_properties(
            synth,
            "databricks_mws_workspaces",
            {"workspace_name": workspace_name(env), "deployment_name": cfg.deployment_name},
        )
        assert CdktfTesting.to_have_resource_with_properties(
            synth, "databricks_mws_storage_configurations", {"bucket_name": cfg.root_bucket}
        )
    assert CdktfTesting.to_have_resource_with_properties(
        synth, "databricks_metastore", {"name": "mlops-eu-west-1", "force_destroy": False}
    )
    assert CdktfTesting.to_have_resource(synth, "databricks_metastore_assignment")
    assert CdktfTesting.to_have_resource_with_properties(
        synth, "databricks_mws_private_access_settings", {"public_access_enabled": False}
    )


# -- environment stacks on top of it ---------------------------------------------------------------


def test_environment_stacks_take_their_host_from_the_account_stack(
    synth_dir: Path, account_doc: dict
) -> None:
    manifest = json.loads((synth_dir / "manifest.json").read_text())
    account_state = account_doc["terraform"]["backend"]["local"]["path"]
    for env in ENV_NAMES:
        doc = load(synth_dir, env)
        (provider,) = doc["provider"]["databricks"]
        remote = REMOTE.match(provider["host"])
        assert remote, provider["host"]
        # The output the reference reads is the account stack's URL of *this* environment's workspace.
        output = account_doc["output"][remote["output"]]
        assert ref_name(output["value"]) == workspace_key(account_doc, env)
        assert output["value"].endswith(".workspace_url}")
        # Read from the account stack's state, wherever that state lives.
        state = doc["data"]["terraform_remote_state"][remote["name"]]
        assert state["backend"] == "local" and state["config"]["path"] == account_state
        assert manifest["stacks"][env]["dependencies"] == [ACCOUNT_STACK]


def test_environment_stacks_look_identities_up_instead_of_creating_them(synth_dir: Path) -> None:
    for env in ENV_NAMES:
        doc = load(synth_dir, env)
        assert not resources(doc, "databricks_group") and not resources(doc, "databricks_service_principal")
        looked_up = {v["display_name"] for v in doc["data"]["databricks_group"].values()}
        assert looked_up == {
            "mlops-engineers",
            "ml-engineers",
            "data-scientists",
            "analysts",
            f"mlops-model-owners-{env}",
        }
        sps = {v["display_name"] for v in doc["data"]["databricks_service_principal"].values()}
        assert sps == {f"sp-mlops-jobs-{env}", f"sp-mlops-deployer-{env}"}


def test_account_state_lives_outside_the_synth_folder(account_doc: dict) -> None:
    # Terraform runs in cdktf.out/stacks/account; `make synth` replaces cdktf.out.
    path = account_doc["terraform"]["backend"]["local"]["path"]
    assert os.path.normpath(f"/repo/cdktf.out/stacks/account/{path}") == "/repo/terraform.account.tfstate"


# -- brownfield, no account file, bad input ---------------------------------------------------------


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    out = tmp_path / "stacks"
    shutil.copytree(REPO / "stacks", out, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return out


def test_brownfield_workspace_comes_from_config(
    config_dir: Path, platform_wheel: Path, tmp_path: Path
) -> None:
    dev_host = yaml.safe_load((config_dir / "dev.yaml").read_text())["workspace"]["host"]
    account = yaml.safe_load((config_dir / "account.yaml").read_text())
    account["workspaces"]["dev"] = {
        "mode": "brownfield",
        "workspace_url": dev_host,
        "workspace_id": "1234567890123456",
        "region": "eu-west-1",
        "catalog_storage_role_arn": "arn:aws:iam::123456789012:role/databricks-mlops-dev-catalog",
    }
    (config_dir / "account.yaml").write_text(yaml.safe_dump(account))
    out = tmp_path / "out"
    build_app(["dev"], outdir=str(out), config_dir=config_dir, wheel=platform_wheel).synth()

    dev, acct = load(out, "dev"), load(out, ACCOUNT_STACK)
    assert dev["provider"]["databricks"] == [{"host": dev_host}]
    # The host is configured; the catalog's storage credential still comes from the account stack.
    (location,) = resources(dev, "databricks_external_location").values()
    assert REMOTE.match(location["credential_name"])
    assert "databricks_group" in dev["data"]  # still federated: the account stack assigns them
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stacks"]["dev"]["dependencies"] == [ACCOUNT_STACK]
    # The account stack keeps every workspace although only dev was selected; dev is not created.
    names = sorted(w["workspace_name"] for w in resources(acct, "databricks_mws_workspaces").values())
    assert names == ["mlops-prod", "mlops-staging"]
    ids = [a["workspace_id"] for a in resources(acct, "databricks_metastore_assignment").values()]
    assert 1234567890123456 in ids
    dev_assignments = [
        a
        for a in resources(acct, "databricks_mws_permission_assignment").values()
        if a["workspace_id"] == 1234567890123456
    ]
    # Every group and service principal of dev, and the account admin (dev grants metastore privileges).
    assert (
        len(dev_assignments)
        == len(account["identities"]["groups"]) + len(account["identities"]["service_principals"]) + 1
    )


def test_without_account_file_environment_stacks_stand_alone(
    config_dir: Path, platform_wheel: Path, tmp_path: Path
) -> None:
    (config_dir / "account.yaml").unlink()
    out = tmp_path / "out"
    build_app(["dev"], outdir=str(out), config_dir=config_dir, wheel=platform_wheel).synth()
    assert [p.name for p in (out / "stacks").iterdir()] == ["dev"]
    dev = load(out, "dev")
    assert dev["provider"]["databricks"][0]["host"].startswith("https://")
    # Identities belong to the account even without the account stack: a group created through the
    # workspace API would be workspace-local, which Unity Catalog refuses (sql-ref-principal).
    assert not resources(dev, "databricks_group") and not resources(dev, "databricks_service_principal")
    assert "databricks_group" in dev["data"]


def test_fails_with_exit_2_and_writes_nothing_on_bad_account_config(
    config_dir: Path, platform_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    account = yaml.safe_load((config_dir / "account.yaml").read_text())
    account["workspaces"]["staging"]["subnet_cidrs"] = ["10.20.0.0/24", "10.20.12.0/22"]
    account["workspaces"]["prod"]["deployment_name"] = "MLOps_Prod"
    (config_dir / "account.yaml").write_text(yaml.safe_dump(account))
    out = tmp_path / "out"
    code = main(["--outdir", str(out), "--config-dir", str(config_dir), "--wheel", str(platform_wheel)])
    assert code == 2
    assert not out.exists()
    err = capsys.readouterr().err
    assert "nothing was synthesized" in err
    assert "workspaces.prod.deployment_name: not a valid deployment name; got 'MLOps_Prod'" in err
    assert "workspaces.staging.subnet_cidrs[0]: overlaps workspaces.dev.subnet_cidrs[0] (10.20.0.0/22)" in err
