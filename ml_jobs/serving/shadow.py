"""Shadow rollout: score the candidate on logged production requests offline, next to the baseline.

No traffic moves. Both models score the same rows; the report says how often they agree, how far
their scores are apart (mean absolute difference, PSI of the candidate's scores on the baseline's
quantile bins) and what a single-row prediction costs each. Predictors are plain callables
(``DataFrame -> scores``), so the comparison runs the same on registry models and in tests.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ml_jobs.errors import BadInput

Predict = Callable[[pd.DataFrame], Any]
PSI_BINS = 10
PSI_EPSILON = 1e-4


@dataclass(frozen=True)
class ShadowThresholds:
    min_agreement: float = 0.90
    """Share of requests where both give the same class (scores cut at ``decision_threshold``)."""
    max_psi: float = 0.25
    """Above 0.25 the score distribution has moved a lot (the usual PSI rule of thumb)."""
    max_latency_ratio: float = 2.0
    """Candidate p95 single-row latency may be at most this multiple of the baseline's."""
    decision_threshold: float = 0.5


@dataclass
class ShadowReport:
    n_requests: int
    agreement: float
    mean_abs_diff: float
    max_abs_diff: float
    psi: float
    baseline_mean_score: float
    candidate_mean_score: float
    baseline_p95_ms: float
    candidate_p95_ms: float
    passed: bool
    reasons: list[str] = field(default_factory=list)


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = PSI_BINS) -> float:
    """PSI of ``actual`` on ``expected``'s quantile bins (deduplicated edges, open outer bins)."""
    inner = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)[1:-1]))
    edges = np.concatenate(([-np.inf], inner, [np.inf]))
    e = np.histogram(expected, edges)[0] / len(expected) + PSI_EPSILON
    a = np.histogram(actual, edges)[0] / len(actual) + PSI_EPSILON
    return float(np.sum((a - e) * np.log(a / e)))


def _scores(predict: Predict, frame: pd.DataFrame, who: str) -> np.ndarray:
    out = np.asarray(predict(frame), dtype=float).reshape(len(frame), -1)
    if out.shape[1] != 1:
        raise BadInput(f"shadow: the {who} predictor returned {out.shape[1]} columns per row, "
                       f"expected one score")
    return out[:, 0]


def _p95_single_row_ms(predict: Predict, frame: pd.DataFrame, n: int) -> float:
    rows = [frame.iloc[[i]] for i in range(min(n, len(frame)))]
    predict(rows[0])  # warm-up: the first call pays for lazy imports
    samples = []
    for row in rows:
        start = time.perf_counter()
        predict(row)
        samples.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(samples, 95))


def compare(requests: pd.DataFrame, baseline: Predict, candidate: Predict,
            thresholds: ShadowThresholds | None = None, latency_rows: int = 50) -> ShadowReport:
    """Score ``requests`` with both predictors and judge the candidate against ``thresholds``."""
    t = thresholds or ShadowThresholds()
    if requests.empty:
        raise BadInput("shadow: no logged requests to compare on")
    base, cand = _scores(baseline, requests, "baseline"), _scores(candidate, requests, "candidate")
    diff = np.abs(cand - base)
    agreement = float(np.mean((base >= t.decision_threshold) == (cand >= t.decision_threshold)))
    report = ShadowReport(
        n_requests=len(requests),
        agreement=agreement,
        mean_abs_diff=float(diff.mean()),
        max_abs_diff=float(diff.max()),
        psi=psi(base, cand),
        baseline_mean_score=float(base.mean()),
        candidate_mean_score=float(cand.mean()),
        baseline_p95_ms=_p95_single_row_ms(baseline, requests, latency_rows),
        candidate_p95_ms=_p95_single_row_ms(candidate, requests, latency_rows),
        passed=True,
    )
    report.reasons = _breaches(report, t)
    report.passed = not report.reasons
    return report


def _breaches(r: ShadowReport, t: ShadowThresholds) -> list[str]:
    reasons = []
    if r.agreement < t.min_agreement:
        reasons.append(f"agreement {r.agreement:.3f} < {t.min_agreement}")
    if r.psi > t.max_psi:
        reasons.append(f"score PSI {r.psi:.3f} > {t.max_psi}")
    # A floor of 1 ms keeps sub-millisecond noise from deciding the latency ratio.
    if r.candidate_p95_ms > t.max_latency_ratio * max(r.baseline_p95_ms, 1.0):
        reasons.append(f"p95 latency {r.candidate_p95_ms:.2f} ms > {t.max_latency_ratio} x baseline "
                       f"{r.baseline_p95_ms:.2f} ms")
    return reasons


# -- logged requests --------------------------------------------------------------------------------
def requests_frame(logged: pd.DataFrame, features: Sequence[str], source: str) -> pd.DataFrame:
    """Feature rows from an inference log: feature columns as they are, or the ``request`` JSON of a
    payload table (``dataframe_records``, ``dataframe_split``, ``instances`` or ``inputs``)."""
    wanted = list(features)
    if set(wanted) <= set(logged.columns):
        return logged[wanted].reset_index(drop=True)
    if "request" not in logged.columns:
        raise BadInput(f"{source}: neither the feature columns {wanted} nor a 'request' column; "
                       f"present: {sorted(map(str, logged.columns))}")
    frames = [_parse_request(raw, source, i) for i, raw in enumerate(logged["request"]) if raw is not None]
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=wanted)
    missing = [c for c in wanted if c not in rows.columns]
    if missing:
        raise BadInput(f"{source}: logged requests lack features {missing}")
    return rows[wanted]


def _parse_request(raw: Any, source: str, row: int) -> pd.DataFrame:
    try:
        body = json.loads(raw) if isinstance(raw, str | bytes) else raw
    except json.JSONDecodeError as exc:
        raise BadInput(f"{source}: request of row {row} is not JSON: {exc}") from exc
    if isinstance(body, dict):
        if "dataframe_split" in body:
            split = body["dataframe_split"]
            return pd.DataFrame(split["data"], columns=split["columns"])
        for key in ("dataframe_records", "instances", "inputs"):
            if key in body:
                return pd.DataFrame(body[key])
    raise BadInput(f"{source}: request of row {row} has none of dataframe_split, dataframe_records, "
                   f"instances, inputs")
