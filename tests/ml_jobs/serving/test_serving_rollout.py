"""Rollouts against the fake serving API: the SDK calls, the traffic configs, rollback and resume."""

from __future__ import annotations

import pytest

from ml_jobs.errors import EXIT_BAD_INPUT, EXIT_INFRA, EXIT_REFUSED, BadInput, InfraError
from ml_jobs.serving.endpoint import EndpointMissing, ReadyTimeout
from ml_jobs.serving.health import HealthResult, endpoint_state_check
from ml_jobs.serving.rollout import (
    DONE,
    FAILED,
    ROLLED_BACK,
    UNCHANGED,
    RolloutPlan,
    abort,
    restore,
    rollout,
)

ENDPOINT = "marketing-churn-gbm-dev"


class Crash(Exception):
    """Stands for the deploy process dying between two calls."""


def plan(target: str = "4", strategy: str = "canary", **kw: object) -> RolloutPlan:
    return RolloutPlan(endpoint=ENDPOINT, target=target, strategy=strategy, ready_timeout_s=60, **kw)  # type: ignore[arg-type]


def unhealthy_at(traffic: int):
    """A health check that fails once the target gets ``traffic`` percent."""
    seen: list[int] = []

    def check(view, version, share):
        seen.append(share)
        if share == traffic:
            return HealthResult(False, f"injected failure at {share}%")
        return endpoint_state_check(view, version, share)

    check.seen = seen  # type: ignore[attr-defined]
    return check


def crash_on(event: str, split: dict[str, int]):
    def hook(e, s):
        if e == event and dict(s) == split:
            raise Crash(f"{e} {s}")

    return hook


# -- canary -----------------------------------------------------------------------------------------
def test_canary_raises_traffic_in_steps_then_drops_the_old_version(fake, new_client):
    fake.add(ENDPOINT, {"3": 100})
    result = rollout(new_client(), plan(), endpoint_state_check)
    assert result.status == DONE and result.exit_code == 0
    assert fake.updates() == [{"3": 90, "4": 10}, {"3": 50, "4": 50}, {"3": 0, "4": 100}, {"4": 100}]
    assert (
        fake.calls()
        == ["GET /marketing-churn-gbm-dev"]
        + ["PUT /marketing-churn-gbm-dev/config", "GET /marketing-churn-gbm-dev"] * 4
    )
    assert fake.serving() == {"4": 100}
    assert [s.health.ok for s in result.steps if s.health] == [True, True, True]


def test_canary_follows_the_spec_steps(fake, new_client):
    fake.add(ENDPOINT, {"3": 100})
    rollout(new_client(), plan(canary_steps=(25, 100)), endpoint_state_check)
    assert fake.updates() == [{"3": 75, "4": 25}, {"3": 0, "4": 100}, {"4": 100}]


def test_canary_rolls_back_when_a_health_check_fails(fake, new_client):
    fake.add(ENDPOINT, {"3": 100})
    check = unhealthy_at(50)
    result = rollout(new_client(), plan(), check)
    assert result.status == ROLLED_BACK and result.exit_code == EXIT_REFUSED
    assert fake.updates() == [{"3": 90, "4": 10}, {"3": 50, "4": 50}, {"3": 100}]
    assert fake.serving() == {"3": 100}
    assert check.seen == [10, 50]
    assert "injected failure at 50%" in result.message


def test_canary_rolls_back_when_an_update_fails(fake, new_client):
    fake.add(ENDPOINT, {"3": 100})
    fake.fail_update = lambda split: split.get("4") == 50
    result = rollout(new_client(), plan(), endpoint_state_check)
    assert result.status == ROLLED_BACK
    assert fake.updates() == [{"3": 90, "4": 10}, {"3": 50, "4": 50}, {"3": 100}]
    assert fake.serving() == {"3": 100}
    assert "UPDATE_FAILED" in result.message


def test_a_failed_first_step_needs_no_rollback_update(fake, new_client):
    fake.add(ENDPOINT, {"3": 100})
    fake.fail_update = lambda split: split.get("4") == 10
    result = rollout(new_client(), plan(), endpoint_state_check)
    assert result.status == ROLLED_BACK
    assert fake.updates() == [{"3": 90, "4": 10}]  # the failed update left {3: 100} active
    assert fake.serving() == {"3": 100}


