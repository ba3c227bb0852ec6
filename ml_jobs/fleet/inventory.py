"""The daily model inventory: every registered model of an environment's catalog, one row each.

For each model found in the ``models`` schema or declared in ``stacks/models.yaml``: versions,
aliases, owner, tags, the champion's training data (table and Delta version), the last training, the
last monitoring window and its status, the last retraining decision, the serving endpoint and its
state. A model in the catalog but not in the spec is flagged ``not_in_spec``; one declared but never
registered ``not_registered``. The registered-model tags the spec declares (department, use case,
algorithm, owner group, criticality) are set here: provider v1.99.0 has no argument or resource for
tags on a registered model (``databricks_registered_model`` takes none; ``databricks_entity_tag_assignment``
covers catalogs, schemas, tables, columns and volumes only).

The job rewrites three tables of the monitoring schema (``mlops_spec.naming.FLEET_TABLES``): the
per-window fleet metrics and retraining decisions of every model (the dashboard's and the SQL
alerts' source, which exists even before every model has been monitored), then the inventory
itself. Kill-safe and exactly-once: tags are set to declared values (setting one twice changes
nothing) and each table is replaced by one Delta overwrite, a single commit; a kill leaves the
previous snapshot, a re-run writes the full one. Two runs at once: Delta lets one overwrite commit and
fails the other (a concurrent transaction deleted the data it read), which retries and writes the
same snapshot again (``write_snapshot``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import pandas as pd

from ml_jobs.errors import BadInput, InfraError
from ml_jobs.fleet.sources import ModelFacts, Registry, Workspace
from ml_jobs.registry.client import LEGACY_TAGS, TAG_DATA_TABLE, TAG_DATA_VERSION
from mlops_spec import tables
from mlops_spec.config.fleet import model_tags
from mlops_spec.config.model_spec import ModelSpec
from mlops_spec.naming import (
    FLEET_DECISIONS_TABLE,
    FLEET_METRICS_TABLE,
    INVENTORY_TABLE,
    MODELS_SCHEMA,
    MONITORING_SCHEMA,
    endpoint_name,
)

log = logging.getLogger(__name__)

CHAMPION = "champion"
DATASET, PERFORMANCE, BASELINE = "__dataset__", "__performance__", "BASELINE"
FLEET_METRICS = (
    "drift_share",
    "drift",
    "js_distance",
    "roc_auc",
    "roc_auc_ci_low",
    "roc_auc_ci_high",
    "estimated_roc_auc",
)
"""The long-format metrics the dashboard and the alerts read, copied from each model's metrics table."""
TIME, TEXT, FLOAT, INT, BOOL = "datetime64[us, UTC]", "string", "float64", "Int64", "boolean"
METRIC_COLUMNS: dict[str, str] = {
    "window_start": TIME,
    "window_end": TIME,
    "model": TEXT,
    "model_version": TEXT,
    "drift_type": TEXT,
    "column": TEXT,
    "metric": TEXT,
    "value": FLOAT,
    "threshold": FLOAT,
    "drifted": BOOL,
    "status": TEXT,
}
DECISION_COLUMNS: dict[str, str] = {
    "model": TEXT,
    "decided_at": TIME,
    "trigger": TEXT,
    "decision": TEXT,
    "reason": TEXT,
    "champion_version": TEXT,
    "challenger_version": TEXT,
    "champion_auc": FLOAT,
    "challenger_auc": FLOAT,
}
INVENTORY_COLUMNS: dict[str, str] = {
    "inventory_time": TIME,
    "env": TEXT,
    "model": TEXT,
    "full_name": TEXT,
    "flag": TEXT,
    "criticality": TEXT,
    "owner": TEXT,
    "tags": TEXT,
    "versions": INT,
    "latest_version": TEXT,
    "aliases": TEXT,
    "champion_version": TEXT,
    "training_table": TEXT,
    "training_data_version": TEXT,
    "last_trained_at": TIME,
    "last_window_start": TIME,
    "last_window_end": TIME,
    "monitoring_status": TEXT,
    "dataset_drift_share": FLOAT,
    "roc_auc": FLOAT,
    "roc_auc_ci_low": FLOAT,
    "roc_auc_ci_high": FLOAT,
    "roc_auc_floor": FLOAT,
    "last_retrain_decision": TEXT,
    "last_retrain_reason": TEXT,
    "last_retrain_at": TIME,
    "endpoint_name": TEXT,
    "endpoint_state": TEXT,
}
"""The fleet tables' schemas, explicit: an empty table (no model monitored yet) keeps its types."""


