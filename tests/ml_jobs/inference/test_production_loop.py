"""The production loop end to end: payload table -> unpack (Spark) -> monitor -> retraining job started.

What it proves: rows in the documented inference-table schema, scored by the real champion, become the
predictions table; the monitor reads it, writes the metrics table and, after two breaching windows,
calls ``jobs.run_now`` on the retraining job through databricks-sdk with the reason and the trigger
kind as job parameters and a token unique to the breach episode; a retried call sends the same token,
a second episode weeks later a new one.
What it does not prove: a real Jobs API (a local server answers the two REST paths the SDK calls), a
real endpoint's bytes, or Delta MERGE on Unity Catalog (locally rows go to deltalake tables).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ml_jobs.cli import Context
from ml_jobs.data.generate import DriftSpec, generate_churn
from ml_jobs.inference.job import append_new
from ml_jobs.inference.payload import payload_ddl, unpack
from ml_jobs.monitor import databricks_trigger
from ml_jobs.monitoring.job import monitor
from ml_jobs.registry.client import connect
from ml_jobs.registry.promotion import promote
from ml_jobs.training.pipeline import features
from ml_jobs.training.train import train_model
from ml_jobs.trigger import episode_token
from ml_jobs.validation.validate import validate_version
from mlops_spec import tables
from tests.ml_jobs.conftest import local_runtime, spec_for, write_churn
from tests.ml_jobs.jobs_api import FakeJobsApi, serve

pytestmark = [pytest.mark.spark, pytest.mark.slow]
JOB_ID = 77
START = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
def jobs_api() -> Iterator[tuple[FakeJobsApi, Any]]:
    api = FakeJobsApi()
    api.add_job(JOB_ID, "[dev] marketing_churn_gbm: retrain", ["retrain"])
    with serve(api) as workspace:
        yield api, workspace


def _payload(spark, frame: pd.DataFrame, model: Any, data: Any, prefix: str, version: str):
    """One request per 50 rows, alternating dataframe_split and dataframe_records, plus a failed one."""
    proba = model.predict_proba(features(frame, data))[:, 1]
    cols = [data.id_column, data.timestamp_column, *data.features]
    rows = []
    for n, start in enumerate(range(0, len(frame), 50)):
        chunk = frame.iloc[start : start + 50][cols].copy()
        chunk[data.timestamp_column] = chunk[data.timestamp_column].astype(str)
        records = json.loads(chunk.to_json(orient="records"))
        if n % 2:
            body = {"dataframe_records": records}
        else:
            body = {"dataframe_split": {"columns": cols, "data": [[r[c] for c in cols] for r in records]}}
        preds = [
            {"score": float(p), "prediction": int(p >= 0.5), "model_version": version}
            for p in proba[start : start + 50]
        ]
        at = pd.Timestamp(chunk[data.timestamp_column].iloc[0]).to_pydatetime()
        rows.append(
            (
                at.date(),
                f"{prefix}{n}",
                None,
                at,
                200,
                1.0,
                5,
                json.dumps(body),
                json.dumps({"predictions": preds}),
                "e1",
                None,
                "sp",
            )
        )
    at = pd.Timestamp(frame[data.timestamp_column].iloc[0]).to_pydatetime()
    rows.append((at.date(), f"{prefix}x", None, at, 503, 1.0, 1, "{}", "{}", "e1", None, "sp"))
    return spark.createDataFrame(rows, payload_ddl())


def test_payload_to_retraining_job_once_per_breach_episode(spark, tmp_path: Path, jobs_api) -> None:
    fake, workspace = jobs_api
    spec = spec_for("dev", monitoring={"min_samples": 200, "consecutive_windows": 2, "cooldown_days": 7})
    data = spec.model.data
    runtime = local_runtime(tmp_path)
    client = connect(runtime)
    write_churn(runtime, 3000, seed=1)
    trained = train_model(spec, runtime, client, fixed_params={"max_iter": 60})
    validate_version(spec, runtime, client, trained.version)
    promote(spec, runtime, client, version=trained.version, actor="test")
    from ml_jobs.serving.model import load

    model = load(f"models:/{trained.registered_name}/{trained.version}", tmp_path / "champion").classifier
    drift = DriftSpec(
        start_day=2,
        mean_shift={"monthly_charges": 2.0, "support_calls": 2.0, "tenure_months": -1.5},
        category_mix={"contract_type": {"month_to_month": 0.9, "one_year": 0.05, "two_year": 0.05}},
    )
    first = generate_churn(1600, seed=7, start=START, days=4, drift=drift)
    ctx = Context(spec, runtime)
    trigger = databricks_trigger(ctx, workspace)

    out = unpack(_payload(spark, first, model, data, "a", trained.version), data, spec.model.name)
    append_new(runtime, out.rows, *tables.inference_log(spec.model.name))
    predictions, _ = runtime.read_table(*tables.inference_log(spec.model.name))
    assert len(predictions) == 1600 + 1 and out.failed_requests == 1
    assert set(predictions["model_version"].dropna()) == {trained.version}

    done = monitor(spec, runtime, client, trigger=trigger, now=START + timedelta(days=4, hours=1))
    metrics, _ = runtime.read_table(*tables.drift_metrics(spec.model.name))
    assert done.retrain_requested and metrics["window_start"].nunique() == 4
    assert metrics[metrics["drifted"]]["column"].isin(["monthly_charges", "support_calls"]).any()
    (call,) = fake.posts("/run-now")
    assert call["job_id"] == JOB_ID and call["job_parameters"]["trigger"] in ("drift", "performance")
    assert call["job_parameters"]["reason"] == done.result.decision.reason
    episode = call["idempotency_token"]
    assert episode == episode_token(spec.model.name, "dev", datetime(2025, 1, 5, tzinfo=UTC))
    # The retraining records its decision under the monitor's request: the token is that id.
    assert done.request is not None
    assert call["job_parameters"]["request_id"] == episode == done.request.request_id

    # A monitor killed after run_now and re-run starts its pending request again: the same run.
    runs = {r.token: r.run_id for r in fake.started()}
    assert trigger(replace(done.request, reason="retried after a crash")) == runs[episode]
    assert fake.posts("/run-now")[-1]["idempotency_token"] == episode

    drift_from_start = DriftSpec(
        start_day=0, mean_shift=dict(drift.mean_shift), category_mix=dict(drift.category_mix)
    )
    later = generate_churn(
        1200,
        seed=8,
        start=START + timedelta(days=20),
        days=3,
        drift=drift_from_start,
    )
    out = unpack(
        _payload(spark, later, model, data, "b", trained.version),
        data,
        spec.model.name,
        done=spark.createDataFrame(predictions[["databricks_request_id"]]),
    )
    append_new(runtime, out.rows, *tables.inference_log(spec.model.name))
    again = monitor(spec, runtime, client, trigger=trigger, now=START + timedelta(days=23, hours=1))
    assert again.retrain_requested, again.result.decision.reason
    second = fake.posts("/run-now")[-1]["idempotency_token"]
    assert second != episode and len(fake.runs) == 2


def test_batch_scoring_records_the_served_probability_once_per_row(spark, tmp_path: Path) -> None:
    """What it proves: ``score`` (batch models) runs the registered scorer on Spark and records the
    probability the monitor judges beside the label, equal to the classifier's; a re-run or a second
    run over the same rows adds nothing (MERGE on ``request_id``), and newer rows are scored once.
    What it does not prove: Unity Catalog's MERGE (locally deltalake's), or executors on a cluster."""
    from ml_jobs.inference.job import run_score
    from ml_jobs.serving.model import load

    spec = spec_for("dev")
    data = spec.model.data
    runtime = local_runtime(tmp_path)
    client = connect(runtime)
    write_churn(runtime, 2000, seed=3)
    trained = train_model(spec, runtime, client, fixed_params={"max_iter": 60})
    validate_version(spec, runtime, client, trained.version)
    promote(spec, runtime, client, version=trained.version, actor="test")

    since = datetime(2024, 1, 1, tzinfo=UTC)  # every row of the feature table
    first = run_score(spec, runtime, client, since=since)
    again = run_score(spec, runtime, client, since=since)  # a retried run over the same rows
    assert first["champion_version"] == again["champion_version"] == trained.version
    scored, _ = runtime.read_table(*tables.inference_log(spec.model.name))
    features_, _ = runtime.read_table(*tables.features(data.table))
    assert len(scored) == len(features_) and scored["request_id"].is_unique

    classifier = load(f"models:/{trained.registered_name}/{trained.version}", tmp_path / "m").classifier
    proba = classifier.predict_proba(features(features_, data))[:, 1]
    expected = pd.Series(proba, index=features_[data.id_column].astype(str))
    got = scored.set_index(data.id_column)["score"]
    assert got.between(0, 1).all() and got.nunique() > 2  # probabilities, not labels
    assert (got - expected.reindex(got.index)).abs().max() < 1e-6
    assert ((scored["score"] >= 0.5).astype("int64") == scored["prediction"]).all()

    later = generate_churn(300, seed=4, start=datetime(2025, 5, 1, tzinfo=UTC), days=3)
    runtime.write_table(later, *tables.features(data.table))
    run_score(spec, runtime, client)  # newer rows only: scored once, the old ones kept
    rescored, _ = runtime.read_table(*tables.inference_log(spec.model.name))
    assert rescored["request_id"].is_unique and len(rescored) == len(scored) + len(later)
