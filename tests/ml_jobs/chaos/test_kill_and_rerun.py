"""Kill each job with SIGKILL at its step boundaries (and at random moments), re-run it, and check
the world: the invariants hold and it equals the world of a fault-free run (see ``harness``).

The bounded cases (``make test``) are the kill points of the failures issue 12 reproduced:

1. ``retrain`` killed right after it added production rows to the training table (then re-run:
   the rows must not be added again, and the challenger trains on the same table version);
2./3. ``monitor`` killed after its metrics were written and its retraining ran, before its state
   was saved (re-run: no metric row twice, no second retraining, the state saved once);
5. ``validate`` killed midway, after its report and model card, before its one record;
7. ``train`` killed right after registering the version, before the ``challenger`` alias (re-run:
   the version is adopted, no orphan, no second version);
and ``promote`` killed after winning its claim, between the pending record and the alias move.
``make chaos`` kills every job at every boundary it declares and at random moments.
"""

from __future__ import annotations

import difflib
import json
import random
from pathlib import Path

import pytest

from . import harness as h
from .conftest import SCENARIOS, References, Worlds

ISSUE_KILL_POINTS = {
    "retrain": "registry.start_run@1",  # after table.merge:features.churn_labels@1 and the rebuild
    "monitor": f"table.merge:monitoring.{h.MODEL}_monitor_state@1",
    "validate": "registry.set_tag:validation@1",
    "train": "registry.set_alias:challenger@1",
    "promote": "registry.set_alias:champion@1",
}


def _diff(expected: dict, actual: dict) -> str:
    a = json.dumps(expected, indent=1, sort_keys=True, default=str).splitlines()
    b = json.dumps(actual, indent=1, sort_keys=True, default=str).splitlines()
    return "\n".join(list(difflib.unified_diff(a, b, "fault-free", "killed+re-run", n=2, lineterm=""))[:200])


def kill_and_rerun(
    worlds: Worlds,
    references: References,
    name: str,
    tmp_path: Path,
    *,
    at: str | None = None,
    after: float | None = None,
) -> list[str]:
    """Problems after killing scenario ``name`` (at a boundary or after seconds) and re-running it."""
    scenario, ref = SCENARIOS[name], references.get(name)
    root = worlds.copy(scenario.world, tmp_path)
    killed = h.run_job(scenario.job, scenario.args, root, fault_at=at, kill_after=after, env=scenario.env)
    where = at or f"{after:.1f} s"
    if at is not None and not killed.killed:
        return [f"{name} was not killed at {at} (exit {killed.code}): the boundary was not reached"]
    rerun = h.run_job(scenario.job, scenario.args, root, env=scenario.env)
    problems = []
    if rerun.code != ref.run.code:
        problems.append(
            f"{name} re-run after a kill at {where} exited {rerun.code}, fault-free {ref.run.code}: "
        )
        problems[-1] += rerun.err[-1500:]
    problems += [f"{name} killed at {where}: {v}" for v in h.violations(root)]
    actual = h.world(root)
    if actual != ref.world:
        problems.append(
            f"{name} killed at {where}: world differs from a fault-free run:\n{_diff(ref.world, actual)}"
        )
    return problems


@pytest.mark.parametrize("name", sorted(ISSUE_KILL_POINTS))
def test_a_job_killed_where_issue_12_lost_or_doubled_work_converges_on_rerun(
    name: str, worlds: Worlds, references: References, tmp_path: Path
) -> None:
    at = ISSUE_KILL_POINTS[name]
    assert at in references.get(name).boundaries, f"{name} no longer passes {at}; update the kill point"
    problems = kill_and_rerun(worlds, references, name, tmp_path / "w", at=at)
    assert not problems, "\n\n".join(problems)


@pytest.mark.chaos_full
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_job_killed_at_every_boundary_it_declares_converges_on_rerun(
    name: str, worlds: Worlds, references: References, tmp_path: Path
) -> None:
    ref = references.get(name)
    problems = []
    for i, at in enumerate(ref.boundaries):
        problems += kill_and_rerun(worlds, references, name, tmp_path / f"w{i}", at=at)
    assert not problems, "\n\n".join(problems)


@pytest.mark.chaos_full
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_job_killed_at_random_moments_converges_on_rerun(
    name: str, worlds: Worlds, references: References, tmp_path: Path
) -> None:
    ref = references.get(name)
    rng = random.Random(f"chaos-{name}")
    problems = []
    for i in range(4):
        after = rng.uniform(0.15, 1.0) * ref.run.seconds
        problems += kill_and_rerun(worlds, references, name, tmp_path / f"w{i}", after=after)
    assert not problems, "\n\n".join(problems)


def test_a_random_kill_of_the_retraining_converges_on_rerun(
    worlds: Worlds, references: References, tmp_path: Path
) -> None:
    """One random moment in the bounded run (seeded: the same moment every run)."""
    ref = references.get("retrain")
    after = random.Random("bounded").uniform(0.3, 0.9) * ref.run.seconds
    problems = kill_and_rerun(worlds, references, "retrain", tmp_path / "w", after=after)
    assert not problems, "\n\n".join(problems)


def test_a_retraining_killed_after_its_training_finished_adopts_its_version_as_its_own(
    worlds: Worlds, references: References, tmp_path: Path
) -> None:
    """Killed between the training run's end and the challenger alias, the re-run finds the version
    its own attempt registered: the decision records it as trained, not as reused (a bounded run
    once found ``challenger_reused`` true after a random kill there)."""
    at = "registry.set_alias:challenger@1"
    assert at in references.get("retrain").boundaries, "retrain no longer passes the challenger alias"
    problems = kill_and_rerun(worlds, references, "retrain", tmp_path / "w", at=at)
    assert not problems, "\n\n".join(problems)


def test_every_job_declares_its_world_changing_steps(references: References) -> None:
    """The boundaries are where the world changes: each job passes them in a fixed order, ending at done."""
    for name in SCENARIOS:
        boundaries = references.get(name).boundaries
        assert boundaries[-1] == "job:done@1", (name, boundaries[-3:])
        assert len(boundaries) >= 3, (name, boundaries)