def typed(frame: pd.DataFrame, schema: Mapping[str, str]) -> pd.DataFrame:
    """``frame`` with exactly ``schema``'s columns, in order, of its types (missing ones empty)."""
    out = pd.DataFrame(index=frame.index)
    for column, dtype in schema.items():
        values = (
            frame[column] if column in frame.columns else pd.Series([None] * len(frame), index=frame.index)
        )
        if dtype == TIME:
            out[column] = pd.to_datetime(values, utc=True, format="mixed").astype(TIME)
        else:
            out[column] = values.astype(dtype)
    return out.reset_index(drop=True)


class Tables(Protocol):
    def read(self, schema: str, table: str) -> pd.DataFrame | None: ...
    def write(self, frame: pd.DataFrame, schema: str, table: str) -> None: ...


@dataclass
class Inventory:
    rows: pd.DataFrame
    metrics: pd.DataFrame
    decisions: pd.DataFrame
    tags_set: list[tuple[str, str, str]] = field(default_factory=list)
    """(model, key, value) changed in this run."""

    @property
    def flagged(self) -> dict[str, str]:
        bad = self.rows[self.rows["flag"] != "ok"]
        return dict(zip(bad["model"], bad["flag"], strict=True))

    def to_dict(self) -> dict[str, Any]:
        return {
            "models": len(self.rows),
            "flagged": self.flagged,
            "tags_set": [f"{m}: {k}={v}" for m, k, v in self.tags_set],
            "metric_rows": len(self.metrics),
            "decision_rows": len(self.decisions),
        }


# --- pieces -------------------------------------------------------------------------------------


def _lineage_tag(tags: Mapping[str, str], key: str) -> str | None:
    """A version's lineage tag as training writes it, else the dotted key an earlier release wrote."""
    return tags.get(key, tags.get(LEGACY_TAGS[key]))