def test_fails_as_infrastructure_when_only_dropping_the_old_version_fails(fake, new_client):
    fake.add(ENDPOINT, {"3": 100})
    fake.fail_update = lambda split: split == {"4": 100}
    with pytest.raises(InfraError, match="re-run deploy to finish") as err:
        rollout(new_client(), plan(), endpoint_state_check)
    assert err.value.exit_code == EXIT_INFRA
    assert fake.serving() == {"3": 0, "4": 100}  # the checked version keeps all traffic
    fake.fail_update = lambda split: False
    assert rollout(new_client(), plan(), endpoint_state_check).status == DONE
    assert fake.serving() == {"4": 100}


# -- blue-green -------------------------------------------------------------------------------------
def test_blue_green_readies_beside_then_switches_at_once_keeping_the_old_warm(fake, new_client):
    fake.add(ENDPOINT, {"3": 100})
    check = unhealthy_at(-1)
    result = rollout(new_client(), plan(strategy="blue_green"), check)
    assert result.status == DONE
    assert fake.updates() == [{"3": 100, "4": 0}, {"3": 0, "4": 100}]
    assert (
        fake.calls()
        == ["GET /marketing-churn-gbm-dev"]
        + ["PUT /marketing-churn-gbm-dev/config", "GET /marketing-churn-gbm-dev"] * 2
    )
    assert fake.serving() == {"3": 0, "4": 100}
    assert check.seen == [0, 100]


def test_blue_green_switches_back_when_the_new_version_fails_after_the_switch(fake, new_client):
    fake.add(ENDPOINT, {"3": 100})
    result = rollout(new_client(), plan(strategy="blue_green"), unhealthy_at(100))
    assert result.status == ROLLED_BACK
    assert fake.updates() == [{"3": 100, "4": 0}, {"3": 0, "4": 100}, {"3": 100}]
    assert fake.serving() == {"3": 100}


def test_blue_green_never_switches_when_the_new_version_fails_to_deploy(fake, new_client):
    fake.add(ENDPOINT, {"3": 100})
    fake.fail_update = lambda split: split == {"3": 100, "4": 0}
    result = rollout(new_client(), plan(strategy="blue_green"), endpoint_state_check)
    assert result.status == ROLLED_BACK
    assert fake.updates() == [{"3": 100, "4": 0}]
    assert fake.serving() == {"3": 100}


def test_next_rollout_drops_the_warm_previous_version(fake, new_client):
    fake.add(ENDPOINT, {"3": 0, "4": 100})
    rollout(new_client(), plan("5", "blue_green"), endpoint_state_check)
    assert fake.updates() == [{"4": 100, "5": 0}, {"4": 0, "5": 100}]


# -- first deploy, no-op ----------------------------------------------------------------------------
def test_first_deploy_on_an_endpoint_without_config_serves_the_version(fake, new_client):
    fake.add(ENDPOINT)
    result = rollout(new_client(), plan(), endpoint_state_check)
    assert result.status == DONE
    assert fake.updates() == [{"4": 100}]


def test_fails_first_deploy_health_with_nothing_to_fall_back_to(fake, new_client):
    fake.add(ENDPOINT)
    result = rollout(new_client(), plan(), unhealthy_at(100))
    assert result.status == FAILED and result.exit_code == EXIT_REFUSED
    assert "no earlier version" in result.message


def test_deploying_the_served_version_again_changes_nothing(fake, new_client):
    fake.add(ENDPOINT, {"4": 100})
    result = rollout(new_client(), plan(), endpoint_state_check)
    assert result.status == UNCHANGED and result.exit_code == 0
    assert fake.updates() == []


# -- slow readiness, errors -------------------------------------------------------------------------
def test_fails_with_a_timeout_when_slow_and_keeps_serving_the_old_config(fake, new_client, clock):
    fake.add(ENDPOINT, {"3": 100})
    fake.ready_after_polls = 10**6
    with pytest.raises(ReadyTimeout) as err:
        rollout(new_client(), plan(), endpoint_state_check)
    assert err.value.exit_code == EXIT_INFRA
    assert "not ready after 60 s" in str(err.value)
    assert clock.now == pytest.approx(60)
    assert fake.serving() == {"3": 100}


