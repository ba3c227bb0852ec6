"""The tables the stacks create and the jobs write, read and keep: their names and contracts, in one place.

Each name is ``(schema, table)`` in the environment's catalog (on Databricks) or under the local root
(``ml_jobs.runtime``); the schemas are the platform's (``mlops_spec.naming.PLATFORM_SCHEMAS``). Writers
and readers, the stacks and the operations the simulator checks all take their names from here.

* The labels contract's columns (``ml_jobs.inference.labels`` documents the contract; the stacks create
  ``<catalog>.inference_logs.<model>_labels`` with exactly these).
* The natural key of every table the jobs write (``*_KEYS``): each write is a ``Runtime.merge_table``
  on it, so a re-run or a concurrent run adds nothing twice.
* The Delta properties that carry a retention (``ml_jobs.inference.retention`` keeps them; the stacks set
  them when they create a table).
"""

from __future__ import annotations

from mlops_spec.config.model_spec import DataSpec
from mlops_spec.naming import FEATURES_SCHEMA, INFERENCE_SCHEMA, MONITORING_SCHEMA

__all__ = [
    "FEATURES_SCHEMA",
    "INFERENCE_SCHEMA",
    "LABEL_TIMESTAMP",
    "MONITORING_SCHEMA",
    "RETENTION_PROPERTIES",
    "champion_moves",
    "contract_columns",
    "drift_metrics",
    "features",
    "inference_log",
    "labels",
    "monitor_state",
    "payload",
    "retention_properties",
    "retrain_decisions",
]

LABEL_TIMESTAMP = "label_timestamp"
RETENTION_PROPERTIES = ("delta.deletedFileRetentionDuration", "delta.logRetentionDuration")


def features(table: str) -> tuple[str, str]:
    """A model's feature table (``data.table`` of its spec)."""
    return FEATURES_SCHEMA, table


def inference_log(model: str) -> tuple[str, str]:
    """Predictions (served, unpacked from the payload; or batch-scored): request_id, timestamp, model name
    and version, features, prediction, score."""
    return INFERENCE_SCHEMA, f"{model}_predictions"


INFERENCE_LOG_KEYS = ("request_id",)


def labels(model: str) -> tuple[str, str]:
    """Late-arriving ground truth, the labels contract (``contract_columns``)."""
    return INFERENCE_SCHEMA, f"{model}_labels"


def payload(model: str) -> tuple[str, str]:
    """The serving endpoint's inference table: Databricks names it ``<table_name_prefix>_payload``."""
    return INFERENCE_SCHEMA, f"{model}_payload"


def drift_metrics(model: str) -> tuple[str, str]:
    return MONITORING_SCHEMA, f"{model}_drift_metrics"


DRIFT_METRICS_KEYS = ("window_start", "granularity", "drift_type", "column", "metric", "model_version")


def monitor_state(model: str) -> tuple[str, str]:
    return MONITORING_SCHEMA, f"{model}_monitor_state"


MONITOR_STATE_KEYS = ("state_id",)


def retrain_decisions(model: str) -> tuple[str, str]:
    return MONITORING_SCHEMA, f"{model}_retrain_decisions"


RETRAIN_DECISIONS_KEYS = ("retrain_id",)


def champion_moves(model: str) -> tuple[str, str]:
    """The ledger of champion moves (``ml_jobs.registry.promotion``): one row per claimed move."""
    return MONITORING_SCHEMA, f"{model}_champion_moves"


CHAMPION_MOVES_KEYS = ("seq",)


def contract_columns(data: DataSpec) -> list[tuple[str, str, str]]:
    """``(column, Spark type, meaning)`` of a model's labels table."""
    return [
        (data.id_column, "string", "the entity the label is about (the model's data.id_column)"),
        (data.label, "bigint", "the outcome, 0 or 1 (the model's data.label)"),
        (LABEL_TIMESTAMP, "timestamp", "when the outcome became known"),
    ]


def retention_properties(days: int) -> dict[str, str]:
    """Removed files and log entries are kept ``days`` for time travel, then VACUUM may delete them."""
    interval = f"interval {int(days)} days"
    return dict.fromkeys(RETENTION_PROPERTIES, interval)
