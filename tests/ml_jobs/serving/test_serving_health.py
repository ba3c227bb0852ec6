"""Health checks: endpoint state, and error rate / latency from the Prometheus metrics export."""

from __future__ import annotations

from ml_jobs.serving.endpoint import EndpointView, Served
from ml_jobs.serving.health import HealthResult, MetricsCheck, all_of, endpoint_state_check, parse_prometheus

ENDPOINT = "marketing-churn-gbm-dev"
NEW = "marketing-churn-gbm-4"


def view(ready: str = "READY", deployment: str = "DEPLOYMENT_READY") -> EndpointView:
    return EndpointView(
        ENDPOINT,
        "NOT_UPDATING",
        ready,
        (
            Served("marketing-churn-gbm-3", None, "3", 90, "DEPLOYMENT_READY"),
            Served(NEW, None, "4", 10, deployment),
        ),
    )


def counters(requests: float, errors: float, p99: float | None = None, other_errors: float = 0) -> str:
    lines = [
        "# HELP request_count_total Requests",
        "# TYPE request_count_total counter",
        f'request_count_total{{served_entity_name="{NEW}"}} {requests}',
        f'request_5xx_count_total{{served_entity_name="{NEW}"}} {errors}',
        f'request_count_total{{served_entity_name="marketing-churn-gbm-3"}} {requests * 9}',
        f'request_5xx_count_total{{served_entity_name="marketing-churn-gbm-3"}} {other_errors}',
    ]
    if p99 is not None:
        lines.append(f'request_latency_ms{{served_entity_name="{NEW}",quantile="0.99"}} {p99}')
    return "\n".join(lines) + "\n"


def metrics_check(fake, new_client, scrapes: list[str], **kw) -> MetricsCheck:
    fake.add(ENDPOINT, {"3": 100})
    fake.metrics_text, fake.metrics_calls = (lambda n: scrapes[n]), 0
    return MetricsCheck(new_client(), ENDPOINT, bake_seconds=30, sleep=lambda s: None, **kw)


def test_parses_samples_with_labels_and_skips_comments():
    samples = parse_prometheus(counters(100, 2, p99=40.5))
    assert len(samples) == 5
    first = samples[0]
    assert (first.name, first.value) == ("request_count_total", 100)
    assert first.labels == {"served_entity_name": NEW}
    assert samples[-1].labels == {"served_entity_name": NEW, "quantile": "0.99"}


def test_passes_on_a_low_error_rate_over_the_bake_window(fake, new_client):
    check = metrics_check(fake, new_client, [counters(1000, 50), counters(1500, 52)])
    result = check(view(), "4", 10)
    assert result.ok
    assert result.figures == {"requests": 500, "errors_5xx": 2, "error_rate": 0.004}
    assert fake.calls() == [f"GET /{ENDPOINT}/metrics"] * 2


def test_fails_on_the_new_versions_error_rate_only(fake, new_client):
    check = metrics_check(fake, new_client, [counters(1000, 0), counters(1100, 5)])
    assert not check(view(), "4", 10).ok
    # Errors of the stable version do not count against the new one.
    healthy = metrics_check(fake, new_client, [counters(1000, 0), counters(1100, 0, other_errors=500)])
    assert healthy(view(), "4", 10).ok


def test_fails_on_p99_latency_above_the_limit(fake, new_client):
    scrapes = [counters(0, 0), counters(100, 0, p99=250)]
    check = metrics_check(fake, new_client, scrapes, max_p99_latency_ms=200)
    result = check(view(), "4", 10)
    assert not result.ok and "p99 latency 250 ms > 200 ms" in result.reason


def test_too_few_requests_pass_on_state_alone(fake, new_client):
    check = metrics_check(fake, new_client, [counters(0, 0), counters(5, 5)])
    result = check(view(), "4", 0)
    assert result.ok and "too few to judge" in result.reason


def test_fails_closed_when_metrics_are_unavailable(fake, new_client):
    check = metrics_check(fake, new_client, [counters(0, 0), counters(100, 0)])
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
