"""Names of the tables the jobs share, per model: one place, so writers and readers agree.

Each is ``(schema, table)`` in the environment's catalog (on Databricks) or under the local root.
"""

from __future__ import annotations

FEATURES_SCHEMA = "features"
INFERENCE_SCHEMA = "inference_logs"
MONITORING_SCHEMA = "monitoring"


def inference_log(model: str) -> tuple[str, str]:
    """Batch scoring output: request_id, timestamp, model name and version, features, prediction, score."""
    return INFERENCE_SCHEMA, f"{model}_predictions"


def labels(model: str) -> tuple[str, str]:
    """Late-arriving ground truth: request_id, label, label_timestamp."""
    return INFERENCE_SCHEMA, f"{model}_labels"


def drift_metrics(model: str) -> tuple[str, str]:
    return MONITORING_SCHEMA, f"{model}_drift_metrics"


def monitor_state(model: str) -> tuple[str, str]:
    return MONITORING_SCHEMA, f"{model}_monitor_state"


def retrain_decisions(model: str) -> tuple[str, str]:
    return MONITORING_SCHEMA, f"{model}_retrain_decisions"