def test_resumes_once_a_slow_update_lands_without_sending_it_again(fake, new_client):
    fake.add(ENDPOINT, {"3": 100})
    fake.ready_after_polls = 10**6
    with pytest.raises(ReadyTimeout):
        rollout(new_client(), plan(), endpoint_state_check)
    fake.endpoints[ENDPOINT].polls_left = 2  # Databricks finishes the update a little later
    fake.ready_after_polls = 1
    result = rollout(new_client(), plan(), endpoint_state_check)
    assert result.status == DONE
    assert fake.updates() == [{"3": 90, "4": 10}, {"3": 50, "4": 50}, {"3": 0, "4": 100}, {"4": 100}]
    assert result.steps[0].split == {"3": 90, "4": 10} and not result.steps[0].sent


def test_fails_with_an_infrastructure_error_on_a_server_error(fake, new_client):
    fake.add(ENDPOINT, {"3": 100})
    fake.server_errors["/config"] = 1
    with pytest.raises(InfraError) as err:
        rollout(new_client(), plan(), endpoint_state_check)
    assert err.value.exit_code == EXIT_INFRA and "injected server error" in str(err.value)
    assert fake.serving() == {"3": 100}


def test_fails_when_the_endpoint_does_not_exist(fake, new_client):
    with pytest.raises(EndpointMissing, match="stack creates it"):
        rollout(new_client(), plan(), endpoint_state_check)


def test_fails_on_an_endpoint_serving_another_model(fake, new_client):
    fake.add(ENDPOINT, {"3": 100})
    fake.endpoints[ENDPOINT].config["served_entities"][0]["entity_name"] = "other.models.thing"
    with pytest.raises(BadInput, match=r"not versions of mlops_dev\.models\.marketing_churn_gbm") as err:
        rollout(new_client(), plan(), endpoint_state_check)
    assert err.value.exit_code == EXIT_BAD_INPUT


# -- crash and resume -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("event", "split"),
    [
        ("applied", {"3": 50, "4": 50}),
        ("ready", {"3": 50, "4": 50}),
        ("applied", {"3": 0, "4": 100}),
        ("applied", {"4": 100}),
    ],
)
def test_resumes_a_crashed_canary_and_sends_each_config_once(fake, new_client, event, split):
    fake.add(ENDPOINT, {"3": 100})
    with pytest.raises(Crash):
        rollout(new_client(), plan(), endpoint_state_check, hook=crash_on(event, split))
    result = rollout(new_client(), plan(), endpoint_state_check)
    assert result.status in (DONE, UNCHANGED)  # UNCHANGED: the last config landed before the crash
    assert fake.updates() == [{"3": 90, "4": 10}, {"3": 50, "4": 50}, {"3": 0, "4": 100}, {"4": 100}]
    assert fake.serving() == {"4": 100}


def test_a_resumed_canary_rechecks_the_step_it_died_in(fake, new_client):
    fake.add(ENDPOINT, {"3": 100})
    with pytest.raises(Crash):
        rollout(new_client(), plan(), endpoint_state_check, hook=crash_on("ready", {"3": 50, "4": 50}))
    check = unhealthy_at(50)
    result = rollout(new_client(), plan(), check)
    assert check.seen == [50]
    assert result.status == ROLLED_BACK and fake.serving() == {"3": 100}


def test_resumes_a_crashed_blue_green_after_the_switch(fake, new_client):
    fake.add(ENDPOINT, {"3": 100})
    with pytest.raises(Crash):
        rollout(
            new_client(),
            plan(strategy="blue_green"),
            endpoint_state_check,
            hook=crash_on("applied", {"3": 0, "4": 100}),
        )
    check = unhealthy_at(-1)
    result = rollout(new_client(), plan(strategy="blue_green"), check)
    assert result.status == DONE and check.seen == [100]
    assert fake.updates() == [{"3": 100, "4": 0}, {"3": 0, "4": 100}]


def test_abort_after_a_crash_switches_back_to_the_last_good_version(fake, new_client):
    fake.add(ENDPOINT, {"3": 100})
    with pytest.raises(Crash):
        rollout(new_client(), plan(), endpoint_state_check, hook=crash_on("applied", {"3": 50, "4": 50}))
    result = abort(new_client(), plan())
    assert result.status == ROLLED_BACK and result.stable == "3"
    assert fake.serving() == {"3": 100}
    assert fake.updates()[-1] == {"3": 100}


