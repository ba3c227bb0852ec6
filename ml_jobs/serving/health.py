"""Health checks a rollout runs at every traffic step; any callable with the right shape is one.

``EndpointStateCheck`` reads the endpoint (READY, the new version's entity DEPLOYMENT_READY).
``MetricsCheck`` reads the Prometheus text of ``/serving-endpoints/{name}/metrics`` twice, a bake
time apart, and compares the 5xx rate and p99 latency of the new version against thresholds. The
metric and label names are parameters: they follow the metrics-export documentation but have not
been checked against a live workspace here.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
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


# -- Prometheus text --------------------------------------------------------------------------------
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Sample:
    name: str
    labels: Mapping[str, str]
    value: float


def parse_prometheus(text: str) -> list[Sample]:
    """Samples of the text exposition format (comments and unparsable lines are skipped)."""
    samples = []
    for line in text.splitlines():
        match = _SAMPLE.match(line.strip())
        if not match or line.lstrip().startswith("#"):
            continue
        try:
            value = float(match.group(3))
        except ValueError:
            continue
        samples.append(Sample(match.group(1), dict(_LABEL.findall(match.group(2) or "")), value))
    return samples


@dataclass
class MetricsCheck:
    """Error rate and p99 latency of one served entity over a bake window (counters are cumulative)."""

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
    sleep: Callable[[float], None] = time.sleep

    def __call__(self, view: EndpointView, version: str, traffic: int) -> HealthResult:
        entity = view.entity(version)
        name = entity.name if entity else ""
        try:
            before = parse_prometheus(self.client.metrics(self.endpoint))
            self.sleep(self.bake_seconds)
            after = parse_prometheus(self.client.metrics(self.endpoint))
        except InfraError as exc:
            # Fail closed: a rollout that cannot see its metrics must not raise traffic.
            return HealthResult(False, str(exc))
        requests = self._delta(before, after, self.requests_metric, name)
        errors = self._delta(before, after, self.errors_metric, name)
        figures: dict[str, float] = {"requests": requests, "errors_5xx": errors}
        p99 = self._p99(after, name)
        if p99 is not None:
            figures["p99_latency_ms"] = p99
        if requests < self.min_requests:
            return HealthResult(True, f"{requests:g} requests in {self.bake_seconds:g} s "
                                      f"(< {self.min_requests}): too few to judge errors", figures)
        rate = errors / requests
        figures["error_rate"] = rate
        if rate > self.max_error_rate:
            return HealthResult(False, f"{name}: 5xx rate {rate:.2%} > {self.max_error_rate:.2%} "
                                       f"({errors:g}/{requests:g})", figures)
        if self.max_p99_latency_ms is not None and p99 is not None and p99 > self.max_p99_latency_ms:
            limit = self.max_p99_latency_ms
            return HealthResult(False, f"{name}: p99 latency {p99:g} ms > {limit:g} ms", figures)
        return HealthResult(True, f"{name}: 5xx rate {rate:.2%} over {requests:g} requests", figures)

    def _matches(self, s: Sample, name: str) -> bool:
        # Without a per-entity label the figure is endpoint-wide: a canary's errors are diluted.
        return self.entity_label not in s.labels or s.labels[self.entity_label] == name

    def _delta(self, before: list[Sample], after: list[Sample], metric: str, name: str) -> float:
        return self._total(after, metric, name) - self._total(before, metric, name)

    def _total(self, samples: list[Sample], metric: str, name: str) -> float:
        return sum(s.value for s in samples if s.name == metric and self._matches(s, name))

    def _p99(self, samples: list[Sample], name: str) -> float | None:
        values = [s.value for s in samples if s.name == self.latency_metric
                  and s.labels.get("quantile") == "0.99" and self._matches(s, name)]
        return max(values) if values else None