def _iso(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return None
    return str(pd.Timestamp(value).isoformat())


def _model_metrics(frame: pd.DataFrame | None, model: str) -> pd.DataFrame:
    """The rows of one model's metrics table the fleet keeps, in the fleet's columns."""
    if frame is None or frame.empty:
        return typed(pd.DataFrame(), METRIC_COLUMNS)
    missing = {"window_start", "window_end", "drift_type", "column", "metric", "value"} - set(frame.columns)
    if missing:
        raise BadInput(f"{model}: metrics table lacks columns {sorted(missing)}")
    kept = frame[frame["metric"].isin(FLEET_METRICS)].assign(model=model)
    return typed(kept, METRIC_COLUMNS)


def _latest(metrics: pd.DataFrame, column: str, metric: str) -> pd.Series | None:
    rows = metrics[
        (metrics["drift_type"] == BASELINE) & (metrics["column"] == column) & (metrics["metric"] == metric)
    ]
    return None if rows.empty else rows.sort_values("window_end").iloc[-1]


def monitoring_summary(metrics: pd.DataFrame, floor: float, monitored: bool) -> dict[str, Any]:
    """The last window and its status: ``ok``, ``drift``, ``below_floor`` (or both), ``never_monitored``."""
    empty = {"last_window_start": None, "last_window_end": None, "dataset_drift_share": None}
    perf = {"roc_auc": None, "roc_auc_ci_low": None, "roc_auc_ci_high": None, "roc_auc_floor": floor}
    if not monitored or metrics.empty:
        return {**empty, **perf, "monitoring_status": "never_monitored"}
    last_end = metrics["window_end"].max()
    last = metrics[metrics["window_end"] == last_end]
    issues = []
    share = _latest(last, DATASET, "drift_share")
    if share is not None and bool(share["drifted"]):
        issues.append("drift")
    auc = _latest(last, PERFORMANCE, "roc_auc")
    if auc is not None and float(auc["value"]) < floor:
        issues.append("below_floor")
    bound = {m: _latest(last, PERFORMANCE, m) for m in ("roc_auc_ci_low", "roc_auc_ci_high")}
    return {
        "last_window_start": _iso(last["window_start"].min()),
        "last_window_end": _iso(last_end),
        "monitoring_status": "+".join(issues) or "ok",
        "dataset_drift_share": None if share is None else float(share["value"]),
        "roc_auc": None if auc is None else float(auc["value"]),
        **{m: None if row is None else float(row["value"]) for m, row in bound.items()},
        "roc_auc_floor": floor,
    }


def _model_decisions(frame: pd.DataFrame | None, model: str) -> pd.DataFrame:
    if frame is None or frame.empty:
        return typed(pd.DataFrame(), DECISION_COLUMNS)
    return typed(frame.assign(model=model), DECISION_COLUMNS)


def registry_summary(facts: ModelFacts | None) -> dict[str, Any]:
    if facts is None:
        return {
            "versions": 0,
            "latest_version": None,
            "aliases": "{}",
            "champion_version": None,
            "training_table": None,
            "training_data_version": None,
            "last_trained_at": None,
        }
    champion = facts.aliases.get(CHAMPION)
    lineage = facts.version(champion) if champion else None
    created = [v.created_at for v in facts.versions if v.created_at is not None]
    return {
        "versions": len(facts.versions),
        "latest_version": facts.versions[-1].version if facts.versions else None,
        "aliases": json.dumps(facts.aliases, sort_keys=True),
        "champion_version": champion,
        "training_table": _lineage_tag(lineage.tags, TAG_DATA_TABLE) if lineage else None,
        "training_data_version": _lineage_tag(lineage.tags, TAG_DATA_VERSION) if lineage else None,
        "last_trained_at": _iso(max(created)) if created else None,
    }


# --- the job ------------------------------------------------------------------------------------


def build_inventory(
    models: Sequence[ModelSpec],
    env: str,
    catalog: str,
    groups: Mapping[str, str],
    registry: Registry,
    workspace: Workspace,
    io: Tables,
    now: datetime | None = None,
) -> Inventory:
    """Read everything and set the declared tags; write nothing (``run_inventory`` writes)."""
    now = now or datetime.now(UTC)
    specs = {m.name: m for m in models}
    prefix = f"{catalog}.{MODELS_SCHEMA}."
    registered = {name.removeprefix(prefix) for name in registry.list_models(prefix)}
    rows, metric_frames, decision_frames, tags_set = [], [], [], []
    for name in sorted(registered | set(specs)):
        spec = specs.get(name)
        full_name = prefix + name
        facts = registry.model(full_name) if name in registered else None
        if spec is not None and facts is not None:
            changed = {k: v for k, v in model_tags(spec, groups).items() if facts.tags.get(k) != v}
            for key, value in changed.items():
                registry.set_tag(full_name, key, value)
                tags_set.append((name, key, value))
            facts = replace(facts, tags={**facts.tags, **changed})
        row: dict[str, Any] = {
            "inventory_time": now,
            "env": env,
            "model": name,
            "full_name": full_name,
            "flag": "ok" if spec and facts else ("not_in_spec" if facts else "not_registered"),
            "criticality": spec.criticality if spec else None,
            "owner": workspace.owner(full_name) if facts else None,
            "tags": json.dumps(facts.tags if facts else {}, sort_keys=True),
            **registry_summary(facts),
        }
        metrics, decisions = typed(pd.DataFrame(), METRIC_COLUMNS), typed(pd.DataFrame(), DECISION_COLUMNS)
        monitored = False
        if spec is not None:
            raw = io.read(*tables.drift_metrics(name))
            monitored = raw is not None
            metrics = _model_metrics(raw, name)
            decisions = _model_decisions(io.read(*tables.retrain_decisions(name)), name)
        row |= monitoring_summary(metrics, spec.validation.min_roc_auc if spec else float("nan"), monitored)
        last = decisions.sort_values("decided_at").iloc[-1] if not decisions.empty else None
        row |= {
            "last_retrain_decision": None if last is None else last["decision"],
            "last_retrain_reason": None if last is None else last["reason"],
            "last_retrain_at": None if last is None else _iso(last["decided_at"]),
        }
        serves = spec is not None and spec.serving.enabled
        endpoint = endpoint_name(env, name) if serves else None
        row |= {
            "endpoint_name": endpoint,
            "endpoint_state": workspace.endpoint_state(endpoint) if endpoint else None,
        }
        rows.append(row)
        metric_frames.append(metrics)
        decision_frames.append(decisions)
    return Inventory(
        typed(pd.DataFrame(rows), INVENTORY_COLUMNS),
        _concat(metric_frames, METRIC_COLUMNS),
        _concat(decision_frames, DECISION_COLUMNS),
        tags_set,
    )


def _concat(frames: list[pd.DataFrame], schema: Mapping[str, str]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    return typed(pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(), schema)


def run_inventory(
    models: Sequence[ModelSpec],
    env: str,
    catalog: str,
    groups: Mapping[str, str],
    registry: Registry,
    workspace: Workspace,
    io: Tables,
    now: datetime | None = None,
) -> Inventory:
    """Build the inventory, then replace the fleet tables: metrics, decisions, the inventory last."""
    result = build_inventory(models, env, catalog, groups, registry, workspace, io, now)
    io.write(result.metrics, MONITORING_SCHEMA, FLEET_METRICS_TABLE)
    io.write(result.decisions, MONITORING_SCHEMA, FLEET_DECISIONS_TABLE)
    io.write(result.rows, MONITORING_SCHEMA, INVENTORY_TABLE)
    return result


# --- tables through the runtime ------------------------------------------------------------------

CONFLICTS = ("CommitFailed", "Concurrent")
"""Delta's answer to two overwrites at once: deltalake's CommitFailedError, Databricks' Concurrent*Exception
(Delta Lake docs, "Concurrency control": conflicts between blind overwrites fail the later commit)."""


def write_snapshot(write: Callable[[], Any], what: str, attempts: int = 5, backoff_s: float = 0.2) -> None:
    """Run one overwrite; on a concurrent-commit conflict run it again (the snapshot is the same)."""
    for attempt in range(1, attempts + 1):
        try:
            write()
            return
        except Exception as exc:
            if not any(c in type(exc).__name__ for c in CONFLICTS):
                raise
            if attempt == attempts:
                raise InfraError(
                    f"{what}: {attempts} conflicting overwrites in a row; re-run the job"
                ) from exc
            log.warning("%s: concurrent overwrite (%s), writing again", what, type(exc).__name__)
            time.sleep(backoff_s * attempt)


@dataclass
class RuntimeTables:
    """The job runtime's tables (Unity Catalog on Databricks, Delta under ``.local`` on one machine)."""

    runtime: Any

    def read(self, schema: str, table: str) -> pd.DataFrame | None:
        try:
            frame, _ = self.runtime.read_table(schema, table)
        except BadInput:  # never written: the model was not monitored or retrained yet
            return None
        return frame

    def write(self, frame: pd.DataFrame, schema: str, table: str) -> None:
        write_snapshot(
            lambda: self.runtime.write_table(frame, schema, table, mode="overwrite"), f"{schema}.{table}"
        )
