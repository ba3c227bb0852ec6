"""The ``deploy`` entry point end to end: arguments, local registry, fake workspace, exit codes."""

from __future__ import annotations

import json

import pytest

from ml_jobs.deploy import main
from ml_jobs.errors import EXIT_BAD_INPUT, EXIT_INFRA, EXIT_OK, EXIT_REFUSED
from tests.ml_jobs.serving.metrics_export import EntityMinute, exposition

ENDPOINT = "marketing-churn-gbm-dev"
pytestmark = pytest.mark.usefixtures("deploy_env")


@pytest.fixture
def run(fake_serving, registry_root, monkeypatch, capsys):
    """``run(*extra_args) -> (exit code, printed JSON or None, stderr)`` against the fake workspace."""
    _, url = fake_serving
    monkeypatch.setenv("DATABRICKS_TOKEN", "x")

    def run_(
        *extra: str, host: str | None = url, model: str = "marketing_churn_gbm"
    ) -> tuple[int, dict | None, str]:
        argv = [
            "--model",
            model,
            "--env",
            "dev",
            "--local-root",
            str(registry_root),
            "--bake-seconds",
            "0",
            "--poll-seconds",
            "0.01",
            "--api-retry-seconds",
            "1",
            *extra,
        ]
        if host:
            argv += ["--host", host]
        code = main(argv)
        out, err = capsys.readouterr()
        return code, (json.loads(out) if out.strip() else None), err

    return run_


def first_put(fake) -> dict:
    return next(body for method, _, body in fake.requests if method == "PUT")


def failing_metrics(entity: str):
    """The documented export (per-minute gauges) where ``entity`` answers 10% of requests with a 5xx."""
    text = exposition({entity: EntityMinute(100, 10)}, stamp_ms=60_000)
    return lambda n: text


def test_deploys_the_champion_with_the_job_parameters(fake, run, set_aliases):
    fake.add(ENDPOINT, {"1": 100})
    set_aliases(champion="2", previous_champion="1")
    code, out, _ = run("--workload_size", "Small", "--scale_to_zero", "true", "--rollout", "canary")
    assert code == EXIT_OK and out["status"] == "done"
    assert fake.updates() == [{"1": 90, "2": 10}, {"1": 50, "2": 50}, {"1": 0, "2": 100}, {"2": 100}]
    sent = first_put(fake)["served_entities"]
    assert {e["name"]: (e["workload_size"], e["scale_to_zero_enabled"]) for e in sent} == {
        "marketing-churn-gbm-1": ("Small", True),
        "marketing-churn-gbm-2": ("Small", True),
    }
    assert all(e["entity_name"] == "mlops_dev.models.marketing_churn_gbm" for e in sent)


def test_the_new_entity_gets_the_requested_compute(fake, run, set_aliases):
    fake.add(ENDPOINT, {"1": 100})
    set_aliases(champion="2")
    run("--workload_size", "Medium", "--scale_to_zero", "false", "--rollout", "blue_green")
    sent = first_put(fake)["served_entities"]
    assert {e["name"]: (e["workload_size"], e["scale_to_zero_enabled"]) for e in sent} == {
        "marketing-churn-gbm-1": ("Small", True),
        "marketing-churn-gbm-2": ("Medium", False),
    }
    assert fake.updates() == [{"1": 100, "2": 0}, {"1": 0, "2": 100}]


def test_rolls_back_and_exits_1_when_the_canary_answers_errors(fake, run, set_aliases):
    fake.add(ENDPOINT, {"1": 100})
    fake.metrics_text = failing_metrics("marketing-churn-gbm-2")
    set_aliases(champion="2")
    code, out, _ = run()
    assert code == EXIT_REFUSED and out["status"] == "rolled_back"
    assert fake.updates() == [{"1": 90, "2": 10}, {"1": 100}]
    assert fake.serving() == {"1": 100}
    assert "5xx rate 10.00% > 1.00%" in out["message"]
    figures = out["steps"][0]["figures"]
    assert {k: figures[k] for k in ("minutes", "requests", "errors_5xx", "error_rate")} == {
        "minutes": 1, "requests": 100.0, "errors_5xx": 10.0, "error_rate": 0.1}


