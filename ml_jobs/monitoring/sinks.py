"""Where results go: the metrics Delta table, MLflow, a webhook, and the retraining trigger."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

log = logging.getLogger(__name__)


class AlertError(RuntimeError):
    """An alert or a retraining trigger could not be delivered."""


def append_metrics_delta(metrics: pd.DataFrame, table_uri: str | Path) -> None:
    """Append the long-format metrics to a Delta table (local path or object store URI) without Spark."""
    from deltalake import write_deltalake

    write_deltalake(str(table_uri), metrics, mode="append")


def append_metrics_table(spark: Any, metrics: pd.DataFrame, table: str) -> None:
    """Append to a Unity Catalog table (``catalog.monitoring.<model>_drift_metrics``) on Databricks."""
    spark.createDataFrame(metrics).write.mode("append").saveAsTable(table)


def log_to_mlflow(report_path: Path | None, metrics: pd.DataFrame, profile_json: str | None = None) -> None:
    """Log the report, the metrics and the reference profile as artifacts of the active MLflow run."""
    import mlflow

    if report_path is not None:
        mlflow.log_artifact(str(report_path), artifact_path="monitoring")
    mlflow.log_text(metrics.to_csv(index=False), "monitoring/metrics.csv")
    if profile_json is not None:
        mlflow.log_text(profile_json, "monitoring/reference_profile.json")


def post_webhook(url: str, payload: dict[str, Any], timeout: float = 10.0) -> int:
    """POST ``payload`` as JSON; returns the HTTP status, raises ``AlertError`` on failure."""
    body = json.dumps(payload, default=str).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        raise AlertError(f"webhook {url} answered HTTP {err.code}") from err
    except (urllib.error.URLError, TimeoutError) as err:
        raise AlertError(f"webhook {url} unreachable: {err}") from err


def find_job_id(client: Any, job_name: str) -> int:
    """The id of the one job named ``job_name`` (``jobs.list(name=...)`` matches names exactly)."""
    jobs = [j for j in client.jobs.list(name=job_name) if j.settings and j.settings.name == job_name]
    if not jobs:
        raise AlertError(f"retraining job {job_name!r} not found in the workspace")
    if len(jobs) > 1:
        raise AlertError(f"retraining job name {job_name!r} is ambiguous: job ids {[j.job_id for j in jobs]}")
    return int(jobs[0].job_id)


def trigger_databricks_job(
    client: Any,
    job_name: str,
    idempotency_token: str,
    job_parameters: dict[str, str] | None = None,
    attempts: int = 3,
    backoff_seconds: float = 1.0,
) -> int:
    """``jobs.run_now`` on the job found by name; returns the run id.

    Server errors are retried with the same ``idempotency_token``, so a retry after a 500 whose run
    did start returns that run instead of starting a second one. Not-found and other client errors
    are not retried.
    """
    from databricks.sdk.errors import DatabricksError, InternalError, NotFound, TemporarilyUnavailable

    job_id = find_job_id(client, job_name)
    for attempt in range(1, attempts + 1):
        try:
            waiter = client.jobs.run_now(
                job_id=job_id, idempotency_token=idempotency_token, job_parameters=job_parameters
            )
            return int(waiter.response.run_id)
        except NotFound as err:
            raise AlertError(f"retraining job {job_name!r} (id {job_id}) not found: {err}") from err
        except (InternalError, TemporarilyUnavailable) as err:
            if attempt == attempts:
                raise AlertError(f"run-now of {job_name!r} failed after {attempt} attempts: {err}") from err
            log.warning("run-now of %s failed (%s), retrying", job_name, err)
            time.sleep(backoff_seconds * attempt)
        except DatabricksError as err:
            raise AlertError(f"run-now of {job_name!r} failed: {err}") from err
    raise AssertionError("unreachable")


def trigger_local(retrain: Callable[[], Any]) -> Any:
    """On one machine the retraining entry point runs in-process."""
    return retrain()
