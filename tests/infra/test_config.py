"""Configuration: the shipped files load, and every kind of bad input fails with file + key path.

Each failing case copies the shipped config into a temporary folder, breaks one thing, and checks
the one message a platform engineer would see.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from mlops_spec.config import ENV_NAMES, ConfigError, load_platform
from mlops_spec.config.cron import cron_problem
from mlops_spec.config.errors import Problem, allowed

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def config_copy(tmp_path: Path) -> tuple[Path, Path]:
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    for name in ("dev", "staging", "prod", "models"):
        shutil.copy(REPO / "stacks" / f"{name}.yaml", stacks / f"{name}.yaml")
    shutil.copytree(REPO / "policies", tmp_path / "policies")
    return stacks, tmp_path / "policies"


def edit(path: Path, change: Callable[[dict], None]) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def error_for(env: str, stacks: Path, policies: Path) -> str:
    with pytest.raises(ConfigError) as exc:
        load_platform(env, stacks, policies)
    return str(exc.value)


@pytest.mark.parametrize("env", ENV_NAMES)
def test_shipped_environments_load(env: str) -> None:
    platform = load_platform(env)
    assert platform.name == env
    assert {m.name for m in platform.models} == {"marketing_churn_gbm", "risk_fraud_xgb"}


def test_overrides_apply_per_environment() -> None:
    dev, prod = (
        load_platform("dev").model("marketing_churn_gbm"),
        load_platform("prod").model("marketing_churn_gbm"),
    )
    assert (dev.training.n_trials, prod.training.n_trials) == (5, 20)
    assert (dev.promotion.require_approval, prod.promotion.require_approval) == (False, True)
    assert (dev.scale_to_zero("dev"), prod.scale_to_zero("prod")) == (True, False)


def test_fails_on_unknown_group_in_grant(config_copy: tuple[Path, Path]) -> None:
    stacks, policies = config_copy
    edit(
        stacks / "dev.yaml",
        lambda d: d.update(
            grants=[{"principal": "data-scientist", "securable": "catalog", "privileges": ["SELECT"]}]
        ),
    )
    msg = error_for("dev", stacks, policies)
    assert "stacks/dev.yaml: grants[0].principal: unknown group; got 'data-scientist'" in msg
    assert "data-scientists" in msg


def test_fails_on_unknown_privilege(config_copy: tuple[Path, Path]) -> None:
    stacks, policies = config_copy
    edit(
        stacks / "dev.yaml",
        lambda d: d.update(
            grants=[
                {
                    "principal": "analysts",
                    "securable": "schema:monitoring",
                    "privileges": ["SELECT", "READ_ALL"],
                }
            ]
        ),
    )
    msg = error_for("dev", stacks, policies)
    assert (
        "grants[0].privileges[1]: unknown privilege for a schema; got 'READ_ALL'; allowed: ALL_PRIVILEGES"
        in msg
    )


def test_fails_on_unknown_privilege_in_role_matrix(config_copy: tuple[Path, Path]) -> None:
    stacks, policies = config_copy
    edit(
        policies / "rbac" / "roles.yaml",
        lambda d: d["roles"]["analysts"]["catalog"].update(all=["USE_CATALOG", "SELECT_ALL"]),
    )
    msg = error_for("dev", stacks, policies)
    assert "policies/rbac/roles.yaml: roles.analysts.catalog.dev[1]: unknown privilege for a catalog" in msg


def test_fails_on_gpu_node_in_cpu_policy(config_copy: tuple[Path, Path]) -> None:
    stacks, policies = config_copy
    edit(stacks / "dev.yaml", lambda d: d["compute"]["interactive"]["node_types"].append("g5.xlarge"))
    msg = error_for("dev", stacks, policies)
    assert (
        "compute.interactive.node_types[3]: a GPU node type in the interactive policy; got 'g5.xlarge'" in msg
    )
    assert "allowed: CPU node types only" in msg


def test_fails_on_missing_required_tag(config_copy: tuple[Path, Path]) -> None:
    stacks, policies = config_copy
    edit(stacks / "staging.yaml", lambda d: d["tags"].pop("cost_center"))
    assert "stacks/staging.yaml: tags.cost_center: required tag is missing" in error_for(
        "staging", stacks, policies
    )


def test_fails_on_duplicate_model_name(config_copy: tuple[Path, Path]) -> None:
    stacks, policies = config_copy
    edit(stacks / "models.yaml", lambda d: d["models"].append(dict(d["models"][0])))
    msg = error_for("dev", stacks, policies)
    expected = "models[2].name: duplicate model name (first at models[0]); got 'marketing_churn_gbm'"
    assert f"stacks/models.yaml: {expected}" in msg


def test_fails_on_model_name_that_is_not_a_string(config_copy: tuple[Path, Path]) -> None:
    """A list as the name is bad input (exit 2), not a crash of the duplicate check (found by mypy)."""
    stacks, policies = config_copy
    edit(stacks / "models.yaml", lambda d: d["models"][0].update(name=["churn"]))
    assert "stacks/models.yaml: models[0].name: Input should be a valid string" in error_for(
        "dev", stacks, policies
    )


@pytest.mark.parametrize(
    ("cron", "why"),
    [
        ("0 3 * * 1", "5-field Unix cron"),
        ("0 0 25 ? * MON", "hours '25'"),
        ("0 0 3 * * MON", "exactly one of"),
    ],
)
def test_fails_on_invalid_cron(config_copy: tuple[Path, Path], cron: str, why: str) -> None:
    stacks, policies = config_copy
    edit(stacks / "models.yaml", lambda d: d["models"][1]["training"].update(schedule=cron))
    msg = error_for("prod", stacks, policies)
    assert "models[1].training.schedule: invalid cron" in msg
    assert why in msg


def test_fails_on_prod_job_without_service_principal(config_copy: tuple[Path, Path]) -> None:
    stacks, policies = config_copy
    edit(stacks / "prod.yaml", lambda d: d["jobs"].pop("run_as"))
    msg = error_for("prod", stacks, policies)
    assert "stacks/prod.yaml: jobs.run_as: prod jobs must run as a service principal; got None" in msg


def test_fails_on_invalid_catalog_identifier(config_copy: tuple[Path, Path]) -> None:
    stacks, policies = config_copy
    edit(stacks / "dev.yaml", lambda d: d["catalog"].update(name="mlops-dev"))
    msg = error_for("dev", stacks, policies)
    assert "stacks/dev.yaml: catalog.name: String should match pattern" in msg
    assert "got 'mlops-dev'" in msg


@pytest.mark.parametrize("minutes", [5, 240])
def test_fails_on_autotermination_out_of_range(config_copy: tuple[Path, Path], minutes: int) -> None:
    stacks, policies = config_copy
    edit(stacks / "dev.yaml", lambda d: d["compute"]["interactive"].update(autotermination_minutes=minutes))
    msg = error_for("dev", stacks, policies)
    assert "compute.interactive.autotermination_minutes: Input should be" in msg
    assert f"got {minutes}" in msg


def test_fails_on_yaml_syntax_error(config_copy: tuple[Path, Path]) -> None:
    stacks, policies = config_copy
    path = stacks / "prod.yaml"
    path.write_text(path.read_text().replace("catalog:\n  name: mlops_prod", "catalog:\n  name: [mlops_prod"))
    msg = error_for("prod", stacks, policies)
    assert "stacks/prod.yaml: <root>: YAML syntax error at line" in msg


def test_fails_on_unknown_key(config_copy: tuple[Path, Path]) -> None:
    stacks, policies = config_copy
    edit(stacks / "dev.yaml", lambda d: d["jobs"].update(timeout_secnds=60))
    msg = error_for("dev", stacks, policies)
    assert "stacks/dev.yaml: jobs.timeout_secnds: unknown key; got 'timeout_secnds'; allowed:" in msg
    assert "timeout_seconds" in msg


def test_fails_on_duplicate_yaml_key(config_copy: tuple[Path, Path]) -> None:
    stacks, policies = config_copy
    path = stacks / "dev.yaml"
    path.write_text(path.read_text() + "environment: dev\n")
    assert "duplicate key 'environment'" in error_for("dev", stacks, policies)


def test_fails_with_override_path_when_the_override_is_wrong(config_copy: tuple[Path, Path]) -> None:
    stacks, policies = config_copy
    edit(
        stacks / "models.yaml",
        lambda d: d["models"][0]["overrides"]["prod"]["serving"].update(workload_size="Huge"),
    )
    msg = error_for("prod", stacks, policies)
    assert (
        "models[0].overrides.prod.serving.workload_size: Input should be 'Small', 'Medium' or 'Large'" in msg
    )
    load_platform("dev", stacks, policies)  # the override only breaks prod


def test_fails_on_all_purpose_compute_in_prod(config_copy: tuple[Path, Path]) -> None:
    stacks, policies = config_copy
    dev = yaml.safe_load((stacks / "dev.yaml").read_text())
    edit(stacks / "prod.yaml", lambda d: d["compute"].update(interactive=dev["compute"]["interactive"]))
    assert "compute.interactive: no all-purpose compute in production" in error_for("prod", stacks, policies)


def test_reports_every_problem_at_once(config_copy: tuple[Path, Path]) -> None:
    stacks, policies = config_copy
    edit(stacks / "staging.yaml", lambda d: (d["tags"].pop("team"), d["jobs"].pop("run_as")))
    with pytest.raises(ConfigError) as exc:
        load_platform("staging", stacks, policies)
    assert {p.path for p in exc.value.problems} >= {("tags", "team"), ("jobs", "run_as")}


@pytest.mark.parametrize(
    "cron", ["0 0 3 ? * MON", "0 30 2 * * ?", "0 0/15 * * * ?", "0 0 12 ? * MON-FRI", "0 0 0 L * ?"]
)
def test_valid_quartz_crons_pass(cron: str) -> None:
    assert cron_problem(cron) is None


# --- plaintext credentials are refused at config load (issue 13): config is bundled into the job
# --- wheel and copied into the synthesized stacks, so a token there would ship.


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://alerts.acme.example/hook?token=0a1b2c3d4e", "a URL with a 'token' query parameter"),
        (
            "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXX",
            "an incoming-webhook URL (hooks.slack.com)",
        ),
        ("https://bot:s3cret@alerts.acme.example/hook", "a URL with credentials in its user info"),
    ],
)
def test_fails_webhook_url_with_a_credential_without_echoing_it(
    config_copy: tuple[Path, Path], url: str, kind: str
) -> None:
    stacks, policies = config_copy
    edit(stacks / "models.yaml", lambda d: d["models"][0]["monitoring"].update(webhook_url=url))
    msg = error_for("dev", stacks, policies)
    assert f"stacks/models.yaml: models[0].monitoring.webhook_url: holds {kind}" in msg
    assert "secret scope" in msg
    assert url not in msg  # the error must not print the secret it refuses


def test_fails_credential_anywhere_in_the_config_by_key_path(config_copy: tuple[Path, Path]) -> None:
    stacks, policies = config_copy
    edit(stacks / "models.yaml", lambda d: d["defaults"].update(description="ci token dapi" + "a1" * 16))
    edit(stacks / "prod.yaml", lambda d: d["tags"].update(owner="ghp_" + "A" * 36))
    msg = error_for("prod", stacks, policies)
    assert "stacks/models.yaml: defaults.description: holds a Databricks personal access token" in msg
    assert "stacks/prod.yaml: tags.owner: holds a GitHub token" in msg


def test_passes_webhook_url_without_a_credential(config_copy: tuple[Path, Path]) -> None:
    stacks, policies = config_copy
    url = "https://alerts.acme.example/mlops/drift"
    edit(stacks / "models.yaml", lambda d: d["models"][0]["monitoring"].update(webhook_url=url))
    assert load_platform("dev", stacks, policies).models[0].monitoring.webhook_url == url


def test_fails_duplicated_key_in_the_role_matrix(config_copy: tuple[Path, Path]) -> None:
    stacks, policies = config_copy
    path = policies / "rbac" / "roles.yaml"
    path.write_text(path.read_text() + "\nplatform_role: analysts\n")
    assert "rbac/roles.yaml: <root>: YAML syntax error" in error_for("dev", stacks, policies)
    assert "duplicate key 'platform_role'" in error_for("dev", stacks, policies)


def test_fails_on_a_role_grant_in_a_schema_the_platform_does_not_create(
    config_copy: tuple[Path, Path],
) -> None:
    stacks, policies = config_copy
    edit(
        policies / "rbac" / "roles.yaml",
        lambda d: d["roles"]["analysts"]["schemas"].update(reporting={"all": ["SELECT"]}),
    )
    assert (
        "roles.yaml: roles.analysts.schemas.reporting: not a platform schema; got 'reporting'; "
        "allowed: features, inference_logs, models, monitoring"
    ) in error_for("dev", stacks, policies)


def test_fails_on_the_removed_catalog_schemas_setting(config_copy: tuple[Path, Path]) -> None:
    stacks, policies = config_copy
    edit(stacks / "dev.yaml", lambda d: d["catalog"].update(schemas=["features"]))
    assert "dev.yaml: catalog.schemas: unknown key" in error_for("dev", stacks, policies)


def test_fails_on_a_role_with_members_that_are_not_service_principals(config_copy: tuple[Path, Path]) -> None:
    stacks, policies = config_copy
    edit(
        policies / "rbac" / "roles.yaml",
        lambda d: d["roles"]["model_owners"].update(members=["deployer", "analysts"]),
    )
    assert "roles.model_owners.members[1]: not a service principal role; got 'analysts'" in error_for(
        "dev", stacks, policies
    )


def test_allowed_lists_the_values_sorted_or_says_what_stands_for_none() -> None:
    assert allowed({"prod", "dev"}) == "dev, prod"
    assert allowed((), "none configured") == "none configured"
    # Nothing to list and nothing said for it: the message has no "allowed" part at all.
    assert str(Problem("stacks/dev.yaml", ("groups", "x"), "unknown role", "x", allowed(()))) == (
        "stacks/dev.yaml: groups.x: unknown role; got 'x'"
    )
