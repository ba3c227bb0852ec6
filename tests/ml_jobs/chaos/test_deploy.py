"""``deploy`` killed at each config update it sends (and at its end), then re-run, against the
serving fake of ``tests/ml_jobs/serving`` (which follows the documented endpoint states; see
there for what it does not prove). The endpoint must end serving the champion, the re-run must
resume from what the endpoint serves, never send a step backwards, and leave the registry as is.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from . import harness as h
from .conftest import Worlds, serving_endpoint

START = {"1": 100}
TARGET = {"2": 100}
CANARY = [{"1": 90, "2": 10}, {"1": 50, "2": 50}, {"1": 0, "2": 100}, {"2": 100}]


def deploy_args(url: str) -> tuple[str, ...]:
    return ("--host", url, "--bake-seconds", "0", "--poll-seconds", "0.01", "--api-retry-seconds", "5")


ENV = {"DATABRICKS_TOKEN": "not-a-real-token"}


def _share(split: dict[str, int]) -> int:
    return split.get("2", 0)


def kill_and_rerun(worlds: Worlds, tmp_path: Path, at: str) -> list[str]:
    root = worlds.copy("deployable", tmp_path)
    before = h.registry(root)
    with serving_endpoint(START) as (fake, url):
        killed = h.run_job("deploy", deploy_args(url), root, fault_at=at, env=ENV)
        rerun = h.run_job("deploy", deploy_args(url), root, env=ENV)
        problems = [] if killed.killed else [f"deploy was not killed at {at}"]
        if rerun.code != 0:
            problems.append(f"deploy re-run after a kill at {at} exited {rerun.code}: {rerun.err[-1500:]}")
        if fake.serving() != TARGET:
            problems.append(f"killed at {at}: the endpoint serves {fake.serving()}, not {TARGET}")
        shares = [_share(u) for u in fake.updates()]
        if shares != sorted(shares):
            problems.append(f"killed at {at}: traffic to the target went backwards: {fake.updates()}")
        if [u for u in fake.updates() if u not in CANARY]:
            problems.append(f"killed at {at}: a config outside the canary plan was sent: {fake.updates()}")
    if h.registry(root) != before:
        problems.append(f"killed at {at}: deploy changed the registry")
    return problems


def test_deploy_killed_mid_canary_is_finished_by_the_rerun(worlds: Worlds, tmp_path: Path) -> None:
    problems = kill_and_rerun(worlds, tmp_path / "w", "serving.update_config@3")
    assert not problems, "\n".join(problems)


@pytest.mark.chaos_full
def test_deploy_killed_at_every_boundary_is_finished_by_the_rerun(worlds: Worlds, tmp_path: Path) -> None:
    root = worlds.copy("deployable", tmp_path / "ref")
    trace = tmp_path / "deploy.trace"
    with serving_endpoint(START) as (fake, url):
        h.expect_ok(h.run_job("deploy", deploy_args(url), root, trace=trace, env=ENV))
        assert fake.updates() == CANARY
    boundaries = h.boundaries(trace)
    assert boundaries[-1] == "job:done@1" and len(boundaries) == len(CANARY) + 1
    problems = []
    for i, at in enumerate(boundaries):
        problems += kill_and_rerun(worlds, tmp_path / f"w{i}", at)
    assert not problems, "\n".join(problems)


@pytest.mark.chaos_full
def test_two_deploys_at_once_end_serving_the_champion(worlds: Worlds, tmp_path: Path) -> None:
    root = worlds.copy("deployable", tmp_path / "w")
    with serving_endpoint(START) as (fake, url):
        procs = [h.start("deploy", deploy_args(url), root, ENV) for _ in range(2)]
        runs = [p.finish() for p in procs]
        # One may give up on the other's update in progress (exit 3, "re-run deploy"); a re-run then finishes.
        assert all(r.code in (0, 3) for r in runs), [r.err[-800:] for r in runs]
        if any(r.code == 3 for r in runs):
            h.expect_ok(h.run_job("deploy", deploy_args(url), root, env=ENV))
        assert fake.serving() == TARGET
        shares = [_share(u) for u in fake.updates()]
        assert shares == sorted(shares), fake.updates()
