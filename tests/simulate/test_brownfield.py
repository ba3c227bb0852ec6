"""Brownfield paths: an environment stack deployed into what already exists, described in YAML.

What this proves: with the description in stacks/existing.example.yaml (the setup a team must have done
by hand), the shipped dev stack, synthesized without the account stack, deploys and its jobs can run;
and an account stack that adopts an existing workspace deploys beside it. Missing pieces of that setup
are reported. What it does not prove: that the description matches a real account.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import yaml

from infra.simulate import simulate
from infra.simulate.scenario import load_existing
from infra.simulate.world import World
from mlops_spec.config import ConfigError
from stacks.main import build_app
from tests.conftest import synthesized_docs

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "stacks" / "existing.example.yaml"


def synth(config_dir: Path, out: Path, wheel: Path, envs: list[str]) -> dict[str, dict]:
    build_app(envs, outdir=str(out), config_dir=config_dir, wheel=wheel).synth()
    return synthesized_docs(out)


@pytest.fixture(scope="module")
def standalone(
    tmp_path_factory: pytest.TempPathFactory, platform_wheel: Path
) -> tuple[Path, dict[str, dict]]:
    root = tmp_path_factory.mktemp("standalone")
    config = root / "stacks"
    shutil.copytree(REPO / "stacks", config, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (config / "account.yaml").unlink()
    return config, synth(config, root / "out", platform_wheel, ["dev"])


def description(tmp_path: Path, edit: object = None) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text())
    if callable(edit):
        edit(data)
    path = tmp_path / "existing.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_dev_stack_deploys_into_the_described_account(
    standalone: tuple[Path, dict], tmp_path: Path
) -> None:
    config, docs = standalone
    result = simulate(docs, config_dir=config, existing=EXAMPLE)
    assert result.failures == [], "\n".join(map(str, result.failures))
    assert result.stacks == ["dev"] and result.job_tasks > 0


def test_fails_when_the_job_runner_is_not_a_model_owner(
    standalone: tuple[Path, dict], tmp_path: Path
) -> None:
    def drop_runner(data: dict) -> None:
        owners = next(g for g in data["groups"] if g["name"] == "mlops-model-owners-dev")
        owners["members"] = ["sp-mlops-deployer-dev"]

    config, docs = standalone
    found = simulate(docs, config_dir=config, existing=description(tmp_path, drop_runner)).failures
    assert any(
        f.rule == "SIM054" and "set_alias" in f.operation and "sp-mlops-jobs-dev" in f.identity for f in found
    )


def test_fails_when_nobody_granted_the_deployer_create_catalog(
    standalone: tuple[Path, dict], tmp_path: Path
) -> None:
    def no_grants(data: dict) -> None:
        data["metastores"][0]["grants"] = {}

    config, docs = standalone
    found = simulate(docs, config_dir=config, existing=description(tmp_path, no_grants)).failures
    assert any(f.rule == "SIM011" and f.where.startswith("databricks_catalog.") for f in found), found


def test_fails_without_a_description_of_what_exists(standalone: tuple[Path, dict]) -> None:
    config, docs = standalone
    with pytest.raises(ConfigError, match="need a description of what already exists"):
        simulate(docs, config_dir=config)


def test_fails_on_a_description_naming_an_unknown_principal(tmp_path: Path) -> None:
    def typo(data: dict) -> None:
        data["metastores"][0]["owner"] = "mlops-engineer"

    with pytest.raises(
        ConfigError, match=r"metastores\.mlops-eu-west-1\.owner: unknown principal; got 'mlops-engineer'"
    ):
        load_existing(description(tmp_path, typo))


def test_fails_on_an_unknown_key_in_the_description(tmp_path: Path) -> None:
    def typo(data: dict) -> None:
        data["workspace"] = data.pop("workspaces")

    with pytest.raises(ConfigError, match=r"workspace: .*unknown key|Extra inputs"):
        load_existing(description(tmp_path, typo))


def test_an_account_stack_adopting_an_existing_workspace_deploys(
    tmp_path_factory: pytest.TempPathFactory, platform_wheel: Path
) -> None:
    root = tmp_path_factory.mktemp("brownfield-account")
    config = root / "stacks"
    shutil.copytree(REPO / "stacks", config, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    account = yaml.safe_load((config / "account.yaml").read_text())
    dev_host = yaml.safe_load((config / "dev.yaml").read_text())["workspace"]["host"]
    account["workspaces"]["dev"] = {
        "mode": "brownfield",
        "workspace_url": dev_host,
        "workspace_id": "1234567890123456",
        "region": "eu-west-1",
        "catalog_storage_role_arn": "arn:aws:iam::123456789012:role/databricks-mlops-dev-catalog",
    }
    (config / "account.yaml").write_text(yaml.safe_dump(account))
    docs = synth(config, root / "out", platform_wheel, ["dev"])
    existing = root / "existing.yaml"
    existing.write_text(
        yaml.safe_dump({"workspaces": [{"env": "dev", "url": dev_host, "id": "1234567890123456"}]})
    )
    result = simulate(copy.deepcopy(docs), config_dir=config, existing=existing)
    assert result.failures == [], "\n".join(map(str, result.failures))
    assert result.stacks == ["account", "dev"]
    assert isinstance(load_existing(existing), World)
