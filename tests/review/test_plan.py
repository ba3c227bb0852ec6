"""A supplied `terraform show -json` plan: its actions replace the synthesized diff."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.review import Inputs, diff, load_params
from infra.review.cli import parse_plans
from infra.review.errors import ReviewError
from tests.review.docs import base_doc


@pytest.fixture(scope="module")
def params(repo_root: Path):
    return load_params(repo_root / "policies")


def change(address: str, rtype: str, actions: list[str], before, after, **extra) -> dict:
    name = address.split(".", 1)[1]
    body = {"actions": actions, "before": before, "after": after, **extra}
    return {"address": address, "mode": "managed", "type": rtype, "name": name, "change": body}


PLAN = {
    "format_version": "1.2",
    "planned_values": {
        "root_module": {
            "resources": [
                {
                    "address": "databricks_schema.feat",
                    "mode": "managed",
                    "type": "databricks_schema",
                    "name": "feat",
                    "values": {"catalog_name": "main_cat", "name": "features", "comment": "new"},
                },
                {
                    "address": "databricks_secret.s",
                    "mode": "managed",
                    "type": "databricks_secret",
                    "name": "s",
                    "values": {"scope": "x", "key": "k"},
                },
            ]
        }
    },
    "resource_changes": [
        change(
            "databricks_schema.feat",
            "databricks_schema",
            ["delete", "create"],
            {"catalog_name": "main_cat", "name": "features", "comment": "old"},
            {"catalog_name": "main_cat", "name": "features", "comment": "new"},
        ),
        change(
            "databricks_secret.s",
            "databricks_secret",
            ["update"],
            {"scope": "x", "key": "k", "string_value": "old-value"},
            {"scope": "x", "key": "k", "string_value": "new-value"},
            before_sensitive={"string_value": True},
            after_sensitive={"string_value": True},
        ),
        change("databricks_job.gone", "databricks_job", ["delete"], {"name": "gone"}, None),
    ],
}


def test_plan_actions_replace_the_synthesized_diff(params) -> None:
    rv = diff({"prod": base_doc()}, {"prod": base_doc()}, Inputs(params, plans={"prod": ("plan.json", PLAN)}))
    env = rv.envs[0]
    actions = {c.address: c.action for c in env.changes}
    assert actions == {
        "databricks_schema.feat": "replace",
        "databricks_secret.s": "update",
        "databricks_job.gone": "delete",
    }
    assert env.source == "plan plan.json"
    assert env.verdict == "block"  # a protected schema replaced in prod
    (schema,) = env.destructive
    assert schema.reason == "plan: delete then create"


def test_plan_sensitive_values_are_masked(params) -> None:
    rv = diff({"dev": base_doc()}, {"dev": base_doc()}, Inputs(params, plans={"dev": ("plan.json", PLAN)}))
    (secret,) = [c for c in rv.envs[0].changes if c.type == "databricks_secret"]
    assert [(a.path, a.before, a.after) for a in secret.attrs] == [
        ("string_value", "(sensitive)", "(sensitive)")
    ]


def test_fails_on_a_plan_argument_without_env(tmp_path: Path) -> None:
    with pytest.raises(ReviewError, match=r"expected ENV=PLAN\.json"):
        parse_plans(["plan.json"])


def test_fails_on_a_file_that_is_not_a_plan(tmp_path: Path) -> None:
    path = tmp_path / "cdk.tf.json"
    path.write_text('{"resource": {}}')
    with pytest.raises(ReviewError, match=r"cdk.tf.json: <root>: not a `terraform show -json` plan"):
        parse_plans([f"prod={path}"])


def test_fails_on_invalid_plan_json(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text("{oops")
    with pytest.raises(ReviewError, match=r"plan.json: line 1 column 2: invalid JSON"):
        parse_plans([f"prod={path}"])
