"""Health checks: endpoint state, and error rate / p99 latency from the metrics export.

The metrics come from ``metrics_export``, a replay of the documented export shape (per-minute
gauges, a latency histogram) served by the fake workspace over HTTP through ``databricks-sdk``.
What this proves: the check's arithmetic on that shape (window sums, a traffic dip, the p99 from
merged buckets, the entity filter) and its call pattern (one reading per minute of the bake).
What it does not prove: the live bucket bounds or label names of a workspace.
"""

from __future__ import annotations

import math

from ml_jobs.serving.endpoint import EndpointView, Served
from ml_jobs.serving.health import (
    HealthResult,
    MetricsCheck,
    all_of,
    endpoint_state_check,
    histogram_quantile,
    parse_prometheus,
)
from tests.ml_jobs.serving.metrics_export import EntityMinute, exposition, series

ENDPOINT = "marketing-churn-gbm-dev"
NEW, OLD = "marketing-churn-gbm-4", "marketing-churn-gbm-3"


def view(ready: str = "READY", deployment: str = "DEPLOYMENT_READY") -> EndpointView:
    return EndpointView(
        ENDPOINT,
        "NOT_UPDATING",
        ready,
        (Served(OLD, None, "3", 90, "DEPLOYMENT_READY"), Served(NEW, None, "4", 10, deployment)),
    )


def canary(requests: int, errors: int = 0, latency_ms: float = 20.0, old_errors: int = 0) -> dict:
    """One minute: the canary (NEW) and the stable version with 9x its traffic."""
    return {
        NEW: EntityMinute(requests, errors, latencies_ms=[latency_ms] * requests),
        OLD: EntityMinute(requests * 9, old_errors),
    }


def metrics_check(fake, new_client, minutes: list[dict], bake_seconds: float | None = None,
                  **kw) -> MetricsCheck:
    fake.add(ENDPOINT, {"3": 100})
    scrapes = series(minutes)
    fake.metrics_text, fake.metrics_calls = (lambda n: scrapes[min(n, len(scrapes) - 1)]), 0
    bake = 60.0 * len(minutes) if bake_seconds is None else bake_seconds
    return MetricsCheck(new_client(), ENDPOINT, bake_seconds=bake, sleep=lambda s: None, **kw)


def test_parses_gauges_histogram_samples_and_timestamps():
    samples = parse_prometheus(exposition({NEW: EntityMinute(3)}, stamp_ms=60_000))
    names = [s.name for s in samples]
    assert names[:3] == ["request_count_total", "request_4xx_count_total", "request_5xx_count_total"]
    assert {"request_latency_ms_bucket", "request_latency_ms_sum", "request_latency_ms_count"} <= set(names)
    first = samples[0]
    assert (first.value, first.timestamp, first.labels) == (3, 60_000, {"served_entity_name": NEW})
    inf = next(s for s in samples if s.labels.get("le") == "+Inf")
    assert inf.value == 3


def test_histogram_quantile_interpolates_inside_the_bucket_like_prometheus():
    buckets = ((10.0, 0.0), (25.0, 99.0), (100.0, 100.0), (math.inf, 100.0))
    assert histogram_quantile(0.99, buckets) == 25.0
    assert histogram_quantile(0.5, buckets) == 10.0 + 15.0 * 50 / 99
    assert histogram_quantile(0.99, ((5.0, 0.0), (math.inf, 10.0))) == 5.0  # in +Inf: highest bound
    assert histogram_quantile(0.99, ((math.inf, 0.0),)) is None


def test_fails_a_canary_answering_30_percent_5xx_every_minute(fake, new_client):
    """Per-minute gauges are level, not growing: subtracting two readings saw 0 requests and passed."""
    check = metrics_check(fake, new_client, [canary(100, 30)] * 2)
    result = check(view(), "4", 10)
    assert not result.ok and "5xx rate 30.00% > 1.00%" in result.reason
    assert result.figures["requests"] == 200 and result.figures["errors_5xx"] == 60
    assert fake.calls() == [f"GET /{ENDPOINT}/metrics"] * 2  # one reading per minute of the bake


