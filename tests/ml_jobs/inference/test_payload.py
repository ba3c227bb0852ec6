"""Unpacking the endpoint's inference table (documented AI Gateway schema) on local Spark.

What it proves: requests in both scoring formats (dataframe_split, dataframe_records) become one row
per request row with their features, id, score, class and version; failed requests are counted and
kept as one row without a prediction; a second pass over the same table adds nothing; labels in the
contract's shape match the first prediction of each id before them.
What it does not prove: that Databricks writes exactly these bytes (the schema and the request formats
are taken from its documentation, cited in ``ml_jobs.inference.payload``), or Delta MERGE semantics.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
import pytest

from ml_jobs.inference.labels import request_labels
from ml_jobs.inference.payload import payload_ddl, prediction_columns, served_rows, unpack
from ml_jobs.spec import resolve

pytestmark = pytest.mark.spark

DATA = resolve("marketing_churn_gbm", "dev").model.data


def _features(i: int) -> dict:
    return {
        "customer_id": f"c{i}",
        "event_ts": f"2025-03-0{1 + i % 3}T10:00:00Z",
        "tenure_months": 10 + i,
        "monthly_charges": 50.5 + i,
        "total_charges": 500.0 + i,
        "support_calls": i % 4,
        "avg_session_minutes": 12.5,
        "days_since_last_login": 3,
        "num_products": 2,
        "age": 40,
        "contract_type": "monthly",
        "payment_method": "card",
        "region": "north",
        "plan_tier": "basic",
        "gender": "f",
    }


def payload_row(rid: str, rows: list[dict], fmt: str, status: int = 200, preds: list | None = None) -> tuple:
    if fmt == "split":
        columns = list(rows[0])
        body = {"dataframe_split": {"columns": columns, "data": [[r[c] for c in columns] for r in rows]}}
    else:
        body = {"dataframe_records": rows}
    response = {"predictions": preds} if status == 200 else {"error_code": "BAD_REQUEST", "message": "x"}
    at = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
    return (
        at.date(),
        rid,
        None,
        at,
        status,
        1.0,
        7,
        json.dumps(body),
        json.dumps(response),
        "entity-1",
        None,
        "sp",
    )


@pytest.fixture(scope="module")
def payload(spark):
    rows = [
        payload_row(
            "r1",
            [_features(0), _features(1)],
            "split",
            preds=[{"score": 0.9, "prediction": 1, "model_version": "3"}, {"score": 0.2, "prediction": 0}],
        ),
        payload_row("r2", [_features(2)], "records", preds=[[0.3, 0.7]]),
        payload_row("r3", [_features(3)], "records", preds=[0]),
        payload_row("r4", [_features(4)], "split", status=400),
    ]
    return spark.createDataFrame(rows, payload_ddl())


def test_both_request_formats_become_rows_with_features_scores_and_versions(payload):
    out = unpack(payload, DATA, "marketing_churn_gbm", served_version="2")
    frame = out.rows.toPandas().set_index("request_id")
    assert list(out.rows.columns) == prediction_columns(DATA)
    assert sorted(frame.index) == ["r1-0", "r1-1", "r2-0", "r3-0", "r4-0"]
    assert frame.loc["r1-0", "customer_id"] == "c0" and frame.loc["r1-1", "tenure_months"] == 11.0
    assert frame.loc["r1-1", "monthly_charges"] == pytest.approx(51.5)
    assert frame.loc["r2-0", "contract_type"] == "monthly"
    assert pd.Timestamp(frame.loc["r2-0", "event_ts"]) == pd.Timestamp("2025-03-03T10:00:00")
    assert frame.loc["r1-0", ["score", "prediction", "model_version"]].tolist() == [0.9, 1, "3"]
    assert frame.loc["r1-1", ["score", "prediction", "model_version"]].tolist() == [0.2, 0, "2"]
    assert frame.loc["r2-0", "score"] == pytest.approx(0.7) and frame.loc["r2-0", "prediction"] == 1
    assert pd.isna(frame.loc["r3-0", "score"]) and frame.loc["r3-0", "prediction"] == 0


def test_failed_requests_are_counted_and_kept_without_a_prediction(payload):
    out = unpack(payload, DATA, "marketing_churn_gbm", served_version="2")
    assert out.summary() == {"requests": 4, "failed_requests": 1, "unattributed_rows": 0}
    failed = out.rows.toPandas().set_index("request_id").loc["r4-0"]
    assert failed["status_code"] == 400 and pd.isna(failed["prediction"]) and pd.isna(failed["score"])
    assert sorted(served_rows(out.rows).toPandas()["request_id"]) == ["r1-0", "r1-1", "r2-0", "r3-0"]


def test_a_second_pass_unpacks_nothing_and_an_unknown_version_is_counted(payload):
    first = unpack(payload, DATA, "marketing_churn_gbm")
    assert first.unattributed_rows == 3  # r1-1, r2-0, r3-0 carry no model_version and none was given
    again = unpack(payload, DATA, "marketing_churn_gbm", done=first.rows)
    assert again.rows.count() == 0 and again.requests == 0


def test_contract_labels_match_the_first_label_after_each_prediction(spark):
    log = pd.DataFrame(
        {
            "request_id": ["a", "b", "c"],
            "customer_id": ["c1", "c1", "c2"],
            "timestamp": pd.to_datetime(["2025-03-01", "2025-03-05", "2025-03-01"], utc=True),
        }
    )
    labels = pd.DataFrame(
        {
            "customer_id": ["c1", "c1", "c2"],
            "churned": [0, 1, 1],
            "label_timestamp": pd.to_datetime(["2025-03-02", "2025-03-09", "2025-02-01"], utc=True),
        }
    )
    expected = {"a": 0, "b": 1}  # c: its only label came before the prediction
    got = request_labels(log, labels, DATA)
    assert dict(zip(got["request_id"], got["label"], strict=True)) == expected
    on_spark = request_labels(spark.createDataFrame(log), spark.createDataFrame(labels), DATA).toPandas()
    assert dict(zip(on_spark["request_id"], on_spark["label"], strict=True)) == expected
