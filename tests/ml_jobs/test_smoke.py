"""``make smoke ENV=staging`` against a local Jobs API holding staging's synthesized jobs.

What it proves: for every model of staging, the smoke starts the train job's ``train`` task with the
``sample_rows`` job parameter and the whole monitor job, through databricks-sdk, each with its own
idempotency token; prints a progress line per poll; reports each task's result; and exits 0 when every
task succeeded, 1 when a task failed or a job is missing, 3 when the time limit passed (the runs still
going are cancelled) or the API kept answering 500. A retried ``run-now`` (500) or a re-run with the
same key starts no second run. A model without a champion gets no monitor run.
What it does not prove: a real workspace's scheduling, clusters or auth (``tests/ml_jobs/jobs_api.py``
says what the fake keeps). The sampled training itself is tested on MLflow below.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ml_jobs import smoke
from mlops_spec.config import load_environment, load_models
from tests.ml_jobs.jobs_api import FakeJobsApi, serve

ENV = "staging"


class Clock:
    """Time that passes only when the smoke sleeps: polls cost nothing in the test."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def staging_jobs(synth_dir: Path) -> dict[str, list[str]]:
    """Job name -> task keys, as the staging stack defines them."""
    doc = json.loads((synth_dir / "stacks" / ENV / "cdk.tf.json").read_text())
    return {j["name"]: [t["task_key"] for t in j["task"]] for j in doc["resource"]["databricks_job"].values()}


@pytest.fixture
def fake(staging_jobs: dict[str, list[str]]) -> FakeJobsApi:
    api = FakeJobsApi(polls_per_task=2)
    for job_id, (name, tasks) in enumerate(sorted(staging_jobs.items()), start=1):
        api.add_job(job_id, name, tasks)
    catalog = load_environment(ENV).catalog.name
    for model in MODELS:
        api.champions[f"{catalog}.models.{model}"] = "3"
    return api


MODELS = [m.name for m in load_models(ENV)]


@pytest.fixture
def run(fake: FakeJobsApi) -> Iterator:
    def go(**kwargs) -> tuple[int, list[str]]:
        lines: list[str] = []
        clock = Clock()
        with serve(fake) as workspace:
            api = smoke.Api(workspace, attempts=3, backoff_seconds=1, sleep=clock.sleep)
            options = {"sample_rows": 500, "timeout_seconds": 3600, "poll_seconds": 30, "run_key": "gh-1-1"}
            code = smoke.smoke(
                api,
                ENV,
                load_environment(ENV).catalog.name,
                MODELS,
                clock=clock,
                out=lines.append,
                **(options | kwargs),
            )
        return code, lines

    yield go


def job(model: str, purpose: str) -> str:
    return f"[{ENV}] {model}: {purpose}"


def test_starts_train_on_a_sample_and_the_whole_monitor_job_and_reports_every_task(fake, run) -> None:
    code, lines = run()
    assert code == 0, "\n".join(lines)
    starts = fake.posts("/run-now")
    names = {fake.jobs[s["job_id"]][0]: s for s in starts}
    assert set(names) == {job(m, p) for m in MODELS for p in ("train", "monitor")}
    for model in MODELS:
        train, monitor = names[job(model, "train")], names[job(model, "monitor")]
        assert train["only"] == ["train"] and train["job_parameters"] == {"sample_rows": "500"}
        assert "only" not in monitor and "job_parameters" not in monitor
    tokens = [s["idempotency_token"] for s in starts]
    assert len(set(tokens)) == len(tokens) and all(len(t) <= 64 for t in tokens)
    progress = [line for line in lines if line.startswith("[smoke ")]
    assert len(progress) >= 3 and "RUNNING" in progress[0] and "SUCCESS" in progress[-1]
    report = "\n".join(lines)
    for task in ("train", "unpack", "monitor", "maintain"):
        assert f"task {task}: SUCCESS" in report
    assert "task validate" not in report  # only the train task ran


def test_a_failed_task_fails_the_smoke_with_its_message(fake, run) -> None:
    model = MODELS[0]
    fake.failing_tasks[(job(model, "monitor"), "monitor")] = "Workload failed: exit code 2"
    code, lines = run()
    report = "\n".join(lines)
    assert code == 1
    assert f"FAIL {model}/monitor" in report
    assert "task monitor: FAILED: Workload failed: exit code 2" in report
    assert "task maintain: UPSTREAM_FAILED" in report
    assert f"ok   {model}/train" in report


