"""Acceptance: the whole flow on embedded defaults (Delta tables + MLflow on SQLite in a temp folder).

One module-scoped fixture runs the story once and records what the registry looked like after each
step; the tests below read that record. Story (dev unless noted):

1. table v0 (1500 rows) -> train a deliberately weak model -> validate -> promote: first champion
2. train again on v0 with the same config: nothing new is registered
3. table v1 (+6000 rows) -> train with the search -> validate -> promote: better, promoted
4. train a crippled model on v1 -> validate fails -> promote refused, aliases unchanged
5. rollback: the first champion serves again
6. prod: train -> validate -> promote refused without approval -> approve -> promote
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import pytest
from mlflow import MlflowClient

from ml_jobs.errors import Refused
from ml_jobs.registry import client as reg
from ml_jobs.registry.client import connect
from ml_jobs.registry.promotion import approval_key, approve, promote, rollback
from ml_jobs.runtime import Runtime
from ml_jobs.spec import ResolvedSpec
from ml_jobs.training.train import TrainResult, train_model
from ml_jobs.validation.validate import ValidationReport, validate_version
from mlops_spec.naming import experiment_path

from .conftest import local_runtime, sign_off, spec_for, write_churn

WEAK = {"max_iter": 15, "max_leaf_nodes": 4, "learning_rate": 0.1}
CRIPPLED = {"max_iter": 3, "max_depth": 1}


@dataclass
class Flow:
    spec: ResolvedSpec
    runtime: Runtime
    client: MlflowClient
    name: str
    steps: dict[str, Any] = field(default_factory=dict)
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)

    def snapshot(self, label: str, name: str | None = None) -> None:
        model = self.client.get_registered_model(name or self.name)
        self.aliases[label] = {alias: str(v) for alias, v in model.aliases.items()}

    def versions(self, name: str | None = None) -> list[str]:
        return sorted(
            str(v.version) for v in self.client.search_model_versions(f"name='{name or self.name}'")
        )


def _refusal(fn, *args, **kwargs) -> Refused:
    with pytest.raises(Refused) as err:
        fn(*args, **kwargs)
    return err.value


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Flow:
    root: Path = tmp_path_factory.mktemp("mlops-local")
    spec, runtime = spec_for("dev"), local_runtime(root, "dev")
    client = connect(runtime)
    f = Flow(spec, runtime, client, runtime.registered_name(spec.model.name))
    s = f.steps

    write_churn(runtime, 1500, seed=1, mode="overwrite")
    s["first"] = train_model(spec, runtime, client, fixed_params=WEAK)
    s["first_report"] = validate_version(spec, runtime, client)
    s["first_promotion"] = promote(spec, runtime, client, actor="alice")
    f.snapshot("after_first")

    s["versions_before_retrain"] = f.versions()
    s["retrain_same"] = train_model(spec, runtime, client, fixed_params=WEAK)
    s["versions_after_retrain"] = f.versions()

    write_churn(runtime, 6000, seed=2)
    s["better"] = train_model(spec, runtime, client)
    s["better_report"] = validate_version(spec, runtime, client)
    s["better_promotion"] = promote(spec, runtime, client, actor="alice")
    f.snapshot("after_better")

    s["worse"] = train_model(spec, runtime, client, fixed_params=CRIPPLED)
    s["worse_report"] = validate_version(spec, runtime, client)
    s["worse_refusal"] = _refusal(promote, spec, runtime, client, actor="alice")
    f.snapshot("after_worse")

    s["rollback"] = rollback(spec, runtime, client, actor="bob")
    f.snapshot("after_rollback")

    prod_spec, prod_runtime = spec_for("prod"), local_runtime(root, "prod")
    prod_name = prod_runtime.registered_name(prod_spec.model.name)
    s["prod"] = train_model(prod_spec, prod_runtime, client, fixed_params=WEAK)
    s["prod_report"] = validate_version(prod_spec, prod_runtime, client)
    s["prod_refusal"] = _refusal(promote, prod_spec, prod_runtime, client, actor="carol")
    f.snapshot("prod_unapproved", prod_name)
    sign_off(prod_spec, prod_runtime, client, s["prod"].version, ["dana", "erin"])
    s["prod_promotion"] = promote(prod_spec, prod_runtime, client, actor="carol")
    f.snapshot("prod_approved", prod_name)
    s["prod_name"] = prod_name
    return f


def test_first_model_passes_gates_and_becomes_champion(flow: Flow) -> None:
    first: TrainResult = flow.steps["first"]
    assert flow.steps["first_report"].passed
    assert flow.aliases["after_first"] == {"champion": first.version}


def test_training_again_on_same_data_and_config_registers_nothing_new(flow: Flow) -> None:
    again: TrainResult = flow.steps["retrain_same"]
    assert again.reused and again.version == flow.steps["first"].version
    assert flow.steps["versions_after_retrain"] == flow.steps["versions_before_retrain"]


def test_better_challenger_is_promoted_and_old_champion_kept_for_rollback(flow: Flow) -> None:
    first, better = flow.steps["first"], flow.steps["better"]
    report: ValidationReport = flow.steps["better_report"]
    assert report.passed and report.champion_version == first.version
    assert (
        report.metrics["roc_auc"] - report.champion_metrics["roc_auc"]
        >= flow.spec.model.promotion.min_improvement
    )
    assert flow.aliases["after_better"] == {"champion": better.version, "previous_champion": first.version}


def test_worse_challenger_fails_gates_and_leaves_aliases_unchanged(flow: Flow) -> None:
    report: ValidationReport = flow.steps["worse_report"]
    failed = {g.name for g in report.failed()}
    assert {"no_regression", "min_roc_auc"} <= failed
    assert "validation status is failed" in str(flow.steps["worse_refusal"])
    worse = flow.steps["worse"].version
    assert flow.aliases["after_worse"] == {**flow.aliases["after_better"], "challenger": worse}


def test_rollback_restores_the_previous_champion_in_one_step(flow: Flow) -> None:
    first, better = flow.steps["first"].version, flow.steps["better"].version
    assert flow.aliases["after_rollback"]["champion"] == first
    assert flow.aliases["after_rollback"]["previous_champion"] == better
    record = reg.record(flow.client.get_model_version(flow.name, first), reg.TAG_ROLLBACK)
    assert record["by"] == "bob" and record["previous_champion"] == better and record["status"] == "done"


def test_prod_promotion_waits_for_an_approval_record(flow: Flow) -> None:
    assert "needs an approval" in str(flow.steps["prod_refusal"])
    version = flow.steps["prod"].version
    assert "champion" not in flow.aliases["prod_unapproved"]
    assert flow.aliases["prod_approved"] == {"champion": version}
    mv = flow.client.get_model_version(flow.steps["prod_name"], version)
    approval, promotion = reg.record(mv, approval_key(1)), reg.record(mv, reg.TAG_PROMOTION)
    assert approval["by"] == "dana" and approval["source"] == "local" and approval["at"]
    assert promotion["by"] == "carol" and promotion["identity"] == getpass.getuser()


def test_lineage_from_model_version_back_to_table_version(flow: Flow) -> None:
    better: TrainResult = flow.steps["better"]
    tags = flow.client.get_model_version(flow.name, better.version).tags
    assert tags[reg.TAG_DATA_TABLE] == "mlops_dev.features.churn_training"
    assert tags[reg.TAG_DATA_VERSION] == "1"
    assert tags[reg.TAG_CONFIG_HASH] and tags[reg.TAG_GIT_COMMIT]
    run = flow.client.get_run(better.run_id)
    assert run.data.tags[reg.TAG_DATA_VERSION] == "1"
    assert run.inputs.dataset_inputs[0].dataset.name == "mlops_dev.features.churn_training@v1"


def test_training_run_has_nested_trials_metrics_and_artifacts(flow: Flow) -> None:
    better: TrainResult = flow.steps["better"]
    run = flow.client.get_run(better.run_id)
    for metric in ("roc_auc", "f1", "precision", "recall", "log_loss", "brier", "ece"):
        assert f"test_{metric}" in run.data.metrics
    children = flow.client.search_runs(
        [run.info.experiment_id], f"tags.mlflow.parentRunId = '{better.run_id}'"
    )
    assert len(children) == flow.spec.model.training.n_trials
    artifacts = {a.path for a in flow.client.list_artifacts(better.run_id, "plots")}
    assert artifacts == {"plots/feature_importance.png", "plots/confusion_matrix.png", "plots/roc_curve.png"}
    model = mlflow.models.get_model_info(f"models:/{flow.name}/{better.version}")
    assert model.signature is not None and model.saved_input_example_info is not None


def test_gate_results_are_tags_and_a_json_artifact_on_the_version(flow: Flow) -> None:
    worse: TrainResult = flow.steps["worse"]
    mv = flow.client.get_model_version(flow.name, worse.version)
    record = reg.record(mv, reg.TAG_VALIDATION)
    assert record["status"] == "failed" and "no_regression" in record["failed"]
    assert record["gates"]["no_regression"] == "failed" and record["gates"]["model_size"] == "passed"
    report = mlflow.artifacts.load_dict(f"runs:/{mv.run_id}/{record['report']}")
    assert report["status"] == "failed"
    assert (
        {g["name"] for g in report["gates"]}
        == set(record["gates"])
        == {
            "min_roc_auc",
            "min_f1",
            "non_degenerate",
            "no_regression",
            "segment_floor",
            "demographic_parity",
            "latency",
            "model_size",
            "signature",
        }
    )


def test_model_card_is_the_version_description(flow: Flow) -> None:
    better: TrainResult = flow.steps["better"]
    card = flow.client.get_model_version(flow.name, better.version).description
    assert card.startswith(f"# Model card: {flow.name} v{better.version}")
    for section in (
        "## Intended use",
        "## Data",
        "## Metrics",
        "## Validation gates",
        "## Promotion",
        "## Limitations",
    ):
        assert section in card
    assert "Delta version **1**" in card


def test_approval_is_refused_for_a_version_that_failed_validation(flow: Flow) -> None:
    worse = flow.steps["worse"].version
    with pytest.raises(Refused, match="validation status is failed"):
        approve(flow.spec, flow.runtime, flow.client, version=worse)
    assert reg.record(flow.client.get_model_version(flow.name, worse), approval_key(1)) is None


def test_promotion_that_loses_the_claim_moves_nothing_and_records_nothing(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Compare-and-set: another actor claims the same move of the champion first; we write nothing."""
    from ml_jobs.registry import promotion as promotion_mod

    first, better = (flow.steps[k].version for k in ("first", "better"))
    assert flow.aliases["after_rollback"]["champion"] == first  # better was validated against first
    before = flow.client.get_model_version(flow.name, better).tags.get(reg.TAG_PROMOTION)
    real_claim = promotion_mod._claim

    def someone_else_first(runtime: Runtime, model: str, claim: promotion_mod.Claim) -> promotion_mod.Claim:
        rival = promotion_mod.Claim(claim.seq, "rival", "promote", first, first, "mallory", "m", "race", "t")
        real_claim(runtime, model, rival)  # the other actor's MERGE commits first
        return real_claim(runtime, model, claim)

    monkeypatch.setattr(promotion_mod, "_claim", someone_else_first)
    with pytest.raises(Refused, match=r"another move of the champion .* won"):
        promote(flow.spec, flow.runtime, flow.client, version=better, actor="eve")
    assert flow.client.get_model_version(flow.name, better).tags.get(reg.TAG_PROMOTION) == before
    aliases = {k: str(v) for k, v in flow.client.get_registered_model(flow.name).aliases.items()}
    assert aliases["champion"] == first
    moves = promotion_mod.ledger(flow.runtime, flow.spec.model.name)
    assert [m.by for m in moves if m.seq == moves[-1].seq] == ["mallory"]


