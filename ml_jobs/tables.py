"""Names, natural keys and column types of the tables the jobs share, per model: one place, so
writers and readers agree.

Each is ``(schema, table)`` in the environment's catalog (on Databricks) or under the local root.
Every write into them is a ``Runtime.merge_table`` on the key named here, so a re-run or a
concurrent run adds nothing twice. The jobs' own tables have explicit column types: a column that
is null in every row of one batch would otherwise have no type.
"""

from __future__ import annotations

import pyarrow as pa  # type: ignore[import-untyped]  # ships no type information

FEATURES_SCHEMA = "features"
INFERENCE_SCHEMA = "inference_logs"
MONITORING_SCHEMA = "monitoring"


def inference_log(model: str) -> tuple[str, str]:
    """Batch scoring output: request_id, timestamp, model name and version, features, prediction, score."""
    return INFERENCE_SCHEMA, f"{model}_predictions"


INFERENCE_LOG_KEYS = ("request_id",)


def labels(model: str) -> tuple[str, str]:
    """Late-arriving ground truth: request_id, label, label_timestamp."""
    return INFERENCE_SCHEMA, f"{model}_labels"


LABELS_KEYS = ("request_id", "label_timestamp")


def drift_metrics(model: str) -> tuple[str, str]:
    return MONITORING_SCHEMA, f"{model}_drift_metrics"


DRIFT_METRICS_KEYS = ("window_start", "granularity", "drift_type", "column", "metric", "model_version")


def monitor_state(model: str) -> tuple[str, str]:
    return MONITORING_SCHEMA, f"{model}_monitor_state"


MONITOR_STATE_KEYS = ("state_id",)
MONITOR_STATE_SCHEMA = pa.schema(
    [
        ("state_id", pa.string()),
        ("recorded_at", pa.timestamp("us", tz="UTC")),
        ("state", pa.string()),
        ("reason", pa.string()),
    ]
)


def retrain_decisions(model: str) -> tuple[str, str]:
    return MONITORING_SCHEMA, f"{model}_retrain_decisions"


RETRAIN_DECISIONS_KEYS = ("retrain_id",)


def champion_moves(model: str) -> tuple[str, str]:
    """The ledger of champion moves (``ml_jobs.registry.promotion``): one row per claimed move."""
    return MONITORING_SCHEMA, f"{model}_champion_moves"


CHAMPION_MOVES_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("decision", pa.string()),
        ("kind", pa.string()),
        ("from_version", pa.string()),
        ("to_version", pa.string()),
        ("by", pa.string()),
        ("identity", pa.string()),
        ("reason", pa.string()),
        ("at", pa.string()),
        ("token", pa.string()),
    ]
)