def test_runs_still_going_at_the_time_limit_are_cancelled(fake, run) -> None:
    model = MODELS[0]
    fake.never_ending.add(job(model, "train"))
    code, lines = run(timeout_seconds=300, poll_seconds=60)
    report = "\n".join(lines)
    assert code == 3
    stuck = next(r for r in fake.started() if fake.jobs[r.job_id][0] == job(model, "train"))
    assert [c["run_id"] for c in fake.posts("/runs/cancel")] == [stuck.run_id]
    assert "cancelled: still RUNNING after 300 s" in report
    assert "time limit of 300 s passed" in lines[-1]
    assert sum(line.startswith("[smoke ") for line in lines) == 6  # at 0, 60, ..., 300 s: none past the limit


def test_a_500_on_run_now_is_retried_with_the_same_token_and_starts_one_run(fake, run) -> None:
    fake.server_errors["/run-now"] = 2
    code, lines = run()
    assert code == 0, "\n".join(lines)
    starts = fake.posts("/run-now")
    assert len(starts) == 2 * len(MODELS) + 2
    assert starts[0]["idempotency_token"] == starts[1]["idempotency_token"] == starts[2]["idempotency_token"]
    assert len(fake.runs) == 2 * len(MODELS)


def test_a_run_status_api_that_keeps_failing_is_infrastructure(fake, run) -> None:
    fake.server_errors["/runs/get"] = 100
    with pytest.raises(smoke.InfraFailure, match=r"get run \d+: failed 3 times"):
        run()
    assert len(fake.runs) == 2 * len(MODELS)  # started, and left to finish on their own


def test_the_same_run_key_starts_no_second_run(fake, run) -> None:
    assert run()[0] == 0
    assert run()[0] == 0
    assert len(fake.runs) == 2 * len(MODELS)
    assert run(run_key="gh-2-1")[0] == 0
    assert len(fake.runs) == 4 * len(MODELS)


def test_a_model_without_champion_is_not_monitored(fake, run) -> None:
    fake.champions.clear()
    code, lines = run()
    assert code == 0
    assert {fake.jobs[s["job_id"]][0] for s in fake.posts("/run-now")} == {job(m, "train") for m in MODELS}
    assert all(f"SKIP {m}/monitor" in "\n".join(lines) for m in MODELS)


def test_a_job_missing_from_the_workspace_is_a_finding(fake, run) -> None:
    missing = next(i for i, (name, _) in fake.jobs.items() if name == job(MODELS[0], "monitor"))
    del fake.jobs[missing]
    code, lines = run()
    assert code == 1
    assert "job not found in the workspace" in "\n".join(lines)


def test_the_command_line_talks_to_the_workspace_host_and_exits_with_the_smoke_code(
    fake, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    fake.polls_per_task = 1
    monkeypatch.setenv("DATABRICKS_TOKEN", "test")
    monkeypatch.delenv("DATABRICKS_HOST", raising=False)
    with serve(fake) as workspace:
        host = workspace.config.host
        argv = ["--env", ENV, "--host", host, "--poll-seconds", "0.01", "--model", MODELS[0]]
        assert smoke.main(argv) == 0
    out = capsys.readouterr().out
    assert f"ok   {MODELS[0]}/train" in out and len(fake.runs) == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--env", ENV, "--model", "nope"], "unknown model"),
        (["--env", ENV, "--sample-rows", "0"], "must be > 0"),
    ],
)
def test_fails_on_bad_input_with_exit_2(argv: list[str], message: str, capsys) -> None:
    assert smoke.main(argv) == 2
    assert message in capsys.readouterr().err


def test_sampled_training_registers_a_version_that_never_becomes_the_challenger(tmp_path: Path) -> None:
    from ml_jobs.registry.client import CHALLENGER, connect, version_by_alias
    from ml_jobs.training import lineage
    from ml_jobs.training.train import train_model
    from tests.ml_jobs.conftest import local_runtime, spec_for, write_churn

    spec = spec_for("dev")
    runtime = local_runtime(tmp_path)
    client = connect(runtime)
    write_churn(runtime, 3000, seed=3)
    fixed = {"max_iter": 30}
    sampled = train_model(spec, runtime, client, fixed_params=fixed, sample_rows=800)
    mv = client.get_model_version(sampled.registered_name, sampled.version)
    assert mv.tags[lineage.TAG_SAMPLE_ROWS] == "800"
    assert int(client.get_run(sampled.run_id).data.params["n_rows_train"]) < 800
    assert version_by_alias(client, sampled.registered_name, CHALLENGER) is None
    again = train_model(spec, runtime, client, fixed_params=fixed, sample_rows=800)
    assert again.reused and again.version == sampled.version
    assert version_by_alias(client, sampled.registered_name, CHALLENGER) is None
    full = train_model(spec, runtime, client, fixed_params=fixed)
    assert not full.reused and full.version != sampled.version
    assert str(version_by_alias(client, full.registered_name, CHALLENGER).version) == full.version
