"""Validate a registered version (default: the ``challenger`` alias) against the spec's gates.

The challenger and the current champion are scored on the same held-out rows: the split of the
table version the challenger was trained on. The report (every gate, the metrics) is logged as
``validation/v<N>/<stamp>.json`` in the training run; then ONE tag, ``validation``, records the
outcome as JSON (status, each gate's status, the champion compared with, the gate settings' hash,
the report's path). One tag is one call: a validation killed midway leaves the previous record
whole, never a status beside gates of another attempt, and ``promote`` reads only this tag.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion

from ml_jobs.data.schema import check_frame, training_window
from ml_jobs.errors import BadInput, NoCandidate
from ml_jobs.registry import client as reg
from ml_jobs.registry import model_card
from ml_jobs.runtime import Runtime
from ml_jobs.serving import model as served_model
from ml_jobs.spec import ResolvedSpec
from ml_jobs.training.lineage import stable_hash
from ml_jobs.training.pipeline import classification_metrics, features, predict_proba, split
from ml_jobs.validation import gates as g

CURRENT_CHAMPION = "current"
"""``validate_version(against=...)`` default: compare with whatever the ``champion`` alias names now."""

LATENCY_SAMPLES = 20
LATENCY_ROUNDS = 3


@dataclass(frozen=True)
class ValidationReport:
    registered_name: str
    version: str
    metrics: Mapping[str, float]
    gates: tuple[g.GateResult, ...]
    champion_version: str | None = None
    champion_metrics: Mapping[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not any(gate.blocks for gate in self.gates)

    @property
    def status(self) -> str:
        return "passed" if self.passed else "failed"

    def failed(self) -> list[g.GateResult]:
        return [gate for gate in self.gates if gate.blocks]

    def to_dict(self) -> dict[str, Any]:
        return {
            "registered_name": self.registered_name,
            "version": self.version,
            "status": self.status,
            "metrics": dict(self.metrics),
            "champion_version": self.champion_version,
            "champion_metrics": dict(self.champion_metrics),
            "gates": [x.to_dict() for x in self.gates],
        }


def resolve_version(client: MlflowClient, name: str, version: str | None, alias: str) -> ModelVersion:
    """An explicit version, or the one ``alias`` points at; BadInput when neither exists."""
    if version is not None:
        try:
            return client.get_model_version(name, str(version))
        except mlflow.exceptions.MlflowException as exc:
            raise BadInput(f"model {name} has no version {version}") from exc
    found = reg.version_by_alias(client, name, alias)
    if found is None:
        raise NoCandidate(f"model {name} has no '{alias}' alias: run train first, or pass --version")
    return found


def held_out(spec: ResolvedSpec, runtime: Runtime, mv: ModelVersion) -> pd.DataFrame:
    """The challenger's held-out rows, rebuilt from its lineage tags (table version + seeded split)."""
    table_tag, version_tag = reg.tag(mv, reg.TAG_DATA_TABLE), reg.tag(mv, reg.TAG_DATA_VERSION)
    if not table_tag or version_tag is None:
        raise BadInput(
            f"{mv.name} v{mv.version} has no data lineage tags ({reg.TAG_DATA_TABLE}, "
            f"{reg.TAG_DATA_VERSION}); it was not registered by the train job"
        )
    schema, table = table_tag.split(".")[-2:]
    df, _ = runtime.read_table(schema, table, int(version_tag))
    source = f"{table_tag}@v{version_tag}"
    check_frame(df, spec.model.data, source)
    _, test = split(
        training_window(df, spec.model.data),
        spec.model.data,
        spec.model.training.test_size,
        spec.model.training.seed,
    )
    check_frame(test, spec.model.data, f"{source} (held-out split)")
    return test


def _dir_size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def _latency_ms(pyfunc_model: Any, row: pd.DataFrame) -> list[list[float]]:
    """``LATENCY_ROUNDS`` rounds of single-row predictions through the served (pyfunc) model."""
    for _ in range(2):  # warm-up: first calls pay for lazy imports
        pyfunc_model.predict(row)
    rounds = []
    for _ in range(LATENCY_ROUNDS):
        samples = []
        for _ in range(LATENCY_SAMPLES):
            start = time.perf_counter()
            pyfunc_model.predict(row)
            samples.append((time.perf_counter() - start) * 1000)
        rounds.append(samples)
    return rounds


def _load(name: str, version: str, workdir: Path) -> tuple[Any, Any, Path]:
    """The classifier (for probabilities), the served model and the local artifact folder."""
    loaded = served_model.load(f"models:/{name}/{version}", workdir)
    return loaded.classifier, loaded.served, loaded.path


def rules_hash(spec: ResolvedSpec) -> str:
    """The gate settings a validation was made under: a promotion under other settings re-validates."""
    return stable_hash(spec.model.validation.model_dump(mode="json"), 12)


