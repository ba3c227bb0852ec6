"""Rendering: the markdown fits one GitHub comment on a large change; JSON carries everything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.review import GITHUB_COMMENT_LIMIT, Inputs, diff, load_params, render_json, render_markdown
from tests.review.docs import base_doc, resources


@pytest.fixture(scope="module")
def params(repo_root: Path):
    return load_params(repo_root / "policies")


def large_head(n: int) -> dict:
    """n new groups, each granted on its own new schema, and n new jobs: thousands of rows."""
    head = base_doc()
    res = resources(head)
    for i in range(n):
        res["databricks_group"][f"team{i}"] = {"display_name": f"team-{i:04d}"}
        res["databricks_schema"][f"s{i}"] = {
            "catalog_name": "${databricks_catalog.cat.name}",
            "name": f"schema_{i}",
        }
        res["databricks_grants"][f"g{i}"] = {
            "schema": f"${{databricks_schema.s{i}.id}}",
            "grant": [{"principal": f"team-{i:04d}", "privileges": ["SELECT", "MODIFY", "MANAGE"]}],
        }
        res["databricks_job"][f"job{i}"] = {
            "name": f"job {i}",
            "timeout_seconds": 3600,
            "schedule": {"quartz_cron_expression": "0 0 1 * * ?"},
            "job_cluster": [
                {
                    "job_cluster_key": "main",
                    "new_cluster": {"policy_id": "${databricks_cluster_policy.jobs.id}"},
                }
            ],
        }
    del res["databricks_schema"]["feat"]
    return head


def test_large_change_is_truncated_under_the_comment_limit_with_a_pointer(params) -> None:
    rv = diff(
        {e: base_doc() for e in ("dev", "prod")},
        {e: large_head(800) for e in ("dev", "prod")},
        Inputs(params),
    )
    full = json.loads(render_json(rv))
    assert len(full["envs"]["prod"]["access"]) >= 2400  # nothing dropped from the artifact
    md = render_markdown(rv, pointer="https://example.invalid/run/1")
    assert len(md) <= GITHUB_COMMENT_LIMIT
    assert "https://example.invalid/run/1" in md
    assert "more access changes in the full report" in md or "truncated" in md
    # the verdict and the destructive banner survive the shrinking
    assert "BLOCK" in md.splitlines()[1]
    assert "> [!CAUTION]" in md and "databricks_schema.feat" in md


def test_small_change_is_rendered_in_full(params) -> None:
    head = base_doc()
    resources(head)["databricks_grants"]["g"]["grant"][0]["privileges"] = ["SELECT", "MODIFY"]
    md = render_markdown(diff({"prod": base_doc()}, {"prod": head}, Inputs(params)))
    assert "truncated" not in md and "more access" not in md
    assert (
        "| 🔺 gained | data-scientists (group) | schema main_cat.features | `MODIFY` | **write on prod** |"
        in md
    )
    assert md.startswith("<!-- infra-review -->")  # the workflow updates the comment carrying this marker


def test_table_cells_escape_pipes_and_newlines(params) -> None:
    head = base_doc()
    resources(head)["databricks_job"]["train"]["description"] = "a | b\nc"
    md = render_markdown(diff({"dev": base_doc()}, {"dev": head}, Inputs(params)))
    assert "a \\| b c" in md
