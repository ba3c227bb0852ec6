"""Account config (``stacks/account.yaml``): the shipped file loads and agrees with the environments;
every kind of bad input fails with file, key path, value and what is allowed.

Each failing case copies the shipped config into a temporary folder and breaks one thing.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from mlops_spec.config import ENV_NAMES, ConfigError, load_account, load_platform
from mlops_spec.config.account import DEPLOYMENT_NAME_RULE, GreenfieldWorkspace
from mlops_spec.config.loader import check_platform_against_account

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def stacks(tmp_path: Path) -> Path:
    out = tmp_path / "stacks"
    out.mkdir()
    for name in (*ENV_NAMES, "models", "account"):
        shutil.copy(REPO / "stacks" / f"{name}.yaml", out / f"{name}.yaml")
    return out


def edit(path: Path, change: Callable[[dict], None]) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def edit_account(stacks: Path, change: Callable[[dict], None]) -> None:
    edit(stacks / "account.yaml", change)


def account_error(stacks: Path) -> str:
    with pytest.raises(ConfigError) as exc:
        load_account(stacks)
    return str(exc.value)


def cross_check(stacks: Path, env: str) -> str:
    account = load_account(stacks)
    assert account is not None
    return "\n".join(
        str(p) for p in check_platform_against_account(account, load_platform(env, stacks), stacks)
    )


def test_shipped_account_defines_every_environment_and_agrees_with_it() -> None:
    account = load_account()
    assert account is not None
    assert set(account.workspaces) == set(ENV_NAMES)
    for env in ENV_NAMES:
        platform = load_platform(env)
        assert check_platform_against_account(account, platform) == []
        # The URL the account stack will create is the one the environment file documents.
        assert account.workspace_url(env) == platform.env.workspace.host
        for key, sp in platform.env.service_principals.items():
            assert account.service_principal_name(key, env) == sp.display_name


def test_shipped_prod_workspace_is_private_and_encrypted() -> None:
    account = load_account()
    assert account is not None
    prod = account.workspaces["prod"]
    assert isinstance(prod, GreenfieldWorkspace)
    assert prod.private_link.enabled and not prod.private_link.public_access_enabled
    assert prod.cmk is not None and prod.pricing_tier == "ENTERPRISE"


def test_without_account_file_there_is_no_account_config(stacks: Path) -> None:
    (stacks / "account.yaml").unlink()
    assert load_account(stacks) is None


def test_fails_on_overlapping_subnets_within_a_workspace(stacks: Path) -> None:
    edit_account(
        stacks, lambda d: d["workspaces"]["dev"].update(subnet_cidrs=["10.20.0.0/22", "10.20.2.0/24"])
    )
    msg = account_error(stacks)
    assert (
        "account.yaml: workspaces.dev.subnet_cidrs[1]: overlaps subnet_cidrs[0] (10.20.0.0/22); "
        "got '10.20.2.0/24'; allowed: non-overlapping subnets"
    ) in msg


def test_fails_on_overlapping_subnets_across_workspaces_sharing_a_vpc(stacks: Path) -> None:
    edit_account(
        stacks, lambda d: d["workspaces"]["staging"].update(subnet_cidrs=["10.20.4.0/24", "10.20.12.0/22"])
    )
    msg = account_error(stacks)
    assert "workspaces.staging.subnet_cidrs[0]: overlaps workspaces.dev.subnet_cidrs[1] (10.20.4.0/22)" in msg
    assert "vpc-0a1b2c3d4e5f60001" in msg


def test_same_ranges_in_different_vpcs_do_not_conflict(stacks: Path) -> None:
    def same_ranges_as_dev(d: dict) -> None:
        d["workspaces"]["prod"]["subnet_cidrs"] = d["workspaces"]["dev"]["subnet_cidrs"]

    edit_account(stacks, same_ranges_as_dev)
    account = load_account(stacks)
    assert account is not None
    assert account.workspaces["prod"].subnet_cidrs == account.workspaces["dev"].subnet_cidrs


def test_fails_on_a_subnet_shared_by_two_workspaces(stacks: Path) -> None:
    def reuse(d: dict) -> None:
        d["workspaces"]["staging"]["subnet_ids"][1] = d["workspaces"]["dev"]["subnet_ids"][0]

    edit_account(stacks, reuse)
    assert "workspaces.staging.subnet_ids[1]: already used by workspaces.dev" in account_error(stacks)


@pytest.mark.parametrize(
    ("cidr", "why"),
    [
        ("10.20.0.0/28", "netmask out of range"),
        ("10.20.0.1/24", "not an IPv4 network"),
        ("nope", "not an IPv4"),
    ],
)
def test_fails_on_unusable_subnet_ranges(stacks: Path, cidr: str, why: str) -> None:
    edit_account(stacks, lambda d: d["workspaces"]["dev"].update(subnet_cidrs=[cidr, "10.20.4.0/22"]))
    msg = account_error(stacks)
    assert f"workspaces.dev.subnet_cidrs[0]: {why}" in msg
    assert repr(cidr) in msg


def test_fails_when_cidrs_and_subnet_ids_differ_in_number(stacks: Path) -> None:
    edit_account(stacks, lambda d: d["workspaces"]["dev"]["subnet_cidrs"].append("10.20.16.0/22"))
    assert "workspaces.dev.subnet_cidrs: needs one CIDR per subnet id (2)" in account_error(stacks)


def test_fails_on_a_region_without_metastore(stacks: Path) -> None:
    edit_account(stacks, lambda d: d["workspaces"]["staging"].update(region="us-east-1"))
    assert (
        "account.yaml: workspaces.staging.region: no metastore for this region; got 'us-east-1'; "
        "allowed: eu-west-1"
    ) in account_error(stacks)


@pytest.mark.parametrize("name", ["MLOps-dev", "-mlops-dev", "mlops-dev-", "ab", "mlops_dev", "a" * 31])
def test_fails_on_invalid_deployment_names(stacks: Path, name: str) -> None:
    edit_account(stacks, lambda d: d["workspaces"]["dev"].update(deployment_name=name))
    msg = account_error(stacks)
    assert f"workspaces.dev.deployment_name: not a valid deployment name; got {name!r}" in msg
    assert DEPLOYMENT_NAME_RULE in msg


def test_fails_on_a_deployment_name_used_twice(stacks: Path) -> None:
    edit_account(stacks, lambda d: d["workspaces"]["staging"].update(deployment_name="mlops-dev"))
    assert "workspaces.staging.deployment_name: already used by workspaces.dev" in account_error(stacks)


def test_fails_on_a_brownfield_workspace_without_url(stacks: Path) -> None:
    edit_account(
        stacks,
        lambda d: d["workspaces"].update(
            dev={"mode": "brownfield", "region": "eu-west-1", "workspace_id": "42"}
        ),
    )
    msg = account_error(stacks)
    assert "workspaces.dev.workspace_url: a brownfield workspace needs its URL" in msg
    assert "workspace_id" not in msg


def test_brownfield_errors_name_the_key_not_the_mode(stacks: Path) -> None:
    brownfield = {
        "mode": "brownfield",
        "region": "eu-west-1",
        "workspace_id": "42",
        "workspace_ur": "https://x",
    }
    edit_account(stacks, lambda d: d["workspaces"].update(dev=brownfield))
    msg = account_error(stacks)
    assert "account.yaml: workspaces.dev.workspace_ur: unknown key; got 'workspace_ur'; allowed: " in msg
    assert "workspace_url" in msg and "brownfield." not in msg


def test_fails_on_an_unknown_workspace_mode(stacks: Path) -> None:
    edit_account(stacks, lambda d: d["workspaces"]["dev"].update(mode="imported"))
    msg = account_error(stacks)
    assert "workspaces.dev" in msg and "'greenfield'" in msg and "'brownfield'" in msg


@pytest.mark.parametrize("cloud", ["azure", "gcp"])
def test_fails_with_not_supported_yet_for_other_clouds(stacks: Path, cloud: str) -> None:
    edit_account(stacks, lambda d: d["account"].update(cloud=cloud))
    msg = account_error(stacks)
    assert msg == f"{stacks / 'account.yaml'}: account.cloud: not supported yet; got {cloud!r}; allowed: aws"


def test_fails_when_the_metastore_admin_is_a_person(stacks: Path) -> None:
    edit_account(stacks, lambda d: d["metastores"]["eu-west-1"].update(admin_group="jane@example.com"))
    msg = account_error(stacks)
    assert (
        "metastores.eu-west-1.admin_group: the metastore admin must be an account group, never a person"
        in msg
    )
    assert "allowed: analysts, data_scientists, ml_engineers, mlops_engineers" in msg


def test_fails_when_a_metastore_is_both_created_and_reused(stacks: Path) -> None:
    edit_account(
        stacks,
        lambda d: d["metastores"]["eu-west-1"].update(existing_id="11111111-2222-3333-4444-555555555555"),
    )
    assert (
        "metastores.eu-west-1: set either existing_id (reuse) or name/storage_root (create)"
        in account_error(stacks)
    )


def test_fails_on_private_link_without_endpoints_or_enterprise_tier(stacks: Path) -> None:
    def half_private(d: dict) -> None:
        d["workspaces"]["staging"]["private_link"] = {
            "enabled": True,
            "rest_vpce_id": "vpce-0a1b2c3d4e5f60099",
        }

    edit_account(stacks, half_private)
    msg = account_error(stacks)
    assert "workspaces.staging.private_link.relay_vpce_id: PrivateLink needs both VPC endpoints" in msg
    assert (
        "workspaces.staging.pricing_tier: PrivateLink and customer-managed keys need the Enterprise tier"
        in msg
    )


def test_fails_on_an_unknown_workspace_admin(stacks: Path) -> None:
    edit_account(stacks, lambda d: d["identities"].update(workspace_admins=["admins"]))
    assert "identities.workspace_admins[0]: unknown identity; got 'admins'" in account_error(stacks)


def test_fails_when_environment_group_names_differ_from_the_account(stacks: Path) -> None:
    edit_account(stacks, lambda d: d["identities"]["groups"].update(analysts="analytics"))
    msg = cross_check(stacks, "dev")
    assert "dev.yaml: groups.analysts: differs from identities.groups.analysts in" in msg
    assert "got 'analysts'; allowed: analytics" in msg


def test_fails_when_environment_service_principal_differs_from_the_account(stacks: Path) -> None:
    edit_account(stacks, lambda d: d["identities"]["service_principals"].update(deployer="sp-deploy-{env}"))
    msg = cross_check(stacks, "prod")
    assert "prod.yaml: service_principals.deployer.display_name: differs from" in msg
    assert "got 'sp-mlops-deployer-prod'; allowed: sp-deploy-prod" in msg


def test_fails_when_environment_host_is_not_the_created_workspace(stacks: Path) -> None:
    edit_account(stacks, lambda d: d["workspaces"]["staging"].update(deployment_name="mlops-stg"))
    msg = cross_check(stacks, "staging")
    assert "staging.yaml: workspace.host: does not match workspaces.staging" in msg
    assert "allowed: https://dbc-mlops-stg.cloud.databricks.com" in msg


def test_environment_host_must_be_absent_when_the_url_cannot_be_predicted(stacks: Path) -> None:
    edit_account(stacks, lambda d: d["account"].pop("deployment_prefix"))
    msg = cross_check(stacks, "dev")
    assert "dev.yaml: workspace.host: the account stack creates this workspace" in msg
    edit(stacks / "dev.yaml", lambda d: d.pop("workspace"))
    assert cross_check(stacks, "dev") == ""


def test_fails_on_a_catalog_without_storage_root_when_the_metastore_has_none(stacks: Path) -> None:
    edit(stacks / "staging.yaml", lambda d: d["catalog"].pop("storage_root"))
    assert (
        "staging.yaml: catalog.storage_root: metastore eu-west-1 in stacks/account.yaml has no storage root, "
        "so the catalog needs one"
    ) in cross_check(stacks, "staging").replace(str(stacks), "stacks")


def test_fails_on_a_metastore_grants_workspace_of_another_region(stacks: Path) -> None:
    edit_account(stacks, lambda d: d["metastores"]["eu-west-1"].update(grants_workspace="qa"))
    assert "metastores.eu-west-1.grants_workspace: not a workspace of this region; got 'qa'" in account_error(
        stacks
    )


def test_per_environment_groups_resolve_per_workspace() -> None:
    account = load_account()
    assert account is not None
    assert account.group_name("model_owners", "prod") == "mlops-model-owners-prod"
    assert account.grants_workspace("eu-west-1", ("prod",)) == "dev"  # the first non-prod workspace
