"""Model card (jinja2 -> markdown): logged to the training run and set as the version's description."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from mlflow import MlflowClient

from ml_jobs.explain import insights as explain
from ml_jobs.explain.risk import DRIFT_PROBE_STD
from ml_jobs.registry import client as reg
from ml_jobs.spec import ResolvedSpec
from ml_jobs.training.pipeline import THRESHOLD
from ml_jobs.validation.gates import MIN_GROUP_ROWS

_ENV = Environment(
    loader=PackageLoader("ml_jobs.registry", "templates"),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,
)  # markdown, not HTML


def render(
    spec: ResolvedSpec,
    version: Any,
    metrics: Mapping[str, float],
    gates: Sequence[Mapping[str, Any]] = (),
    validation_status: str = "not validated",
    approvals: Sequence[Mapping[str, Any]] = (),
    promotion: Mapping[str, str] | None = None,
    status_line: str = "",
) -> str:
    """``version`` is an MLflow ModelVersion: its tags carry the lineage."""
    m, tags = spec.model, version.tags
    window = f"last {m.data.training_window_days} days" if m.data.training_window_days else "all rows"
    return _ENV.get_template("model_card.md.j2").render(
        name=version.name,
        version=version.version,
        model=m.name,
        env=spec.env.environment,
        status_line=status_line,
        description=m.description,
        owner_group=m.owner_group,
        data_table=reg.tag(version, reg.TAG_DATA_TABLE),
        data_version=reg.tag(version, reg.TAG_DATA_VERSION),
        label=m.data.label,
        features=m.data.features,
        sensitive_attribute=m.data.sensitive_attribute,
        segment_column=m.data.segment_column,
        training_window=window,
        config_hash=tags.get(reg.TAG_CONFIG_HASH),
        git_commit=tags.get(reg.TAG_GIT_COMMIT),
        run_id=version.run_id,
        metrics=metrics,
        gates=list(gates),
        validation_status=validation_status,
        approvals=list(approvals),
        promotion=promotion,
        threshold=THRESHOLD,
        min_group_rows=MIN_GROUP_ROWS,
        algorithm=m.training.algorithm,
        insights=explain.load(version.run_id),
        drift_probe_std=DRIFT_PROBE_STD,
        monitoring=m.monitoring,
    )


def publish(client: MlflowClient, version: Any, card: str) -> None:
    """Log the card next to the model and make it the version's description in the registry UI."""
    reg.log_text(client, version.run_id, card, f"model_card/v{version.version}.md")
    reg.set_description(client, version.name, str(version.version), card)
