"""Which environments are production is data: ``production: true`` in ``stacks/<env>.yaml``.

The shipped config marks ``prod``; these tests mark ``staging`` as well (a production environment that
is not called prod) and check that every place that used to compare the name with "prod" now follows
the flag: the config checks, scale-to-zero, the account stack (undeletable workspace, which workspace
grants metastore privileges), the review's verdict and escalations. The guardrails keep their own
``prod_workspace_envs``; a test holds the two in step for the shipped files.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import yaml

from infra.cdk import Testing as CdktfTesting  # aliased: pytest would try to collect 'Test*'
from infra.guardrails import load_policies
from infra.review import Inputs, diff, load_params
from mlops_spec.config import (
    ACCOUNT_STACK,
    ConfigError,
    load_account,
    load_environment,
    load_models,
    load_platform,
    load_roles,
    production_envs,
)
from stacks.account_stack import AccountStack
from tests.review.docs import base_doc, resources

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def staging_is_production(tmp_path: Path) -> Path:
    """A copy of the shipped stacks/ where staging says ``production: true``."""
    stacks = tmp_path / "stacks"
    shutil.copytree(REPO / "stacks", stacks, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    path = stacks / "staging.yaml"
    data = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**data, "production": True}, sort_keys=False))
    return stacks


def test_the_shipped_config_has_one_production_environment() -> None:
    assert production_envs() == ("prod",)
    assert [load_environment(e).is_prod for e in ("dev", "staging", "prod")] == [False, False, True]


def test_the_guardrails_name_the_same_production_environments() -> None:
    """Two files say it today (the guardrail params are the security team's); they must agree."""
    policies = load_policies(REPO / "policies")
    for env, params in policies.params.items():
        assert tuple(params.prod_workspace_envs) == production_envs(), env


def test_a_differently_named_production_environment_gets_the_production_checks(
    staging_is_production: Path,
) -> None:
    assert production_envs(staging_is_production) == ("staging", "prod")
    assert load_environment("staging", staging_is_production).is_prod
    # The shipped staging has interactive compute and no log volume: allowed outside production only.
    with pytest.raises(ConfigError) as exc:
        load_platform("staging", staging_is_production, REPO / "policies")
    text = str(exc.value)
    assert "staging.yaml: compute.interactive: no all-purpose compute in production" in text
    assert "staging.yaml: logging.cluster_log_volume: production job clusters must deliver logs" in text


def test_scale_to_zero_follows_the_flag_not_the_name() -> None:
    (model, *_) = load_models("staging")
    assert model.serving.scale_to_zero is None  # computed: the rule under test
    assert model.scale_to_zero("staging", production=False) is True
    assert model.scale_to_zero("staging", production=True) is False
    assert model.scale_to_zero("prod") is False and model.scale_to_zero("dev") is True  # name-only callers


def test_the_account_stack_protects_every_production_workspace_and_grants_from_another() -> None:
    account = load_account()
    assert account is not None
    assert account.grants_workspace("eu-west-1", ("prod",)) == "dev"
    assert account.grants_workspace("eu-west-1", ("dev", "prod")) == "staging"
    stack = AccountStack(CdktfTesting.app(), ACCOUNT_STACK, account, load_roles(), ("staging", "prod"))
    doc = yaml.safe_load(CdktfTesting.synth(stack))  # JSON is YAML
    protected = {
        ws["workspace_name"]
        for ws in doc["resource"]["databricks_mws_workspaces"].values()
        if ws.get("lifecycle", {}).get("prevent_destroy")
    }
    assert protected == {"mlops-staging", "mlops-prod"}


def test_the_review_blocks_destroys_and_flags_write_in_any_production_environment() -> None:
    params = load_params(REPO / "policies")
    head = base_doc()
    del resources(head)["databricks_catalog"]  # a protected resource destroyed
    resources(head)["databricks_grants"]["g"]["grant"][0]["privileges"] = ["SELECT", "MODIFY"]
    shipped = diff({"staging": base_doc()}, {"staging": copy.deepcopy(head)}, Inputs(params)).envs[0]
    marked = diff(
        {"staging": base_doc()}, {"staging": head}, Inputs(params, production=("staging", "prod"))
    ).envs[0]
    assert shipped.verdict == "warn" and not shipped.escalations
    assert marked.verdict == "block" and [a.escalation for a in marked.escalations] == ["write on staging"]