def test_search_and_fit_are_deterministic_for_a_seed(flow: Flow) -> None:
    from ml_jobs.training.pipeline import build_pipeline, features, predict_proba, split
    from ml_jobs.training.search import search

    data = flow.spec.model.data
    frame, _ = flow.runtime.read_table("features", "churn_training", 0)
    train, test = split(frame, data, 0.2, seed=3)
    experiment = flow.client.get_experiment_by_name(experiment_path("dev", flow.spec.model.name))
    results = []
    for _ in range(2):
        with mlflow.start_run(experiment_id=experiment.experiment_id, run_name="determinism-check"):
            results.append(search(train, data, n_trials=2, seed=3))
    assert results[0].best_params == results[1].best_params
    assert results[0].best_cv_roc_auc == results[1].best_cv_roc_auc
    probas = [
        predict_proba(
            build_pipeline(data, results[0].best_params, 3).fit(features(train, data), train[data.label]),
            features(test, data),
        )
        for _ in range(2)
    ]
    assert (probas[0] == probas[1]).all()


def test_fails_midway_through_training_leaves_aliases_and_versions_as_they_were(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    before_aliases = dict(flow.client.get_registered_model(flow.name).aliases)
    before_versions = flow.versions()

    def registry_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("registry went away")

    monkeypatch.setattr(mlflow, "register_model", registry_down)
    with pytest.raises(ConnectionError):
        train_model(flow.spec, flow.runtime, flow.client, fixed_params={"max_iter": 5})
    assert dict(flow.client.get_registered_model(flow.name).aliases) == before_aliases
    assert flow.versions() == before_versions
    failed = flow.client.search_runs(
        [flow.client.get_experiment_by_name(experiment_path("dev", flow.spec.model.name)).experiment_id],
        "attributes.status = 'FAILED'",
    )
    assert failed  # the attempt is visible in the tracking server, marked failed


def test_every_tag_written_by_the_whole_story_is_valid_in_unity_catalog(flow: Flow) -> None:
    for name in (flow.name, flow.steps["prod_name"]):
        for mv in flow.client.search_model_versions(f"name='{name}'"):
            tags = flow.client.get_model_version(name, mv.version).tags
            reg.check_tags(tags, {})  # keys, value lengths, at most 50 per version
            assert not any("." in key for key in tags), tags
