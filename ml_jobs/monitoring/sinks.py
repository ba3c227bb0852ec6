"""Where results go besides the tables (``Runtime.merge_table``): MLflow, a webhook, the retraining trigger.

The webhook URL is a secret (it often carries a token): no message, log line or record here
names it, not even in part; failures say what failed and how often, never where.
"""

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

from ml_jobs import faults

log = logging.getLogger(__name__)


class AlertError(RuntimeError):
    """An alert or a retraining trigger could not be delivered."""


def log_to_mlflow(report_path: Path | None, metrics: pd.DataFrame, profile_json: str | None = None) -> None:
    """Log the report, the metrics and the reference profile as artifacts of the active MLflow run."""
    import mlflow

    if report_path is not None:
        mlflow.log_artifact(str(report_path), artifact_path="monitoring")
    mlflow.log_text(metrics.to_csv(index=False), "monitoring/metrics.csv")
    if profile_json is not None:
        mlflow.log_text(profile_json, "monitoring/reference_profile.json")


def post_webhook(
    url: str,
    payload: dict[str, Any],
    timeout: float = 10.0,
    attempts: int = 1,
    backoff_seconds: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """POST ``payload`` as JSON, up to ``attempts`` times (backoff doubling); the HTTP status.

    Raises ``AlertError`` once every attempt failed; client errors (4xx) are not retried.
    """
    body = json.dumps(payload, default=str).encode()
    last = "no attempt"
    for attempt in range(1, max(1, attempts) + 1):
        faults.boundary("webhook.post")
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return int(response.status)
        except urllib.error.HTTPError as err:
            last = f"HTTP {err.code}"
            if 400 <= err.code < 500 and err.code != 429:
                break
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            reason = getattr(err, "reason", err)
            last = (
                f"unreachable ({type(reason).__name__}: {getattr(reason, 'strerror', None) or 'no answer'})"
            )
        except Exception as err:  # e.g. http.client.InvalidURL, whose message quotes the URL
            last = f"{type(err).__name__}"
        if attempt < attempts:
            log.warning("webhook attempt %d/%d failed: %s; retrying", attempt, attempts, last)
            sleep(backoff_seconds * 2 ** (attempt - 1))
    raise AlertError(f"webhook (URL withheld: it is a secret) failed after {attempt} attempt(s): {last}")


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
    python_named_params: dict[str, str] | None = None,
) -> int:
    """``jobs.run_now`` on the job found by name; returns the run id.

    The token makes it exactly-once: "If a run with the provided token already exists, the request
    does not create a new run but returns the ID of the existing run instead" (databricks-sdk
    ``JobsAPI.run_now``, ``idempotency_token``). Server errors are retried with the same token, and
    so is a re-run of the monitor that decided the same retraining. Not-found and other client
    errors are not retried.
    """
    from databricks.sdk.errors import DatabricksError, InternalError, NotFound, TemporarilyUnavailable

    job_id = find_job_id(client, job_name)
    for attempt in range(1, attempts + 1):
        try:
            faults.boundary("jobs.run_now")
            extra = {"python_named_params": python_named_params} if python_named_params else {}
            waiter = client.jobs.run_now(
                job_id=job_id, idempotency_token=idempotency_token, job_parameters=job_parameters, **extra
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