def test_max_p99_ms_rolls_back_a_slow_canary(fake, run, set_aliases):
    """``--max-p99-ms`` reads the export's latency histogram (it used to look for a quantile label)."""
    fake.add(ENDPOINT, {"1": 100})
    slow = exposition({"marketing-churn-gbm-2": EntityMinute(100, latencies_ms=[800.0] * 100)}, 60_000)
    fake.metrics_text = lambda n: slow
    set_aliases(champion="2")
    code, out, _ = run("--max-p99-ms", "300")
    assert code == EXIT_REFUSED and out["status"] == "rolled_back" and fake.serving() == {"1": 100}
    assert "p99 latency" in out["message"] and "> 300 ms" in out["message"]


def test_plan_prints_the_configs_and_sends_none(fake, run, set_aliases):
    fake.add(ENDPOINT, {"1": 90, "2": 10})
    set_aliases(champion="2")
    code, out, _ = run("--plan")
    assert code == EXIT_OK
    assert out["planned"] == [{"1": 50, "2": 50}, {"1": 0, "2": 100}, {"2": 100}]
    assert fake.updates() == []


def test_rollback_switches_back_to_the_last_good_version(fake, run, set_aliases):
    fake.add(ENDPOINT, {"1": 50, "2": 50})
    set_aliases(champion="2")
    code, out, _ = run("--rollback")
    assert code == EXIT_REFUSED and out["stable"] == "1"
    assert fake.serving() == {"1": 100}


def test_an_explicit_version_wins_over_the_alias(fake, run, set_aliases):
    fake.add(ENDPOINT, {"1": 100})
    set_aliases(champion="2")
    code, out, _ = run("--version", "3", "--rollout", "blue_green")
    assert code == EXIT_OK and out["target"] == "3"


# -- exit 2 -----------------------------------------------------------------------------------------
def test_fails_without_a_champion(fake, run, set_aliases):
    fake.add(ENDPOINT, {"1": 100})
    set_aliases()
    code, out, err = run()
    assert code == EXIT_BAD_INPUT and out is None
    assert "has none of the aliases ['champion']" in err
    assert fake.requests == []


def test_fails_on_a_version_the_registry_does_not_have(fake, run, set_aliases):
    fake.add(ENDPOINT, {"1": 100})
    code, _, err = run("--version", "9")
    assert code == EXIT_BAD_INPUT and "has no version 9" in err


def test_fails_on_a_model_without_serving(run):
    code, _, err = run(model="risk_fraud_xgb")
    assert code == EXIT_BAD_INPUT
    assert "models.risk_fraud_xgb.serving.enabled is false in dev" in err


def test_fails_on_a_bad_scale_to_zero_value(run):
    with pytest.raises(SystemExit) as exc:
        run("--scale_to_zero", "maybe")
    assert exc.value.code == EXIT_BAD_INPUT


def test_fails_without_a_workspace_and_says_what_works_locally(run, set_aliases, monkeypatch):
    monkeypatch.delenv("DATABRICKS_TOKEN")
    set_aliases(champion="2")
    code, _, err = run(host=None)
    assert code == EXIT_BAD_INPUT
    assert "no Databricks workspace configured" in err and "make serve" in err


# -- exit 3 -----------------------------------------------------------------------------------------
def test_fails_when_the_endpoint_does_not_exist(run, set_aliases):
    set_aliases(champion="2")
    code, _, err = run()
    assert code == EXIT_INFRA and "stack creates it" in err


def test_fails_when_the_workspace_does_not_answer(run, set_aliases):
    set_aliases(champion="2")
    code, _, err = run(host="http://127.0.0.1:9")  # discard port: connection refused
    assert code == EXIT_INFRA and "Databricks API call failed" in err


def test_fails_when_the_update_never_becomes_ready(fake, run, set_aliases):
    fake.add(ENDPOINT, {"1": 100})
    fake.ready_after_polls = 10**6
    set_aliases(champion="2")
    code, _, err = run("--ready-timeout", "0.3")
    assert code == EXIT_INFRA and "not ready after 0.3 s" in err
    assert fake.serving() == {"1": 100}