def test_a_traffic_dip_minute_still_counts_toward_the_window(fake, new_client):
    """The dip minute's requests all fail; the window's rate (10/610) is over the limit."""
    check = metrics_check(fake, new_client, [canary(300), canary(10, 10), canary(300)])
    result = check(view(), "4", 10)
    assert not result.ok and result.figures["requests"] == 610 and result.figures["errors_5xx"] == 10


def test_passes_through_a_traffic_dip_with_a_low_error_rate(fake, new_client):
    check = metrics_check(fake, new_client, [canary(300, 1), canary(2), canary(300, 1)])
    result = check(view(), "4", 10)
    assert result.ok and result.figures["error_rate"] == 2 / 602


def test_too_few_requests_over_the_whole_window_pass_on_state_alone(fake, new_client):
    check = metrics_check(fake, new_client, [canary(5, 5), canary(0), canary(5, 5)])
    result = check(view(), "4", 0)
    assert result.ok and "too few to judge" in result.reason


def test_max_p99_applies_to_the_canarys_histogram(fake, new_client):
    """p99 comes from the merged ``_bucket`` series; there is no ``quantile`` label in the export."""
    minutes = [canary(100, latency_ms=300.0)] * 2
    result = metrics_check(fake, new_client, minutes, max_p99_latency_ms=200)(view(), "4", 10)
    assert not result.ok and "p99 latency" in result.reason and "> 200 ms" in result.reason
    assert 250 < result.figures["p99_latency_ms"] <= 500
    fast = metrics_check(fake, new_client, [canary(100, latency_ms=20.0)] * 2, max_p99_latency_ms=200)
    assert fast(view(), "4", 10).ok


def test_the_stable_versions_errors_do_not_count_against_the_canary(fake, new_client):
    healthy = metrics_check(fake, new_client, [canary(100, old_errors=500)] * 2)
    assert healthy(view(), "4", 10).ok


def test_a_minute_read_twice_counts_once(fake, new_client):
    """Three readings, but the export still shows minute 1 at the second: 2 distinct minutes."""
    fake.add(ENDPOINT, {"3": 100})
    first, second = series([canary(100, 30), canary(100)])
    scrapes = [first, first, second]
    fake.metrics_text, fake.metrics_calls = (lambda n: scrapes[n]), 0
    check = MetricsCheck(new_client(), ENDPOINT, bake_seconds=180, sleep=lambda s: None)
    result = check(view(), "4", 10)
    assert result.figures["minutes"] == 2 and result.figures["requests"] == 200


def test_bake_zero_reads_once_without_waiting(fake, new_client):
    slept: list[float] = []
    check = metrics_check(fake, new_client, [canary(100)], bake_seconds=0)
    check.sleep = slept.append
    assert check(view(), "4", 10).ok and slept == [0.0] and fake.metrics_calls == 1


def test_fails_closed_when_metrics_are_unavailable(fake, new_client):
    check = metrics_check(fake, new_client, [canary(100)])
    fake.server_errors["/metrics"] = 1
    result = check(view(), "4", 10)
    assert not result.ok and "unavailable" in result.reason


def test_state_check_fails_until_the_entity_is_ready():
    assert endpoint_state_check(view(), "4", 10).ok
    assert not endpoint_state_check(view(deployment="DEPLOYMENT_FAILED"), "4", 10).ok
    assert not endpoint_state_check(view(ready="NOT_READY"), "4", 10).ok
    assert not endpoint_state_check(view(), "7", 10).ok


def test_all_of_stops_at_the_first_failure():
    called: list[str] = []

    def failing(v, version, traffic):
        called.append("failing")
        return HealthResult(False, "nope")

    def never(v, version, traffic):
        called.append("never")
        return HealthResult(True, "ok")

    result = all_of(endpoint_state_check, failing, never)(view(), "4", 10)
    assert not result.ok and result.reason == "nope" and called == ["failing"]
