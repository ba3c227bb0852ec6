"""Approvals that mean something: who approves is the authenticated caller, in the group of the step,
never the one who trained or triggered the version; promotion waits for the whole chain.

One prod version is trained and validated once for the module (as the OS user, the local trainer);
each test then acts as another local user standing for some groups (``MLOPS_LOCAL_GROUPS``), or
as the caller a local SCIM ``Me`` endpoint names (the Databricks path, at its HTTP boundary).
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from mlflow import MlflowClient

from ml_jobs.errors import InfraError, Refused
from ml_jobs.registry import client as reg
from ml_jobs.registry.client import connect
from ml_jobs.registry.promotion import approval_chain, approval_key, approvals_of, approve, promote
from ml_jobs.runtime import Runtime, workspace_principal
from ml_jobs.spec import ResolvedSpec
from ml_jobs.training.train import train_model
from ml_jobs.validation.validate import validate_version
from mlops_spec.config.checks import check_environment
from mlops_spec.config.environment import ApprovalsConfig

from .conftest import as_local_user, local_runtime, spec_for, write_churn
from .jobs_api import ME, FakeJobsApi, serve

WEAK = {"max_iter": 15, "max_leaf_nodes": 4, "learning_rate": 0.1}
CHAIN = ("ml_engineers", "model_owners")
"""The prod chain of these tests (for every tier): an ML engineer, then the model owners."""


@dataclass
class Prod:
    spec: ResolvedSpec
    runtime: Runtime
    client: MlflowClient
    name: str
    version: str

    def groups(self, *roles: str) -> tuple[str, ...]:
        return tuple(self.spec.env.groups[r] for r in roles)

    def approvals(self) -> list[dict]:
        return approvals_of(self.spec, self.client.get_model_version(self.name, self.version))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Prod:
    root: Path = tmp_path_factory.mktemp("approvals")
    base = spec_for("prod")
    spec = replace(base, env=base.env.model_copy(update={"approvals": ApprovalsConfig(chain=CHAIN)}))
    runtime = local_runtime(root, "prod")
    write_churn(runtime, 1500, seed=1, mode="overwrite")
    client = connect(runtime)
    version = train_model(spec, runtime, client, fixed_params=WEAK).version
    assert validate_version(spec, runtime, client).passed
    return Prod(spec, runtime, client, runtime.registered_name(spec.model.name), version)


@pytest.fixture
def prod(trained: Prod) -> Iterator[Prod]:
    """The trained version with no sign-off yet (each test starts from an unsigned version)."""
    yield trained
    mv = trained.client.get_model_version(trained.name, trained.version)
    for key in list(mv.tags):
        if key.startswith(f"{reg.TAG_APPROVAL}_") or key == reg.TAG_RETRAIN:
            trained.client.delete_model_version_tag(trained.name, trained.version, key)


def _as(prod: Prod, monkeypatch: pytest.MonkeyPatch, user: str, *roles: str) -> Runtime:
    monkeypatch.setenv("LOGNAME", user)
    return as_local_user(prod.runtime, user, *prod.groups(*roles))


def test_the_version_records_who_trained_it(prod: Prod) -> None:
    mv = prod.client.get_model_version(prod.name, prod.version)
    assert reg.tag(mv, reg.TAG_TRAINED_BY) == getpass.getuser()


def test_fails_approval_by_whoever_trained_the_version(prod: Prod, monkeypatch: pytest.MonkeyPatch) -> None:
    trainer = _as(prod, monkeypatch, getpass.getuser(), *CHAIN)
    with pytest.raises(Refused, match=r"trained it and may not approve .*\(separation of duties\)"):
        approve(prod.spec, trainer, prod.client, prod.version)
    assert prod.approvals() == []


def test_fails_approval_by_whoever_triggered_the_retraining(
    prod: Prod, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The record retrain writes on the version it trained (``by``: the identity that ran it).
    mv = prod.client.get_model_version(prod.name, prod.version)
    reg.set_record(
        prod.client, mv, reg.TAG_RETRAIN, {"decision": "awaiting_approval", "request": "r1", "by": "frank"}
    )
    with pytest.raises(Refused, match=r"frank triggered its retraining"):
        approve(prod.spec, _as(prod, monkeypatch, "frank", *CHAIN), prod.client, prod.version)
    assert prod.approvals() == []


def test_fails_approval_by_someone_outside_the_steps_group(
    prod: Prod, monkeypatch: pytest.MonkeyPatch
) -> None:
    outsider = _as(prod, monkeypatch, "dana", "analysts", "model_owners")
    with pytest.raises(
        Refused, match=r"dana \(local\) is not a member of ml-engineers \(role ml_engineers\)"
    ):
        approve(prod.spec, outsider, prod.client, prod.version)
    assert prod.approvals() == []


def test_promotion_waits_for_every_step_of_the_chain(prod: Prod, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(Refused, match=r"needs an approval .* step 1 of 2"):
        promote(prod.spec, prod.runtime, prod.client, prod.version, actor="ci")
    approve(prod.spec, _as(prod, monkeypatch, "dana", "ml_engineers"), prod.client, prod.version, "card read")

    with pytest.raises(Refused, match=r"step 2 of 2 .* model_owners \(mlops-model-owners-prod\)"):
        promote(prod.spec, prod.runtime, prod.client, prod.version, actor="ci")
    # dana again (in both groups): the re-run of her sign-off, never step 2 (one person, one step)
    approve(prod.spec, _as(prod, monkeypatch, "dana", *CHAIN), prod.client, prod.version)
    assert [a["by"] for a in prod.approvals()] == ["dana"]
    with pytest.raises(Refused, match=r"erin .* is not a member of mlops-model-owners-prod"):
        approve(prod.spec, _as(prod, monkeypatch, "erin", "ml_engineers"), prod.client, prod.version)

    approve(prod.spec, _as(prod, monkeypatch, "erin", "model_owners"), prod.client, prod.version, "owner ok")
    steps = prod.approvals()
    assert [(a["step"], a["role"], a["by"], a["source"]) for a in steps] == [
        (1, "ml_engineers", "dana", "local"),
        (2, "model_owners", "erin", "local"),
    ]
    mv = prod.client.get_model_version(prod.name, prod.version)
    for step in (1, 2):  # one record per fact, each a valid Unity Catalog tag
        reg.check_tags({approval_key(step): mv.tags[approval_key(step)]})

    move = promote(prod.spec, prod.runtime, prod.client, prod.version, actor="ci")
    assert move.changed and move.champion == prod.version
    card = prod.client.get_model_version(prod.name, prod.version).description
    assert "## Approvals" in card
    assert "| 1 of 2 | ml_engineers (ml-engineers) | dana (local) |" in card
    assert "| 2 of 2 | model_owners (mlops-model-owners-prod) | erin (local) |" in card


def test_a_sign_off_under_another_chain_does_not_count(prod: Prod, monkeypatch: pytest.MonkeyPatch) -> None:
    approve(prod.spec, _as(prod, monkeypatch, "dana", "ml_engineers"), prod.client, prod.version)
    assert len(prod.approvals()) == 1
    owners_first = ApprovalsConfig(chain=("model_owners", "ml_engineers"))
    changed = replace(prod.spec, env=prod.spec.env.model_copy(update={"approvals": owners_first}))
    assert approvals_of(changed, prod.client.get_model_version(prod.name, prod.version)) == []


def test_the_chain_follows_the_versions_risk_tier(prod: Prod) -> None:
    tiers = ApprovalsConfig(chain=("model_owners",), chains={"high": CHAIN})
    spec = replace(prod.spec, env=prod.spec.env.model_copy(update={"approvals": tiers}))
    mv = prod.client.get_model_version(prod.name, prod.version)
    tier = reg.tag(mv, "risk_tier")
    assert tier in ("low", "medium", "high")  # set at training (ml_jobs.explain)
    assert approval_chain(spec, mv) == (CHAIN if tier == "high" else ("model_owners",))
    assert tiers.for_tier("high") == CHAIN and tiers.for_tier("low") == ("model_owners",)
    assert tiers.for_tier(None) == CHAIN  # no tier recorded: the strictest chain


def test_fails_approval_chain_naming_a_role_without_a_group(prod: Prod) -> None:
    env = prod.spec.env.model_copy(update={"approvals": ApprovalsConfig(chain=("compliance",))})
    problems = [p for p in check_environment(env, "stacks/prod.yaml") if p.path[0] == "approvals"]
    assert [str(p).split("; allowed")[0] for p in problems] == [
        "stacks/prod.yaml: approvals.chain[0]: not a group of this environment; got 'compliance'"
    ]


# -- the Databricks path: who is calling is the workspace's answer -------------------------------------
@pytest.fixture
def workspace(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeJobsApi]:
    """A local workspace answering SCIM ``Me``; the SDK finds it through its environment variables.

    Proves: the approval's identity and groups are what ``GET /api/2.0/preview/scim/v2/Me`` answers
    (parsed by the real databricks-sdk), and a workspace that cannot say fails the approval.
    Does not prove: real authentication, service principal answers or nested group membership
    (the SCIM answer lists direct groups only).
    """
    api = FakeJobsApi()
    with serve(api) as w:
        for key in ("DATABRICKS_CONFIG_PROFILE", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET"):
            monkeypatch.delenv(key, raising=False)
        monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "no-databrickscfg"))
        monkeypatch.setenv("DATABRICKS_HOST", w.config.host)
        monkeypatch.setenv("DATABRICKS_TOKEN", "test")
        monkeypatch.setenv("DATABRICKS_AUTH_TYPE", "pat")
        yield api


def _me(user: str, *groups: str) -> dict:
    return {
        "userName": user,
        "displayName": user,
        "groups": [{"display": g, "value": str(i)} for i, g in enumerate(groups)],
    }


def test_workspace_principal_is_the_scim_me_answer(workspace: FakeJobsApi) -> None:
    workspace.me = _me("gina@example.com", "ml-engineers", "analysts")
    me = workspace_principal()
    assert (me.name, me.groups, me.source) == ("gina@example.com", {"ml-engineers", "analysts"}, "databricks")
    assert [path for _, path, _ in workspace.requests if path.startswith("/api/")] == [ME]


def test_fails_when_the_workspace_cannot_say_who_is_calling(workspace: FakeJobsApi) -> None:
    workspace.me = None  # 401: the token is not known
    with pytest.raises(InfraError, match=r"cannot ask the workspace who is calling"):
        workspace_principal()


def test_approval_on_databricks_signs_as_the_workspace_caller(
    prod: Prod, workspace: FakeJobsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    trainer = reg.tag(prod.client.get_model_version(prod.name, prod.version), reg.TAG_TRAINED_BY)
    monkeypatch.setenv("LOGNAME", "someone-else")  # the OS user does not count on Databricks
    on_databricks = replace(prod.runtime, on_databricks=True)  # the registry stays the local one
    workspace.me = _me("gina@example.com", "analysts")
    with pytest.raises(Refused, match=r"gina@example.com \(databricks\) is not a member of ml-engineers"):
        approve(prod.spec, on_databricks, prod.client, prod.version)
    workspace.me = _me(str(trainer), "ml-engineers")  # the trainer, as the workspace names them
    with pytest.raises(Refused, match=r"separation of duties"):
        approve(prod.spec, on_databricks, prod.client, prod.version)
    workspace.me = _me("gina@example.com", "ml-engineers")
    approve(prod.spec, on_databricks, prod.client, prod.version)
    assert [(a["by"], a["source"]) for a in prod.approvals()] == [("gina@example.com", "databricks")]
