"""The review compares the gate's own data: loosening it needs the security owner, past a floor it blocks.

Each case copies ``policies/`` twice (base, head), edits the head, and reviews an unchanged prod stack
with both: the only change is the gate's data. What this does not cover: git and synthesis (the
acceptance test runs the same change end to end).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from infra.guardrails import FloorError, Policies, load_policies
from infra.review import Inputs, diff, load_params, render_markdown
from infra.review.approvals import codeowners_match
from tests.review.docs import base_doc


@pytest.fixture(scope="module")
def params(repo_root: Path):
    return load_params(repo_root / "policies")


def policies_with(tmp: Path, repo_root: Path, change: Callable[[Path], None] | None = None) -> Policies:
    target = tmp / "policies"
    shutil.copytree(repo_root / "policies", target)
    if change:
        change(target)
    try:
        return load_policies(target)
    except FloorError as exc:  # as the review's CLI does: it still compares, and blocks
        return exc.policies


def edit_yaml(relative: str, edit: Callable[[dict], None]) -> Callable[[Path], None]:
    def change(policies: Path) -> None:
        path = policies / relative
        data = yaml.safe_load(path.read_text())
        edit(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False))

    return change


def review(params, tmp_path: Path, repo_root: Path, change: Callable[[Path], None]):
    base = policies_with(tmp_path / "base", repo_root)
    head = policies_with(tmp_path / "head", repo_root, change)
    inputs = Inputs(params, base, head)
    return diff({"prod": base_doc(), "dev": base_doc()}, {"prod": base_doc(), "dev": base_doc()}, inputs)


def by_env(rv, env: str):
    return next(e for e in rv.envs if e.env == env)


def test_prod_cap_raised_past_its_floor_blocks_and_names_the_security_team(
    params, tmp_path, repo_root
) -> None:
    rv = review(
        params,
        tmp_path,
        repo_root,
        edit_yaml("guardrails/params.yaml", lambda d: d["envs"]["prod"].update(max_dbus_per_hour=100000)),
    )
    prod = by_env(rv, "prod")
    assert prod.verdict == "block"
    assert prod.reasons[0] == (
        "guardrail policy loosened below its floors: envs.prod.max_dbus_per_hour; needs @acme/security"
    )
    (change,) = prod.guardrail_policy
    assert (change.key, change.before, change.after, change.direction, change.below_floor) == (
        "envs.prod.max_dbus_per_hour",
        "100.0",
        "100000.0",
        "loosened",
        True,
    )
    assert "guardrail_loosened" in prod.kinds
    assert any(a.team == "@acme/security" and "prod" in a.envs for a in rv.approvals)
    md = render_markdown(rv)
    assert "Guardrail policy: 1 changed, 1 loosened" in md and "⛔ below floor, loosened" in md
    assert by_env(rv, "dev").guardrail_policy == []


def test_cap_raised_within_its_floor_warns_and_asks_the_security_team(params, tmp_path, repo_root) -> None:
    rv = review(
        params,
        tmp_path,
        repo_root,
        edit_yaml("guardrails/params.yaml", lambda d: d["envs"]["prod"].update(max_dbus_per_hour=150)),
    )
    prod = by_env(rv, "prod")
    assert prod.verdict == "warn"
    assert prod.reasons == ["guardrail policy loosened: envs.prod.max_dbus_per_hour; needs @acme/security"]
    assert any(a.team == "@acme/security" for a in rv.approvals)


def test_moving_a_floor_blocks_every_environment(params, tmp_path, repo_root) -> None:
    def loosen(d: dict) -> None:
        d["floors"]["max_dbus_per_hour"] = 100000
        d["envs"]["prod"]["max_dbus_per_hour"] = 100000

    rv = review(params, tmp_path, repo_root, edit_yaml("guardrails/params.yaml", loosen))
    for env in rv.envs:
        assert env.verdict == "block", env.env
        floors = [c for c in env.guardrail_policy if c.key == "floors.max_dbus_per_hour"]
        assert [(c.direction, c.below_floor) for c in floors] == [("loosened", True)]


@pytest.mark.parametrize(
    ("file", "edit", "key"),
    [
        (
            "guardrails/params.yaml",
            lambda d: d["defaults"]["cpu_node_types"].append("x1.32xlarge"),
            "defaults.cpu_node_types",
        ),
        (
            "guardrails/params.yaml",
            lambda d: d["defaults"].update(require_scale_to_zero=False),
            "defaults.require_scale_to_zero",
        ),
        (
            "guardrails/rules.yaml",
            lambda d: d["rules"]["DBX003"].update(severity="low"),
            "rules.DBX003.severity",
        ),
        (
            "guardrails/rules.yaml",
            lambda d: d["rules"]["DBX014"].update(envs=["staging"]),
            "rules.DBX014.envs",
        ),
        (
            "guardrails/waivers.yaml",
            lambda d: d.update(
                waivers=[
                    {
                        "rule": "DBX018",
                        "env": "prod",
                        "resource": "databricks_job.train",
                        "reason": "backfill runs long this quarter",
                        "owner": "@acme/mlops-platform",
                        "expires": "2026-07-01",
                    }
                ]
            ),
            "waiver DBX018 on databricks_job.train",
        ),
    ],
)
def test_every_loosening_of_the_gate_is_shown_and_routed(
    params, tmp_path, repo_root, file, edit, key
) -> None:
    rv = review(params, tmp_path, repo_root, edit_yaml(file, edit))
    touched = [e for e in rv.envs if any(c.key == key for c in e.guardrail_policy)]
    assert touched, [e.guardrail_policy for e in rv.envs]
    for env in touched:
        assert [c.direction for c in env.guardrail_policy if c.key == key] == ["loosened"]
        assert env.verdict in ("warn", "block") and "guardrail_loosened" in env.kinds


def test_tightening_the_gate_is_listed_but_needs_nobody(params, tmp_path, repo_root) -> None:
    rv = review(
        params,
        tmp_path,
        repo_root,
        edit_yaml("guardrails/params.yaml", lambda d: d["envs"]["prod"].update(max_dbus_per_hour=50)),
    )
    prod = by_env(rv, "prod")
    assert [(c.key, c.direction) for c in prod.guardrail_policy] == [
        ("envs.prod.max_dbus_per_hour", "tightened")
    ]
    assert prod.verdict == "pass" and "guardrail_loosened" not in prod.kinds


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("/infra/*.py", "infra/cdk.py", True),
        ("/infra/*.py", "infra/guardrails/cli.py", False),  # GitHub: * does not cross a /
        ("/policies/guardrails/", "policies/guardrails/params.yaml", True),
        ("docs/", "a/docs/readme.md", True),
        ("*.md", "infra/README.md", True),
        ("/stacks/prod.yaml", "x/stacks/prod.yaml", False),
        ("*", "any/thing", True),
    ],
)
def test_codeowners_patterns_match_as_github_does(pattern: str, path: str, matches: bool) -> None:
    assert codeowners_match(pattern, path) is matches
