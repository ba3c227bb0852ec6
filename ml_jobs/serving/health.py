"""Health checks a rollout runs at every traffic step; any callable with the right shape is one.

``EndpointStateCheck`` reads the endpoint (READY, the new version's entity DEPLOYMENT_READY).
``MetricsCheck`` reads the Prometheus/OpenMetrics text of ``/serving-endpoints/{name}/metrics`` once
per minute of the bake window (the export's counts are per-minute gauges, its latency a histogram)
and compares the window's 5xx rate and p99 latency of the new version against thresholds. The
metric names follow the metrics-export documentation; the per-entity label name is a parameter (not
checked against a live workspace here).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ml_jobs.errors import InfraError
from ml_jobs.serving.endpoint import DEPLOYMENT_READY, READY, EndpointView, ServingClient


@dataclass(frozen=True)
class HealthResult:
    ok: bool
    reason: str
    figures: Mapping[str, float] = field(default_factory=dict)


class HealthCheck(Protocol):
    def __call__(self, view: EndpointView, version: str, traffic: int) -> HealthResult: ...


def endpoint_state_check(view: EndpointView, version: str, traffic: int) -> HealthResult:
    """The endpoint is READY and the version's served entity reports DEPLOYMENT_READY."""
    entity = view.entity(version)
    if view.ready != READY:
        return HealthResult(False, f"endpoint {view.name} is {view.ready}, not READY")
    if entity is None:
        return HealthResult(False, f"version {version} is not served by {view.name}")
    if entity.deployment not in (None, DEPLOYMENT_READY):
        return HealthResult(False, f"served entity {entity.name} is {entity.deployment}")
    return HealthResult(True, f"endpoint READY, {entity.name} {entity.deployment or 'ready'} at {traffic}%")


def all_of(*checks: HealthCheck) -> HealthCheck:
    """Run checks in order; the first failure is the answer (later checks are skipped)."""

    def check(view: EndpointView, version: str, traffic: int) -> HealthResult:
        reasons: list[str] = []
        figures: dict[str, float] = {}
        for c in checks:
            result = c(view, version, traffic)
            figures.update(result.figures)
            if not result.ok:
                return HealthResult(False, result.reason, figures)
            reasons.append(result.reason)
        return HealthResult(True, "; ".join(reasons), figures)

    return check


# -- Prometheus / OpenMetrics text ------------------------------------------------------------------
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)(?:\s+(\S+))?")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Sample:
    name: str
    labels: Mapping[str, str]
    value: float
    timestamp: float | None = None


def parse_prometheus(text: str) -> list[Sample]:
    """Samples of the text exposition format (comments and unparsable lines are skipped)."""
    samples = []
    for line in text.splitlines():
        match = _SAMPLE.match(line.strip())
        if not match or line.lstrip().startswith("#"):
            continue
        try:
            value = float(match.group(3))
            stamp = float(match.group(4)) if match.group(4) else None
        except ValueError:
            continue
        samples.append(Sample(match.group(1), dict(_LABEL.findall(match.group(2) or "")), value, stamp))
    return samples


@dataclass(frozen=True)
class Minute:
    """One scrape of the export, for one served entity: counts of the last minute."""

    requests: float
    errors_5xx: float
    buckets: tuple[tuple[float, float], ...]
    """Cumulative latency histogram ``(le, count)`` of the minute, ``le`` ascending (``inf`` last)."""
    stamp: float | None = None


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """Prometheus' ``histogram_quantile``: linear interpolation inside the bucket holding rank q.

    A rank in the ``+Inf`` bucket answers the highest finite bound (as Prometheus does).
    """
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound


def merge_buckets(minutes: Sequence[Minute]) -> tuple[tuple[float, float], ...]:
    """The window's histogram: per-minute bucket counts added bound by bound."""
    total: dict[float, float] = {}
    for m in minutes:
        for bound, count in m.buckets:
            total[bound] = total.get(bound, 0.0) + count
    return tuple(sorted(total.items()))


