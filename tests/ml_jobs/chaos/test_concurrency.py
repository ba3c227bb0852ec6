"""Two copies of a job at once, lined up at the step where they race (``MLOPS_FAULT_PAUSE`` holds
both there until both have read the world): the invariants hold, and the world equals that of one
fault-free run. Then the races issue 12 reproduced, one by one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from . import harness as h
from .conftest import SCENARIOS, References, Worlds

RACE_POINTS = {
    "train": "registry.register_version@1",
    "validate": "registry.set_tag:validation@1",
    "promote": f"table.merge:monitoring.{h.MODEL}_champion_moves@1",
    "monitor": f"table.merge:monitoring.{h.MODEL}_drift_metrics@1",
    "retrain": "table.merge:features.churn_labels@1",
    "score": f"table.merge:inference_logs.{h.MODEL}_predictions@1",
}
PAUSE = "4"
"""Seconds both runs wait at the race point: longer than the other's start-up skew on a busy box."""


def pair(
    job: str, root: Path, args_a: tuple[str, ...], args_b: tuple[str, ...], pause_at: str | None
) -> list[h.Run]:
    env = {"MLOPS_FAULT_PAUSE": f"{pause_at}={PAUSE}"} if pause_at else {}
    procs = [h.start(job, args, root, env) for args in (args_a, args_b)]
    return [p.finish() for p in procs]


def _race(name: str, worlds: Worlds, references: References, tmp_path: Path) -> list[str]:
    scenario, ref = SCENARIOS[name], references.get(name)
    root = worlds.copy(scenario.world, tmp_path)
    runs = pair(scenario.job, root, scenario.args, scenario.args, RACE_POINTS[name])
    problems = [
        f"{name}: a concurrent run exited {r.code}: {r.err[-1500:]}" for r in runs if r.code != ref.run.code
    ]
    problems += [f"{name} twice at once: {v}" for v in h.violations(root)]
    actual = h.world(root)
    if actual != ref.world:
        from .test_kill_and_rerun import _diff

        problems.append(
            f"{name} twice at once: world differs from one fault-free run:\n{_diff(ref.world, actual)}"
        )
    return problems


def test_two_monitors_at_once_leave_the_world_of_one(worlds: Worlds, references: References, tmp_path: Path):
    """Issue 12, 6: both write the same metrics (lined up at that MERGE) and decide the same
    retraining; no row twice, one retraining."""
    problems = _race("monitor", worlds, references, tmp_path / "w")
    assert not problems, "\n\n".join(problems)


@pytest.mark.chaos_full
@pytest.mark.parametrize("name", sorted(set(SCENARIOS) - {"monitor"}))
def test_two_runs_of_the_other_jobs_at_once_leave_the_world_of_one(
    name: str, worlds: Worlds, references: References, tmp_path: Path
):
    problems = _race(name, worlds, references, tmp_path / "w")
    assert not problems, "\n\n".join(problems)


def test_two_promotions_of_different_versions_have_one_winner_and_the_loser_records_nothing(
    worlds: Worlds, tmp_path: Path
) -> None:
    """Issue 12, 4: both passed every check against champion v1; only one may move it."""
    from ml_jobs.registry import client as reg

    root = worlds.copy("two_challengers", tmp_path / "w")
    point = f"table.merge:monitoring.{h.MODEL}_champion_moves@1"
    runs = pair(
        "promote", root, ("--version", "2", "--actor", "ann"), ("--version", "3", "--actor", "bob"), point
    )
    winners = [r for r in runs if r.code == 0]
    assert len(winners) == 1 and sorted(r.code for r in runs) == [0, 1], [
        (r.code, r.err[-800:]) for r in runs
    ]
    loser = next(r for r in runs if r.code == 1)
    assert "another move of the champion" in loser.err and "won" in loser.err
    champion = winners[0].result()["champion"]
    lost = "3" if champion == "2" else "2"
    client = h._client(root)
    assert reg.aliases(client, h.NAME)["champion"] == champion
    loser_mv = client.get_model_version(h.NAME, lost)
    assert reg.record(loser_mv, reg.TAG_PROMOTION) is None
    assert "Champion" not in (loser_mv.description or "").splitlines()[2]
    assert h.violations(root) == []


def test_the_same_version_promoted_twice_at_once_names_the_caller_that_won(
    worlds: Worlds, tmp_path: Path
) -> None:
    """Issue 12, 4: the loser of a same-version race says so, and the record names the winner."""
    from ml_jobs.registry import client as reg

    root = worlds.copy("promotable", tmp_path / "w")
    point = f"table.merge:monitoring.{h.MODEL}_champion_moves@1"
    runs = pair("promote", root, ("--actor", "ann"), ("--actor", "bob"), point)
    assert [r.code for r in runs] == [0, 0], [r.err[-800:] for r in runs]
    changed = [r.result()["changed"] for r in runs]
    assert sorted(changed) == [False, True]
    winner = ("ann", "bob")[changed.index(True)]
    record = reg.record(h._client(root).get_model_version(h.NAME, "2"), reg.TAG_PROMOTION)
    assert record["by"] == winner and record["status"] == "done"
    assert "at the same time" in runs[changed.index(False)].result()["reason"]
    assert h.violations(root) == []


def test_two_trainings_of_the_same_key_register_one_version(worlds: Worlds, tmp_path: Path) -> None:
    """Issue 12, 7: both register (lined up right before registering); the later one is deleted."""
    from ml_jobs.registry import client as reg

    root = worlds.copy("data", tmp_path / "w")
    runs = pair("train", root, h.FAST_PARAMS, h.FAST_PARAMS, "registry.register_version@1")
    assert [r.code for r in runs] == [0, 0], [r.err[-800:] for r in runs]
    results = [r.result() for r in runs]
    assert results[0]["version"] == results[1]["version"] == "1"
    assert sorted(r["reused"] for r in results) == [False, True]
    client = h._client(root)
    assert [str(mv.version) for mv in client.search_model_versions(f"name='{h.NAME}'")] == ["1"]
    assert reg.aliases(client, h.NAME) == {"challenger": "1"}
    assert h.violations(root) == []
