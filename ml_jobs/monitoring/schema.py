"""Column names of the inference log and the labels table (what the scoring job writes)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LogSchema:
    timestamp: str = "timestamp"
    request_id: str = "request_id"
    prediction: str = "prediction"
    score: str = "score"
    label: str = "label"
    label_timestamp: str = "label_timestamp"
    model_version: str = "model_version"
    """The version that served the row: windows are judged against that version's own baselines."""
