"""Train one model version from a table at an explicit Delta version.

Order matters for "a failure leaves the registry as it was": every check (config, data, schema,
tracking server) happens before the MLflow run starts; registration is near the end and the
``challenger`` alias is set last.

Exactly one version per idempotency key (data version + config + code), whatever gets killed or
runs twice: a version is born with its key as a tag (one registry call), and the lowest-numbered
version registered from runs carrying the key is THE version of that key. A run that finds it
reuses it (also when its run was killed before it set the alias: the version is adopted); a run
that registered a second one (a concurrent training of the same key) deletes its own and reports
the first.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient

from ml_jobs.data.schema import check_frame, check_training_rows, training_window
from ml_jobs.errors import BadInput
from ml_jobs.explain import insights as explain
from ml_jobs.registry import client as reg
from ml_jobs.runtime import Runtime, to_pandas
from ml_jobs.serving import model as served_model
from ml_jobs.spec import ResolvedSpec
from ml_jobs.training import algorithms, lineage, parallel
from ml_jobs.training.pipeline import (
    build_pipeline,
    check_params,
    classification_metrics,
    features,
    predict_proba,
    split,
)
from ml_jobs.training.plots import feature_importance, save_plots
from mlops_spec import tables
from mlops_spec.naming import experiment_path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    registered_name: str
    version: str
    run_id: str
    metrics: Mapping[str, float]
    params: Mapping[str, Any]
    data_table: str
    data_version: int
    idempotency_key: str
    reused: bool = False
    """True when an identical training already registered this version (nothing new was created)."""
    extra: Mapping[str, Any] = field(default_factory=dict)


def log_prediction_baseline(held_out_scores: Any) -> None:
    """The version's prediction baseline (its held-out scores and classes) as an artifact of its run:
    the monitor compares the scores this version serves with it (``ml_jobs.monitoring.profile``)."""
    from ml_jobs.monitoring.profile import PREDICTION_PROFILE_ARTIFACT, prediction_profile
    from ml_jobs.training.pipeline import THRESHOLD

    mlflow.log_text(prediction_profile(held_out_scores, THRESHOLD).to_json(), PREDICTION_PROFILE_ARTIFACT)


def load_training_data(
    runtime: Runtime, spec: ResolvedSpec, version: int | None
) -> tuple[pd.DataFrame, int, str]:
    schema, table = tables.features(spec.model.data.table)
    df, resolved = runtime.read_table(schema, table, version)
    return df, resolved, f"{spec.catalog}.{schema}.{table}"


def _versions_of_key(client: MlflowClient, experiment_id: str, name: str, key: str) -> list[Any]:
    """Versions born with ``key`` (any run state: a killed run's version counts), lowest first."""
    runs = client.search_runs(
        [experiment_id], filter_string=f"tags.{reg.TAG_IDEMPOTENCY} = '{key}'", max_results=1000
    )
    versions = reg.versions_of_runs(client, name, [r.info.run_id for r in runs])
    return [mv for mv in versions if (mv.tags or {}).get(reg.TAG_IDEMPOTENCY) == key]


def _canonical(client: MlflowClient, experiment_id: str, name: str, key: str) -> Any | None:
    """THE version of ``key``; later duplicates (a concurrent or killed twin's) are deleted."""
    from mlflow.exceptions import MlflowException

    versions = _versions_of_key(client, experiment_id, name, key)
    if not versions:
        return None
    first, *twins = versions
    protected = set(reg.aliases(client, name).values())
    for twin in twins:
        if str(twin.version) in protected:  # never delete what an alias points at
            continue
        log.warning(
            "deleting v%s of %s: a duplicate of v%s (same idempotency key)", twin.version, name, first.version
        )
        try:
            reg.delete_version(client, name, str(twin.version))
        except MlflowException as exc:  # a concurrent run deleted it first
            if exc.error_code not in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"):
                raise
    return first


def _reused(
    client: MlflowClient, mv: Any, key: str, reused: bool | None = None, request: str | None = None
) -> TrainResult:
    """The result for a version registered before; ``reused`` defaults to "its training finished
    for someone else": a version whose run was killed after registering it, or that an earlier
    attempt of the same retraining ``request`` trained, is this training's own, adopted."""
    run = client.get_run(mv.run_id)
    own = request is not None and run.data.tags.get(reg.RUN_TAG_REQUEST) == request
    if reused is None:
        reused = run.info.status == "FINISHED" and not own
    return TrainResult(
        mv.name,
        str(mv.version),
        mv.run_id,
        {k.removeprefix("test_"): v for k, v in run.data.metrics.items() if k.startswith("test_")},
        {k.removeprefix("best."): v for k, v in run.data.params.items() if k.startswith("best.")},
        str(reg.tag(mv, reg.TAG_DATA_TABLE)),
        int(reg.tag(mv, reg.TAG_DATA_VERSION) or -1),
        key,
        reused=reused,
    )


def _make_challenger(client: MlflowClient, name: str, version: str) -> None:
    """The version is the candidate, unless it already serves (then there is nothing new)."""
    champion = reg.version_by_alias(client, name, reg.CHAMPION)
    if champion is None or str(champion.version) != str(version):
        reg.set_alias(client, name, reg.CHALLENGER, str(version))


def train_model(
    spec: ResolvedSpec,
    runtime: Runtime,
    client: MlflowClient,
    data: Any | None = None,
    data_version: int | None = None,
    data_table: str | None = None,
    fixed_params: Mapping[str, Any] | None = None,
    request: str | None = None,
    sample_rows: int = 0,
) -> TrainResult:
    """Train, log and register a challenger.

    ``data`` (pandas or Spark DataFrame) skips reading the table; then ``data_version`` and
    ``data_table`` must say what it is, so lineage stays true. ``fixed_params`` skips the search.
    ``request`` names the retraining this trains for: a re-run of that request adopts the version
    its killed attempt registered as its own (not "reused").
    ``sample_rows`` > 0 trains on that many rows of the training window (a smoke test of the deployed
    job): the version is registered and tagged ``data_sample_rows`` but never becomes the challenger,
    and its key differs from a whole-table training, which therefore never reuses it.
    """
    model = spec.model
    fixed_params = check_params(fixed_params, model.training.algorithm)
    if data is None:
        frame, data_version, data_table = load_training_data(runtime, spec, data_version)
    else:
        if data_version is None or data_table is None:
            raise ValueError("data given without data_version and data_table: lineage would be unknown")
        frame = to_pandas(data)
    source = f"{data_table}@v{data_version}"
    check_frame(frame, model.data, source)
    frame = training_window(frame, model.data)
    check_training_rows(frame, model.data, f"{source} (training window)")
    if sample_rows < 0:
        raise BadInput(f"sample_rows must be >= 0 (0 = the whole table), got {sample_rows}")
    if sample_rows:
        frame = lineage.sample(frame, sample_rows, model.training.seed)
        source = f"{source} (sample of {len(frame)} rows)"
    train, test = split(frame, model.data, model.training.test_size, model.training.seed)
    check_frame(train, model.data, f"{source} (training split)")
    check_frame(test, model.data, f"{source} (held-out split)")

    name = runtime.registered_name(model.name)
    cfg_hash = lineage.config_hash(model, fixed_params, sample_rows)
    commit = lineage.git_commit()
    key = lineage.idempotency_key(data_table, data_version, cfg_hash, commit)
    exp = reg.experiment(client, runtime, experiment_path(runtime.env, model.name), job_timeout(spec))
    existing = _canonical(client, exp.experiment_id, name, key)
    if existing is not None:
        log.info("same data, config and code as run %s: version %s reused", existing.run_id, existing.version)
        if not sample_rows:
            _make_challenger(client, name, str(existing.version))
        return _reused(client, existing, key, request=request)
    lineage_tags = {
        reg.TAG_DATA_TABLE: data_table,
        reg.TAG_DATA_VERSION: str(data_version),
        reg.TAG_CONFIG_HASH: cfg_hash,
        reg.TAG_GIT_COMMIT: commit,
        reg.TAG_IDEMPOTENCY: key,
    }
    if sample_rows:
        lineage_tags[lineage.TAG_SAMPLE_ROWS] = str(sample_rows)
    # Who trained is version evidence, not lineage: it is added after the idempotency key, so the same
    # data, config and code trained by someone else is still the same version.
    lineage_tags[reg.TAG_TRAINED_BY] = runtime.identity()[:200]
    run_tags = {
        **lineage_tags,
        **lineage.source_tags(commit),
        **reg.override_tags(spec.overrides),
        "env": runtime.env,
        **({reg.RUN_TAG_REQUEST: request} if request else {}),
    }
    with reg.start_run(exp.experiment_id, f"train-{model.name}", run_tags) as run:
        trained = _train_in_run(
            spec, runtime, client, run.info.run_id, name, train, test, frame, lineage_tags, fixed_params
        )
    first = _canonical(client, exp.experiment_id, name, key)
    if first is not None and str(first.version) != trained.version:
        log.warning(
            "a concurrent training registered v%s for the same key first; v%s reused",
            first.version,
            trained.version,
        )
        trained = _reused(client, first, key, reused=True)
    if not sample_rows:  # a sample's model is never a candidate
        _make_challenger(client, name, trained.version)  # last step: it is now a challenger
    return trained


def job_timeout(spec: ResolvedSpec) -> float:
    """Seconds a job of this model may run (the stacks' job timeout); older RUNNING runs are dead."""
    return float(spec.model.training.timeout_seconds or spec.env.jobs.timeout_seconds)


def _train_in_run(
    spec: ResolvedSpec,
    runtime: Runtime,
    client: MlflowClient,
    run_id: str,
    name: str,
    train: pd.DataFrame,
    test: pd.DataFrame,
    frame: pd.DataFrame,
    lineage_tags: dict[str, str],
    fixed_params: Mapping[str, Any] | None,
) -> TrainResult:
    model, data = spec.model, spec.model.data
    seed = model.training.seed
    algorithm, where = model.training.algorithm, algorithms.placement(model.training, runtime.on_databricks)
    table, version = lineage_tags[reg.TAG_DATA_TABLE], lineage_tags[reg.TAG_DATA_VERSION]
    # A Delta version is immutable, so it is the digest: MLflow would otherwise hash every row.
    # mlflow.data sets its constructors at import (setattr from dataset_registry): invisible to a checker.
    dataset = mlflow.data.from_pandas(  # type: ignore[attr-defined]
        frame, source=table, name=f"{table}@v{version}", digest=lineage.stable_hash([table, version], 8)
    )
    mlflow.log_input(dataset, context="training")
    mlflow.log_dict(lineage.training_config(model), "config/training_config.json")
    mlflow.log_params(
        {
            "n_rows_train": len(train),
            "n_rows_test": len(test),
            "seed": seed,
            "n_trials": model.training.n_trials,
            "test_size": model.training.test_size,
            "algorithm": algorithm,
            "device": where.device,
        }
    )
    search_info: dict[str, str | int]
    if fixed_params:
        params, search_info = dict(fixed_params), {"search": "fixed"}
    else:
        start = None
        if model.training.search_from_champion:
            start = parallel.champion_params(client, name, algorithm)
        found, how = parallel.run_search(
            runtime, train, data, model.training.n_trials, seed, algorithm, where, start
        )
        params = found.best_params
        search_info = {"search": how, "trials": found.n_trials, "pruned": found.n_pruned}
        search_info["from_champion"] = "yes" if start else "no"
        mlflow.log_metric("best_cv_roc_auc", found.best_cv_roc_auc)
    mlflow.log_params({f"best.{k}": v for k, v in params.items()})
    mlflow.set_tags({f"search.{k}": str(v) for k, v in search_info.items()})

    x_train, y_train = features(train, data), train[data.label].to_numpy().astype(int)
    x_test, y_test = features(test, data), test[data.label].to_numpy().astype(int)
    # Fitted where the spec says (GPU or CPU), saved to predict on the CPU where it is served.
    fitted = build_pipeline(data, params, seed, algorithm, where).fit(x_train, y_train)
    fitted = algorithms.for_serving(fitted)
    proba = predict_proba(fitted, x_test)
    metrics = classification_metrics(y_test, proba)
    mlflow.log_metrics({f"test_{k}": v for k, v in metrics.items()})
    log_prediction_baseline(proba)
    insights = explain.explain_and_log(model, fitted, train, test, proba)

    importance = feature_importance(fitted, x_test, y_test, seed)
    with tempfile.TemporaryDirectory() as tmp:
        for path in save_plots(fitted, x_test, y_test, proba, importance, Path(tmp)):
            mlflow.log_artifact(str(path), "plots")
    mlflow.log_dict({k: float(v) for k, v in importance.items()}, "feature_importance.json")

    info = served_model.log_scorer(
        fitted,
        x_train.head(5),
        algorithms.impl(algorithm).skops_trusted_types,
        algorithms.pip_requirements(algorithm),
    )
    version_tags = {**lineage_tags, reg.TAG_SOURCE_RUN: run_id, **explain.version_tags(insights)}
    registered = reg.register_version(info.model_uri, name, version_tags)
    version = registered.version
    mlflow.set_tag(reg.RUN_TAG_REGISTERED_VERSION, str(version))
    return TrainResult(
        name,
        str(version),
        run_id,
        metrics,
        params,
        lineage_tags[reg.TAG_DATA_TABLE],
        int(lineage_tags[reg.TAG_DATA_VERSION]),
        lineage_tags[reg.TAG_IDEMPOTENCY],
        extra={"model_uri": info.model_uri, **search_info},
    )