def test_a_new_version_after_a_crash_replaces_the_half_rolled_one(fake, new_client):
    fake.add(ENDPOINT, {"3": 100})
    with pytest.raises(Crash):
        rollout(new_client(), plan(), endpoint_state_check, hook=crash_on("ready", {"3": 90, "4": 10}))
    result = rollout(new_client(), plan("5"), endpoint_state_check)
    assert result.stable == "3"
    assert fake.updates()[1:] == [{"3": 90, "5": 10}, {"3": 50, "5": 50}, {"3": 0, "5": 100}, {"5": 100}]


# -- a real process killed mid-rollout --------------------------------------------------------------
DEPLOY_PROCESS = """
import sys
from databricks.sdk import WorkspaceClient
from ml_jobs.serving.endpoint import ServingClient
from ml_jobs.serving.health import endpoint_state_check
from ml_jobs.serving.rollout import RolloutPlan, rollout
ws = WorkspaceClient(host=sys.argv[1], token="x", auth_type="pat")
client = ServingClient(ws, "marketing_churn_gbm", "mlops_dev.models.marketing_churn_gbm", poll_seconds=0.05)
rollout(client, RolloutPlan("marketing-churn-gbm-dev", "4", ready_timeout_s=60), endpoint_state_check)
"""


def test_a_killed_deploy_process_is_resumed_by_the_next_run(fake_serving, new_client, repo_root):
    import subprocess
    import sys
    import threading

    fake, url = fake_serving
    fake.add(ENDPOINT, {"3": 100})
    fake.ready_after_polls = 5
    second_put = threading.Event()
    fake.on_update = lambda n: second_put.set() if n == 2 else None
    proc = subprocess.Popen([sys.executable, "-c", DEPLOY_PROCESS, url], cwd=repo_root)
    try:
        assert second_put.wait(timeout=120), "the deploy process never sent its second config"
        proc.kill()  # SIGKILL while it waits for {3: 50, 4: 50} to become ready
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -9
    assert fake.updates() == [{"3": 90, "4": 10}, {"3": 50, "4": 50}]

    result = rollout(new_client(), plan(), endpoint_state_check)
    assert result.status == DONE
    assert fake.updates() == [{"3": 90, "4": 10}, {"3": 50, "4": 50}, {"3": 0, "4": 100}, {"4": 100}]
    assert fake.serving() == {"4": 100}


# -- restore (after a registry rollback) ------------------------------------------------------------
def test_restore_serves_the_restored_champion_and_drops_the_bad_version(fake, new_client):
    fake.add(ENDPOINT, {"4": 100})
    result = restore(new_client(), plan("3"), endpoint_state_check)
    assert result.status == DONE and fake.serving() == {"3": 100}
    assert fake.updates() == [{"4": 100, "3": 0}, {"4": 0, "3": 100}, {"3": 100}]


def test_fails_restore_without_switching_back_to_the_rolled_back_version(fake, new_client):
    """``rollout`` would fall back to the version with most traffic: here that is the bad one."""
    fake.add(ENDPOINT, {"4": 100})
    result = restore(new_client(), plan("3"), unhealthy_at(100))
    assert result.status == FAILED and result.exit_code == EXIT_REFUSED
    assert fake.updates() == [{"4": 100, "3": 0}, {"4": 0, "3": 100}]
    assert fake.serving() == {"4": 0, "3": 100}
    assert "Not switching back" in result.message


@pytest.mark.parametrize("event, split", [("applied", {"4": 100, "3": 0}), ("ready", {"4": 0, "3": 100})])
def test_a_crashed_restore_is_finished_by_the_next_run(fake, new_client, event, split):
    fake.add(ENDPOINT, {"4": 100})
    with pytest.raises(Crash):
        restore(new_client(), plan("3"), endpoint_state_check, hook=crash_on(event, split))
    assert restore(new_client(), plan("3"), endpoint_state_check).status == DONE
    assert fake.serving() == {"3": 100}
    assert fake.updates() == [{"4": 100, "3": 0}, {"4": 0, "3": 100}, {"3": 100}]
    assert restore(new_client(), plan("3"), endpoint_state_check).status == UNCHANGED


@pytest.mark.parametrize("form", ["entity", "model", "both"])
def test_reads_traffic_from_either_route_form(fake, new_client, form):
    """Documented responses name routes by ``served_model_name``; the SDK also has the entity form."""
    fake.route_form = form
    fake.add(ENDPOINT, {"3": 90, "4": 10})
    assert new_client().view(ENDPOINT).split == {"3": 90, "4": 10}
    assert rollout(new_client(), plan(), endpoint_state_check).status == DONE
    assert fake.serving() == {"4": 100}
