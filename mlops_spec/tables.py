"""Facts about Delta tables that the stacks create and the jobs read and keep, in one place.

* The labels contract's columns (``ml_jobs.inference.labels`` documents the contract; the stacks create
  ``<catalog>.inference_logs.<model>_labels`` with exactly these).
* The Delta properties that carry a retention (``ml_jobs.inference.retention`` keeps them; the stacks set
  them when they create a table).
"""

from __future__ import annotations

from mlops_spec.config.model_spec import DataSpec

LABEL_TIMESTAMP = "label_timestamp"
RETENTION_PROPERTIES = ("delta.deletedFileRetentionDuration", "delta.logRetentionDuration")


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