def evaluate_gates(
    spec: ResolvedSpec, mv: ModelVersion, champion: ModelVersion | None, test: pd.DataFrame, workdir: Path
) -> ValidationReport:
    data, rules = spec.model.data, spec.model.validation
    x, y = features(test, data), test[data.label].to_numpy().astype(int)
    model, served, local = _load(mv.name, mv.version, workdir / "challenger")
    proba = predict_proba(model, x)
    metrics = classification_metrics(y, proba)
    champ_metrics: dict[str, float] = {}
    champ_sig = None
    if champion is not None:
        champ_model, _, champ_local = _load(champion.name, champion.version, workdir / "champion")
        champ_metrics = classification_metrics(y, predict_proba(champ_model, x))
        champ_sig = mlflow.models.Model.load(str(champ_local)).signature
    champ_version = str(champion.version) if champion is not None else None
    sig = mlflow.models.Model.load(str(local)).signature
    results = (
        g.min_metric("min_roc_auc", metrics, "roc_auc", rules.min_roc_auc),
        g.min_metric("min_f1", metrics, "f1", rules.min_f1),
        g.non_degenerate(proba),
        g.no_regression(
            metrics["roc_auc"], champ_metrics.get("roc_auc"), rules.max_regression, champ_version
        ),
        g.segment_floor(test[data.segment_column], y, proba, rules.segment_min_roc_auc)
        if data.segment_column
        else g.skipped("segment_floor", "no data.segment_column"),
        g.demographic_parity(test[data.sensitive_attribute], proba, rules.max_demographic_parity_diff)
        if data.sensitive_attribute
        else g.skipped("demographic_parity", "no data.sensitive_attribute"),
        g.latency(_latency_ms(served, x.head(1)), rules.max_latency_ms),
        g.model_size(_dir_size_mb(local), rules.max_model_size_mb),
        g.signature_compatible(sig, champ_sig, champ_version),
    )
    return ValidationReport(mv.name, str(mv.version), metrics, results, champ_version, champ_metrics)


def summary_record(spec: ResolvedSpec, report: ValidationReport, report_path: str, at: str) -> dict[str, Any]:
    """The ``validation`` tag: everything ``promote`` needs, in well under 1000 characters."""
    champ = report.champion_metrics.get("roc_auc")
    return {
        "status": report.status,
        "at": at,
        "rules": rules_hash(spec),
        "roc_auc": round(float(report.metrics["roc_auc"]), 6),
        "f1": round(float(report.metrics["f1"]), 6),
        "champion_version": report.champion_version or "none",
        "champion_roc_auc": round(float(champ), 6) if champ is not None else None,
        "gates": {x.name: x.status for x in report.gates},
        "failed": [x.name for x in report.failed()],
        "report": report_path,
    }


def record(client: MlflowClient, spec: ResolvedSpec, mv: ModelVersion, report: ValidationReport) -> None:
    """JSON report, model card, then the one ``validation`` tag (the record ``promote`` reads)."""
    assert mv.run_id is not None  # a version this platform registers comes from a training run
    at = pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
    path = f"validation/v{mv.version}/{at.replace(':', '')[:17]}-{uuid.uuid4().hex[:6]}.json"
    reg.log_text(client, mv.run_id, json.dumps(report.to_dict(), indent=2, default=str), path)
    card = model_card.render(
        spec,
        mv,
        report.metrics,
        [x.to_dict() for x in report.gates],
        report.status,
        status_line=f"Validation **{report.status}** against champion {report.champion_version or '(none)'}.",
    )
    model_card.publish(client, mv, card)
    reg.set_record(client, mv, reg.TAG_VALIDATION, summary_record(spec, report, path, at))


def validate_version(
    spec: ResolvedSpec,
    runtime: Runtime,
    client: MlflowClient,
    version: str | None = None,
    against: str | None = CURRENT_CHAMPION,
) -> ValidationReport:
    """Score the version (default: ``challenger``) and a champion, record every gate, return the report.

    ``against`` is the champion to compare with: by default the current ``champion`` alias; the
    retraining passes the champion it started from, so a re-run after a kill judges the same pair.
    """
    import tempfile

    name = runtime.registered_name(spec.model.name)
    mv = resolve_version(client, name, version, reg.CHALLENGER)
    if against == CURRENT_CHAMPION:
        champion = reg.version_by_alias(client, name, reg.CHAMPION)
    else:
        champion = client.get_model_version(name, against) if against is not None else None
    if champion is not None and str(champion.version) == str(mv.version):
        champion = None  # re-validating the champion: compare with nothing
    test = held_out(spec, runtime, mv)
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as tmp:
        report = evaluate_gates(spec, mv, champion, test, Path(tmp))
    record(client, spec, mv, report)
    return report


def summary(report: ValidationReport) -> str:
    lines = [f"{report.registered_name} v{report.version}: validation {report.status}"]
    lines += [f"  {x.status:7s} {x.name}: {x.detail}" for x in report.gates]
    return "\n".join(lines)


__all__ = ["ValidationReport", "summary", "validate_version"]
