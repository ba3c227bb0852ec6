"""A replay of the serving endpoint metrics export, in the documented shape.

Follows Databricks, "Track and export serving endpoint health metrics to Prometheus and Datadog"
(docs.databricks.com/aws/en/machine-learning/model-serving/metrics-export-serving-endpoint) and the
REST reference of ``GET /api/2.0/serving-endpoints/{name}/metrics`` (Prometheus or OpenMetrics
exposition text): ``request_count_total``, ``request_4xx_count_total`` and
``request_5xx_count_total`` are *gauges* holding the count of the last minute (the page's Datadog
config declares them ``type: gauge``; the rates it describes are "the number of requests within a
minute" divided by 60), and ``request_latency_ms`` is a *histogram* (``_bucket{le=...}``, ``_sum``,
``_count``) of that minute. Each served entity's samples carry a ``served_entity_name`` label.

What it does not prove: the exact bucket bounds and label set of a live workspace (the bounds
here are ours), nor the export's own timing (when a minute rolls over).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

BOUNDS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, math.inf)


@dataclass(frozen=True)
class EntityMinute:
    """What one served entity did in one minute."""

    requests: int
    errors_5xx: int = 0
    errors_4xx: int = 0
    latencies_ms: Sequence[float] = field(default_factory=tuple)
    """Latency of each request (default: every request takes 20 ms)."""

    def latencies(self) -> list[float]:
        return list(self.latencies_ms) if self.latencies_ms else [20.0] * self.requests


def exposition(minute: Mapping[str, EntityMinute], stamp_ms: int | None = None) -> str:
    """The export's text for one minute, ``{served_entity_name: what it did}``."""
    at = f" {stamp_ms}" if stamp_ms is not None else ""
    lines: list[str] = []
    for metric, pick in (
        ("request_count_total", lambda m: m.requests),
        ("request_4xx_count_total", lambda m: m.errors_4xx),
        ("request_5xx_count_total", lambda m: m.errors_5xx),
    ):
        lines += [f"# TYPE {metric} gauge"]
        lines += [f'{metric}{{served_entity_name="{n}"}} {pick(m)}{at}' for n, m in minute.items()]
    lines.append("# TYPE request_latency_ms histogram")
    for name, m in minute.items():
        values = m.latencies()
        for bound in BOUNDS_MS:
            le = "+Inf" if math.isinf(bound) else f"{float(bound)}"
            count = sum(1 for v in values if v <= bound)
            lines.append(f'request_latency_ms_bucket{{served_entity_name="{name}",le="{le}"}} {count}{at}')
        lines.append(f'request_latency_ms_sum{{served_entity_name="{name}"}} {sum(values)}{at}')
        lines.append(f'request_latency_ms_count{{served_entity_name="{name}"}} {len(values)}{at}')
    return "\n".join(lines) + "\n"


def series(minutes: Sequence[Mapping[str, EntityMinute]]) -> list[str]:
    """One exposition per minute, stamped one minute apart (what successive scrapes see)."""
    return [exposition(m, stamp_ms=60_000 * (i + 1)) for i, m in enumerate(minutes)]
