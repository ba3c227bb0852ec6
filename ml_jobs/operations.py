"""What each entry point does to the world, declared once, derived from the model spec.

The deployability simulator (``infra.simulate``) checks every declared operation against the privileges
of the job's ``run_as`` identity; ``tests/ml_jobs/test_operations.py`` runs the entry points against a
recording runtime and fails when the code performs an operation its declaration does not list (or the
other way round). Keep this module light: the simulator imports it, and it must not pull in mlflow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from mlops_spec import tables
from mlops_spec.config.features import feature_tables
from mlops_spec.config.model_spec import ModelSpec
from mlops_spec.naming import (
    FLEET_TABLES,
    MODELS_SCHEMA,
    MONITORING_SCHEMA,
    endpoint_name,
    experiment_path,
    job_name,
)
from mlops_spec.operations import (
    LIST_MODELS,
    LOAD_VERSION,
    LOG_RUN,
    MAINTAIN_TABLE,
    READ_TABLE,
    REGISTER_VERSION,
    SET_ALIAS,
    SET_MODEL_TAG,
    SET_VERSION_DESCRIPTION,
    SET_VERSION_TAG,
    START_JOB,
    UPDATE_ENDPOINT,
    VIEW_ENDPOINT,
    WRITE_TABLE,
    Operation,
)

Declaration = Callable[[ModelSpec, str, str], list[Operation]]


def _table(catalog: str, schema_table: tuple[str, str]) -> str:
    return ".".join((catalog, *schema_table))


def _model(catalog: str, model: ModelSpec) -> str:
    return model.full_name(catalog)


def train(model: ModelSpec, env: str, catalog: str) -> list[Operation]:
    name = _model(catalog, model)
    return [
        Operation(READ_TABLE, _table(catalog, tables.features(model.data.table))),
        Operation(LOG_RUN, experiment_path(env, model.name)),
        # Reads the versions: the one its data, config and code already made, the champion's parameters.
        Operation(LOAD_VERSION, name),
        # Also deletes a duplicate version a concurrent twin registered: the same ownership.
        Operation(REGISTER_VERSION, name),
        # A version is registered with its tags (APPLY_TAG).
        Operation(SET_VERSION_TAG, name),
        Operation(SET_ALIAS, name),
    ]


def _ledger(model: ModelSpec, catalog: str) -> list[Operation]:
    """The champion ledger every move of the champion claims first (``ml_jobs.registry.promotion``)."""
    ref = _table(catalog, tables.champion_moves(model.name))
    return [Operation(READ_TABLE, ref), Operation(WRITE_TABLE, ref)]


def validate(model: ModelSpec, env: str, catalog: str) -> list[Operation]:
    name = _model(catalog, model)
    return [
        Operation(LOAD_VERSION, name),
        Operation(READ_TABLE, _table(catalog, tables.features(model.data.table))),
        Operation(LOG_RUN, experiment_path(env, model.name)),
        Operation(SET_VERSION_TAG, name),
        Operation(SET_VERSION_DESCRIPTION, name),  # the model card
    ]


def promote(model: ModelSpec, env: str, catalog: str) -> list[Operation]:
    name = _model(catalog, model)
    return [
        Operation(LOAD_VERSION, name),
        Operation(LOG_RUN, experiment_path(env, model.name)),  # the model card, logged to the version's run
        Operation(SET_VERSION_TAG, name),
        Operation(SET_VERSION_DESCRIPTION, name),
        Operation(SET_ALIAS, name),
        *_ledger(model, catalog),
    ]


def approve(model: ModelSpec, env: str, catalog: str) -> list[Operation]:
    name = _model(catalog, model)
    return [Operation(LOAD_VERSION, name), Operation(SET_VERSION_TAG, name)]


def rollback(model: ModelSpec, env: str, catalog: str) -> list[Operation]:
    return promote(model, env, catalog)  # the same steps: a claimed move of the champion


def monitor(model: ModelSpec, env: str, catalog: str) -> list[Operation]:
    m = model.name
    return [
        Operation(READ_TABLE, _table(catalog, tables.inference_log(m))),
        Operation(READ_TABLE, _table(catalog, tables.labels(m))),
        Operation(READ_TABLE, _table(catalog, tables.monitor_state(m))),
        Operation(READ_TABLE, _table(catalog, tables.features(model.data.table))),
        Operation(LOAD_VERSION, _model(catalog, model)),
        Operation(LOG_RUN, experiment_path(env, m)),
        # Read too: an earlier window's recorded performance, restated when its late labels arrive.
        Operation(READ_TABLE, _table(catalog, tables.drift_metrics(m))),
        Operation(WRITE_TABLE, _table(catalog, tables.drift_metrics(m))),
        Operation(WRITE_TABLE, _table(catalog, tables.monitor_state(m))),
        Operation(START_JOB, job_name(env, m, "retrain")),
        *_feature_reads(model, catalog),  # feature freshness beside drift
    ]


def retrain(model: ModelSpec, env: str, catalog: str) -> list[Operation]:
    m = model.name
    own = [
        Operation(READ_TABLE, _table(catalog, tables.inference_log(m))),
        Operation(READ_TABLE, _table(catalog, tables.labels(m))),
        Operation(READ_TABLE, _table(catalog, tables.retrain_decisions(m))),
        Operation(WRITE_TABLE, _table(catalog, tables.features(model.data.table))),
        Operation(WRITE_TABLE, _table(catalog, tables.retrain_decisions(m))),
        *_ledger(model, catalog),
    ]
    if model.features is not None:  # its labels MERGEd into the label table, the training set rebuilt
        own += [Operation(WRITE_TABLE, _features(model.features.labels, catalog))]
        own += training_set(model, env, catalog)
    # retrain trains, validates and promotes a challenger in-process.
    inner = train(model, env, catalog) + validate(model, env, catalog) + promote(model, env, catalog)
    return sorted(set(own + inner))


def deploy(model: ModelSpec, env: str, catalog: str) -> list[Operation]:
    return [
        Operation(LOAD_VERSION, _model(catalog, model)),
        Operation(UPDATE_ENDPOINT, endpoint_name(env, model.name)),
        Operation(READ_TABLE, _table(catalog, tables.inference_log(model.name))),
    ]


def unpack(model: ModelSpec, env: str, catalog: str) -> list[Operation]:

    m = model.name
    own = [
        Operation(READ_TABLE, _table(catalog, tables.payload(m))),
        Operation(READ_TABLE, _table(catalog, tables.inference_log(m))),
        Operation(WRITE_TABLE, _table(catalog, tables.inference_log(m))),
    ]
    return own + ([Operation(VIEW_ENDPOINT, endpoint_name(env, m))] if model.serving.enabled else [])


def score(model: ModelSpec, env: str, catalog: str) -> list[Operation]:
    m = model.name
    return [
        Operation(LOAD_VERSION, _model(catalog, model)),
        Operation(READ_TABLE, _table(catalog, tables.features(model.data.table))),
        Operation(READ_TABLE, _table(catalog, tables.inference_log(m))),
        Operation(WRITE_TABLE, _table(catalog, tables.inference_log(m))),
    ]


def maintain(model: ModelSpec, env: str, catalog: str) -> list[Operation]:
    from ml_jobs.inference.retention import retained_tables  # light: no Spark at import

    return [Operation(MAINTAIN_TABLE, _table(catalog, (t.schema, t.table))) for t in retained_tables(model)]


def _features(name: str, catalog: str) -> str:
    return _table(catalog, (tables.FEATURES_SCHEMA, name))


def _feature_reads(model: ModelSpec, catalog: str) -> list[Operation]:
    """The feature tables the model reads: its own and the reused ones (by name)."""
    names = [t.name for t in model.features.tables] + list(model.features.reuse) if model.features else []
    return [Operation(READ_TABLE, _features(n, catalog)) for n in names]


def training_set(model: ModelSpec, env: str, catalog: str) -> list[Operation]:
    """``training-set``: the label table (an input: its loader writes it through
    ``ml_jobs.features.job.write_labels``, which adds the CHECK), the feature tables by point-in-time
    lookup, the training table rewritten."""
    features = model.features
    if features is None:
        return []
    return [
        Operation(READ_TABLE, _features(features.labels, catalog)),
        *_feature_reads(model, catalog),
        Operation(WRITE_TABLE, _features(model.data.table, catalog)),
    ]


DECLARATIONS: dict[str, Declaration] = {
    "train": train,
    "validate": validate,
    "promote": promote,
    "approve": approve,
    "rollback": rollback,
    "monitor": monitor,
    "retrain": retrain,
    "deploy": deploy,
    "unpack": unpack,
    "score": score,
    "maintain": maintain,
    "training-set": training_set,
}
"""Entry point (``[project.scripts]`` in pyproject.toml, ``python_wheel_task.entry_point``) -> declaration."""


def declared(entry_point: str, model: ModelSpec, env: str, catalog: str) -> list[Operation]:
    try:
        declaration = DECLARATIONS[entry_point]
    except KeyError:
        raise KeyError(
            f"entry point {entry_point!r} declares no operations; known: {', '.join(DECLARATIONS)}"
        ) from None
    return sorted(set(declaration(model, env, catalog)))


# --- entry points that serve a whole environment (no --model) -------------------------------------

EnvironmentDeclaration = Callable[[Sequence[ModelSpec], str, str], list[Operation]]


def inventory(models: Sequence[ModelSpec], env: str, catalog: str) -> list[Operation]:
    """``ml_jobs.fleet.inventory``: list and read every model of the schema, tag the declared ones, read
    their monitoring and retraining tables and endpoints, rewrite the fleet tables."""
    ops = [Operation(LIST_MODELS, f"{catalog}.{MODELS_SCHEMA}")]
    for model in models:
        ops += [
            Operation(SET_MODEL_TAG, _model(catalog, model)),
            Operation(READ_TABLE, _table(catalog, tables.drift_metrics(model.name))),
            Operation(READ_TABLE, _table(catalog, tables.retrain_decisions(model.name))),
        ]
        if model.serving.enabled:
            ops.append(Operation(VIEW_ENDPOINT, endpoint_name(env, model.name)))
    ops += [Operation(WRITE_TABLE, _table(catalog, (MONITORING_SCHEMA, t))) for t in FLEET_TABLES]
    return ops


def features(models: Sequence[ModelSpec], env: str, catalog: str) -> list[Operation]:
    """``features``: each feature table's source read, the table MERGEd into and, once, its PRIMARY KEY
    TIMESERIES constraint added (ALTER TABLE: ownership). Covers every feature table of the environment:
    a job of one schedule refreshes a subset, under the same identity."""
    ops = []
    for table in feature_tables(models).values():
        ops += [
            Operation(READ_TABLE, _features(table.source, catalog)),
            Operation(WRITE_TABLE, _features(table.name, catalog)),
            Operation(MAINTAIN_TABLE, _features(table.name, catalog)),
        ]
    return ops


ENVIRONMENT_DECLARATIONS: dict[str, EnvironmentDeclaration] = {"inventory": inventory, "features": features}
"""Entry points whose tasks take ``env`` only: their operations cover every model of the environment."""


def declared_for_environment(
    entry_point: str, models: Sequence[ModelSpec], env: str, catalog: str
) -> list[Operation]:
    try:
        declaration = ENVIRONMENT_DECLARATIONS[entry_point]
    except KeyError:
        raise KeyError(
            f"entry point {entry_point!r} declares no environment operations; "
            f"known: {', '.join(ENVIRONMENT_DECLARATIONS)}"
        ) from None
    return sorted(set(declaration(models, env, catalog)))