@dataclass
class MetricsCheck:
    """Error rate and p99 latency of one served entity over a bake window of per-minute readings.

    The export (Databricks, "Track and export serving endpoint health metrics to Prometheus and
    Datadog", docs.databricks.com/aws/en/machine-learning/model-serving/metrics-export-serving-endpoint)
    gives ``request_count_total`` and ``request_5xx_count_total`` as *gauges* holding the last
    minute's count, and ``request_latency_ms`` as a histogram (``_bucket{le=...}``, ``_sum``,
    ``_count``). So the check reads the export once per minute of the bake window and adds the
    minutes up: the error rate is the window's 5xx over its requests, and p99 comes from the
    window's merged histogram. A minute read twice (same sample timestamp) counts once. With fewer
    than ``min_requests`` in the whole window the figures are too thin to judge: it passes on state.
    """

    client: ServingClient
    endpoint: str
    bake_seconds: float = 60.0
    max_error_rate: float = 0.01
    max_p99_latency_ms: float | None = None
    min_requests: int = 20
    """Fewer requests in the window than this: too little evidence, the check passes on state alone."""
    requests_metric: str = "request_count_total"
    errors_metric: str = "request_5xx_count_total"
    latency_metric: str = "request_latency_ms"
    entity_label: str = "served_entity_name"
    minute_seconds: float = 60.0
    sleep: Callable[[float], None] = time.sleep

    def __call__(self, view: EndpointView, version: str, traffic: int) -> HealthResult:
        entity = view.entity(version)
        name = entity.name if entity else ""
        try:
            minutes = self.read_window(name)
        except InfraError as exc:
            # Fail closed: a rollout that cannot see its metrics must not raise traffic.
            return HealthResult(False, str(exc))
        return self.judge(name, minutes)

    def read_window(self, name: str) -> list[Minute]:
        """One reading per minute of the bake window (at least one), each after its minute elapsed."""
        readings = max(1, math.ceil(self.bake_seconds / self.minute_seconds))
        minutes: list[Minute] = []
        seen: set[float] = set()
        left = self.bake_seconds
        for _ in range(readings):
            # Wait the minute out first: each reading is the minute that just ended (bake 0: one now).
            wait = min(self.minute_seconds, max(0.0, left))
            self.sleep(wait)
            left -= wait
            minute = self.minute(parse_prometheus(self.client.metrics(self.endpoint)), name)
            if minute.stamp is not None and minute.stamp in seen:
                continue
            if minute.stamp is not None:
                seen.add(minute.stamp)
            minutes.append(minute)
        return minutes

    def minute(self, samples: list[Sample], name: str) -> Minute:
        mine = [s for s in samples if self._matches(s, name)]
        bucket_name = f"{self.latency_metric}_bucket"
        buckets: dict[float, float] = {}
        for s in mine:
            if s.name == bucket_name and "le" in s.labels:
                bound = float(s.labels["le"])  # "+Inf" parses to inf
                buckets[bound] = buckets.get(bound, 0.0) + s.value
        stamps = [s.timestamp for s in mine if s.name == self.requests_metric and s.timestamp is not None]
        return Minute(
            requests=sum(s.value for s in mine if s.name == self.requests_metric),
            errors_5xx=sum(s.value for s in mine if s.name == self.errors_metric),
            buckets=tuple(sorted(buckets.items())),
            stamp=max(stamps) if stamps else None,
        )

    def judge(self, name: str, minutes: Sequence[Minute]) -> HealthResult:
        requests = sum(m.requests for m in minutes)
        errors = sum(m.errors_5xx for m in minutes)
        figures: dict[str, float] = {"minutes": len(minutes), "requests": requests, "errors_5xx": errors}
        p99 = histogram_quantile(0.99, merge_buckets(minutes))
        if p99 is not None:
            figures["p99_latency_ms"] = p99
        if requests < self.min_requests:
            return HealthResult(True, f"{requests:g} requests in {len(minutes)} min "
                                      f"(< {self.min_requests}): too few to judge", figures)
        rate = errors / requests
        figures["error_rate"] = rate
        if rate > self.max_error_rate:
            return HealthResult(False, f"{name}: 5xx rate {rate:.2%} > {self.max_error_rate:.2%} "
                                       f"({errors:g}/{requests:g} over {len(minutes)} min)", figures)
        if self.max_p99_latency_ms is not None and p99 is not None and p99 > self.max_p99_latency_ms:
            limit = self.max_p99_latency_ms
            return HealthResult(False, f"{name}: p99 latency {p99:g} ms > {limit:g} ms", figures)
        return HealthResult(True, f"{name}: 5xx rate {rate:.2%} over {requests:g} requests", figures)

    def _matches(self, s: Sample, name: str) -> bool:
        # Without a per-entity label the figure is endpoint-wide: a canary's errors are diluted.
        return self.entity_label not in s.labels or s.labels[self.entity_label] == name
