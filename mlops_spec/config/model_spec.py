"""A model declared once (``stacks/models.yaml``), resolved per environment.

The stacks turn it into experiments, registered models, jobs and endpoints; ``ml_jobs`` reads the
very same resolved spec to train, gate, promote and monitor.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Literal

from pydantic import Field, model_validator

from mlops_spec.config.base import Spec
from mlops_spec.config.features import FeaturesSpec
from mlops_spec.config.fleet import Criticality, JobHealthSpec
from mlops_spec.config.monitoring import MonitoringSpec

Algorithm = Literal["hist_gbm", "xgboost"]
GPU_ALGORITHMS: frozenset[str] = frozenset({"xgboost"})
"""Algorithms that train on a GPU when the job runs on the GPU training policy (XGBoost's
``device="cuda"``); scikit-learn's histogram GBM has no GPU path, so a GPU policy would be paid for
and idle (``checks.check_model`` refuses that pairing)."""

MODEL_NAME_PATTERN = r"^[a-z][a-z0-9]*_[a-z][a-z0-9]*_[a-z][a-z0-9]*$"
"""``department_usecase_algorithm``, e.g. ``marketing_churn_gbm``."""


class DataSpec(Spec):
    table: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Training table in the features schema.")
    label: str = Field(description="Binary label column (0/1).")
    id_column: str = Field("customer_id", description="Entity id column.")
    timestamp_column: str = Field("event_ts", description="Event time column; windows are cut on it.")
    numeric_features: tuple[str, ...] = Field(min_length=1, description="Numeric feature columns.")
    categorical_features: tuple[str, ...] = Field((), description="Categorical feature columns.")
    sensitive_attribute: str | None = Field(None, description="Column for the fairness gate.")
    segment_column: str | None = Field(None, description="Column for the per-segment floor gate.")
    training_window_days: int | None = Field(
        None, ge=1, description="Retraining uses the last N days of the table; None = all of it."
    )
    min_training_rows: int = Field(
        1000,
        ge=50,
        description="Fewer rows in the training window: train refuses (exit 2), nothing is registered.",
    )

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric_features + self.categorical_features


class TrainingSpec(Spec):
    schedule: str = Field("0 0 3 ? * MON", description="Quartz cron of the training job.")
    timezone: str = Field("UTC", description="Time zone of the schedule.")
    compute: Literal["cpu", "gpu"] = Field("cpu", description="Training policy: cpu or gpu training.")
    algorithm: Algorithm = Field(
        "hist_gbm", description="hist_gbm (scikit-learn histogram GBM, CPU) or xgboost (GPU on a gpu policy)."
    )
    n_trials: int = Field(20, ge=1, le=500, description="Optuna trials.")
    search_from_champion: bool = Field(
        True, description="The search tries the champion's parameters first (same algorithm only)."
    )
    seed: int = Field(42, description="Seed of the split and of the Optuna sampler.")
    test_size: float = Field(0.2, gt=0.05, lt=0.5, description="Share of rows held out for validation.")
    timeout_seconds: int | None = Field(None, ge=60, description="None = the environment's job timeout.")


class ExplainSpec(Spec):
    """SHAP explanations (tree explainer) of the held-out split, logged with every trained version."""

    shap_sample_size: int = Field(
        500, ge=10, le=100_000, description="Held-out rows explained (seeded sample): bounds the cost."
    )
    top_features: int = Field(
        5, ge=1, le=50, description="Features listed in the model card (global, per segment)."
    )


class ValidationSpec(Spec):
    """Gates a challenger must pass before it may be promoted."""

    min_roc_auc: float = Field(0.70, ge=0.5, le=1.0, description="ROC-AUC floor on the held-out rows.")
    min_f1: float = Field(
        0.2,
        ge=0.0,
        le=1.0,
        description="F1 at the 0.5 threshold; with the non_degenerate gate, refuses a "
        "classifier that predicts one class for everyone.",
    )
    max_regression: float = Field(0.01, ge=0.0, le=0.5, description="Allowed ROC-AUC drop vs champion.")
    segment_min_roc_auc: float | None = Field(0.60, ge=0.5, le=1.0, description="Floor in every segment.")
    max_demographic_parity_diff: float | None = Field(
        0.15,
        ge=0.0,
        le=1.0,
        description="Largest positive-rate gap across data.sensitive_attribute groups; None = no gate.",
    )
    max_latency_ms: float = Field(50.0, gt=0, description="p95 single-row prediction latency budget.")
    max_model_size_mb: float = Field(100.0, gt=0, description="Size budget of the logged model.")


class PromotionSpec(Spec):
    require_approval: bool = Field(
        False,
        description="Promotion waits until the version's approval chain (`approvals` of stacks/<env>.yaml) "
        "is signed; a --set may not switch it off in production.",
    )
    min_improvement: float = Field(
        0.0, ge=0.0, le=0.5, description="Retraining promotes only when the challenger wins by this margin."
    )


class RetrainingSpec(Spec):
    """How ``retrain`` builds and judges a challenger from production data."""

    holdout_days: int = Field(
        2,
        ge=1,
        le=90,
        description="Newest labelled production days kept out of training; both models are compared on them.",
    )
    min_holdout_rows: int = Field(
        200, ge=10, description="Fewer labelled holdout rows: compare on the validation split."
    )


class ServingSpec(Spec):
    enabled: bool = Field(False, description="Create a serving endpoint; `deploy` rolls the champion out.")
    workload_size: Literal["Small", "Medium", "Large"] = Field(
        "Small", description="Workload size of the served model."
    )
    scale_to_zero: bool | None = Field(None, description="None = on outside prod, off in prod.")
    rollout: Literal["canary", "blue_green", "shadow"] = Field(
        "canary", description="How `deploy` moves traffic to a new champion."
    )
    canary_steps: tuple[int, ...] = Field((10, 50, 100), description="Traffic % steps for canary rollouts.")
    rate_limit_per_minute: int = Field(1000, ge=1, description="Calls per minute the endpoint accepts.")
    ready_timeout_seconds: int = Field(
        1200, ge=10, description="How long `deploy` waits for each endpoint update to be ready."
    )

    @model_validator(mode="after")
    def _steps_increase_to_100(self) -> ServingSpec:
        steps = self.canary_steps
        if not steps or steps[-1] != 100 or any(b <= a for a, b in pairwise(steps)):
            raise ValueError(f"canary_steps must increase and end at 100, got {list(steps)}")
        if any(s <= 0 for s in steps):
            raise ValueError(f"canary_steps must be positive percentages, got {list(steps)}")
        return self


class ModelSpec(Spec):
    """A model as one environment sees it (overrides already applied)."""

    name: str = Field(pattern=MODEL_NAME_PATTERN, description="department_usecase_algorithm")
    description: str = Field("", description="Intended use and limits; goes into the model card.")
    owner_group: str = Field(description="Role key of the owning group, e.g. ml_engineers.")
    criticality: Criticality = Field("medium", description="Registered-model tag; how urgent an outage is.")
    data: DataSpec = Field(description="Training data: table, label and features.")
    features: FeaturesSpec | None = Field(
        None, description="Feature tables; None = data.table is written directly (no feature tables)."
    )
    training: TrainingSpec = Field(TrainingSpec(), description="Training job and search.")
    explain: ExplainSpec = Field(ExplainSpec(), description="SHAP explanations in the run and the card.")
    validation: ValidationSpec = Field(ValidationSpec(), description="Gates before promotion.")
    promotion: PromotionSpec = Field(PromotionSpec(), description="How a challenger becomes champion.")
    retraining: RetrainingSpec = Field(RetrainingSpec(), description="How `retrain` judges a challenger.")
    serving: ServingSpec = Field(ServingSpec(), description="Model serving and rollouts.")
    monitoring: MonitoringSpec = Field(MonitoringSpec(), description="Drift and performance monitoring.")
    health: JobHealthSpec = Field(JobHealthSpec(), description="Run-duration warnings of the model's jobs.")

    def scale_to_zero(self, env: str, production: bool | None = None) -> bool:
        """The one place the 'None means computed' rule for scale-to-zero lives: off in production.

        ``production`` is the environment's ``production`` flag. Without it (a caller that knows only the
        name; the platform's deploy job is passed the computed value) the shipped ``prod`` is production.
        """
        if self.serving.scale_to_zero is not None:
            return self.serving.scale_to_zero
        return not (production if production is not None else env == "prod")

    def full_name(self, catalog: str, schema: str = "models") -> str:
        """Three-level Unity Catalog name."""
        return f"{catalog}.{schema}.{self.name}"
