"""Starting the retraining job: one run per breach episode, the reason as a job parameter.

A breach episode is a model's run of breaching windows in one environment; it is named by the end of
the last window the monitor judged when it decided (``RetrainState.last_window_end``). The
idempotency token of ``jobs.run_now`` is derived from (model, env, that end): a monitor retried after
a crash asks for the same run (Databricks returns the existing one), a breach weeks later starts a new
run. The retraining job receives ``reason`` (the monitor's decision), ``trigger`` (its kind:
drift, performance, schedule or manual) and ``request_id`` (the token: the monitor's pending request,
under which the retraining records its decision once) as job parameters, and the decision record's
``trigger`` says both reason and kind.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal

TriggerKind = Literal["drift", "performance", "schedule", "manual"]
KINDS: tuple[str, ...] = ("drift", "performance", "schedule", "manual")
MAX_TOKEN = 64
"""``run_now`` idempotency tokens are at most 64 characters (databricks-sdk jobs.run_now docstring)."""
MAX_REASON = 1000


def episode_token(model: str, env: str, window_end: datetime | None) -> str:
    """Unique per (model, env, last judged window end); the same inputs give the same token."""
    end = window_end.isoformat() if window_end else "none"
    digest = hashlib.sha256(f"{model}|{env}|{end}".encode()).hexdigest()[:16]
    return f"retrain-{env}-{digest}-{model}"[:MAX_TOKEN]


def trigger_kind(reason: str) -> TriggerKind:
    """What the monitor's decision reason says fired: performance wins over drift when both did."""
    text = reason.lower()
    if "roc_auc" in text or "accuracy" in text:
        return "performance"
    if "drift" in text or "breach" in text:
        return "drift"
    return "manual"


def job_parameters(reason: str, kind: str, request_id: str) -> dict[str, str]:
    """The retraining job's parameters; ``request_id`` is the key its decision is recorded under."""
    return {"reason": reason[:MAX_REASON], "trigger": kind, "request_id": request_id}


def recorded_trigger(kind: str, reason: str) -> str:
    """The decision record's ``trigger``: ``<kind>: <reason>`` (``manual`` alone for a bare run)."""
    if kind not in KINDS:
        raise ValueError(f"trigger {kind!r} is not one of {', '.join(KINDS)}")
    return kind if not reason or reason == kind else f"{kind}: {reason}"
