"""The ``monitoring:`` section of a model spec: what the monitor job compares and when it alerts.

Every field has a default, so a model that says nothing is still monitored with sensible settings.
The thresholds are on effect sizes (PSI, KS statistic, distances); the p-value threshold applies
after the multiple-testing correction and only confirms an effect-size breach (see
``ml_jobs.monitoring.alerting``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Granularity = Literal["1 hour", "1 day", "1 week"]


class DriftThresholds(BaseModel):
    """A metric breaches when its value is at or above the threshold (p-values: below it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    psi: float = Field(0.2, gt=0, description="Population stability index on reference-quantile bins.")
    ks_statistic: float = Field(0.1, gt=0, le=1, description="Two-sample Kolmogorov-Smirnov statistic.")
    js_distance: float = Field(0.1, gt=0, le=1, description="Jensen-Shannon distance, base 2 (0..1).")
    wasserstein_norm: float = Field(
        0.1, gt=0, description="Wasserstein-1 distance divided by the reference standard deviation."
    )
    p_value: float = Field(
        0.01,
        gt=0,
        lt=1,
        description="Level for KS and chi-square p-values after the multiple-testing correction.",
    )
    tv_distance: float = Field(0.1, gt=0, le=1, description="Total-variation distance of category shares.")
    unseen_share: float = Field(
        0.05, gt=0, le=1, description="Share of rows with categories unseen in the reference."
    )
    null_share_delta: float = Field(0.05, gt=0, le=1, description="Absolute change of the null share.")
    score_psi: float = Field(0.2, gt=0, description="PSI of the predicted score (prediction drift).")


class PerformanceSpec(BaseModel):
    """Realised (labels joined) or estimated (confidence-based) performance per window."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: Literal["roc_auc", "accuracy"] = Field("roc_auc", description="Metric that gates retraining.")
    min_value: float = Field(0.7, ge=0, le=1, description="Breach when the window's metric falls below this.")
    max_drop: float = Field(
        0.05, ge=0, le=1, description="Breach when the metric drops more than this below the reference value."
    )


class MonitoringSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schedule: str = Field("0 0 6 * * ?", description="Quartz cron of the monitor job.")
    granularity: Granularity = Field("1 day", description="Width of a production window.")
    min_samples: int = Field(
        500, ge=1, description="Windows with fewer valid values are 'insufficient data', never drift."
    )
    thresholds: DriftThresholds = Field(DriftThresholds(), description="Per-metric alert thresholds.")
    multiple_testing: Literal["bh", "bonferroni", "none"] = Field(
        "bh", description="Correction of the per-column p-values of one window (bh = Benjamini-Hochberg)."
    )
    drift_share: float = Field(
        0.3, gt=0, le=1, description="Dataset drift when at least this share of features drifted."
    )
    importance_weighted: bool = Field(
        False, description="Weight the drifted share by feature importance instead of counting columns."
    )
    consecutive_windows: int = Field(
        2, ge=1, description="Retrain only after this many consecutive breaching windows."
    )
    cooldown_days: float = Field(7, ge=0, description="No retraining within this many days of the last one.")
    performance: PerformanceSpec = Field(PerformanceSpec(), description="Performance gate.")
    webhook_url: str | None = Field(
        None, pattern=r"^https?://", description="Optional URL that receives a JSON alert (POST)."
    )
    retention_days: int = Field(
        90,
        ge=1,
        le=3650,
        description="Rows of the predictions, labels and payload tables older than this are deleted and "
        "vacuumed (the maintain task); also the Delta retention of their removed files and log.",
    )
    labels_writer: str | None = Field(
        None,
        min_length=1,
        description="Who writes the labels table (the team's label pipeline): a role key of "
        "policies/rbac/roles.yaml, a group key of the environment, or an account principal's name; it gets "
        "SELECT and MODIFY on the table and USE on its catalog and schema. None: the model's owner_group.",
    )
    reference: Literal["training_data", "baseline_window"] = Field(
        "training_data",
        description="Reference: the champion's training data version, or the first production window.",
    )
