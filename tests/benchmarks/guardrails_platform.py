"""Generate a large synthesized platform (cdk.tf.json per environment) for the guardrails benchmark.

Each environment is the compliant test platform plus ``units`` model units (a job with two job
clusters, its permissions, a schema with grants, a registered model, an endpoint, an experiment
folder and a secret ACL), i.e. 8 resources per unit. A few violations are planted so the benchmark
also shows that the findings are the planted ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.guardrails.builders import SP_APP_ID, TAGS, Stack, job_body, platform, ref

ENVS = ("dev", "staging", "prod")
RESOURCES_PER_UNIT = 8


def add_unit(s: Stack, i: int) -> None:
    env = s.env
    keep = {"prevent_destroy": True} if env == "prod" else None
    cpu = f"databricks_cluster_policy.{env}_policies_cpu"
    sp = f"databricks_service_principal.{env}_rbac_runner"
    mlops = f"databricks_group.{env}_rbac_mlops"
    ds = f"databricks_group.{env}_rbac_ds"
    model = f"m{i:05d}"
    schema = s.add("databricks_schema", f"uc_{model}", {"catalog_name": env, "name": model}, keep)
    s.add(
        "databricks_grants",
        f"uc_{model}_grants",
        {
            "schema": ref(schema),
            "grant": [
                {"principal": ref(ds, "display_name"), "privileges": ["USE_SCHEMA", "SELECT"]},
                {"principal": ref(sp, "application_id"), "privileges": ["USE_SCHEMA", "SELECT", "MODIFY"]},
            ],
        },
    )
    s.add(
        "databricks_registered_model",
        f"uc_{model}_model",
        {"catalog_name": env, "schema_name": model, "name": model},
        keep,
    )
    endpoint = s.add(
        "databricks_model_serving",
        f"serving_{model}",
        {
            "name": f"{env}-{model}",
            "ai_gateway": {
                "inference_table_config": {"enabled": True, "catalog_name": env, "schema_name": model},
                "rate_limits": [{"calls": 100, "key": "endpoint", "renewal_period": "minute"}],
            },
            "tags": [{"key": k, "value": v} for k, v in {**TAGS, "env": env, "model": model}.items()],
        },
        {**(keep or {}), "ignore_changes": ["config"]},
    )
    body: dict[str, Any] = job_body(env, cpu, sp, endpoint)
    body["name"] = f"{env}-{model}"
    body["task"][1]["python_wheel_task"]["named_parameters"]["model"] = model
    score = json.loads(json.dumps(body["job_cluster"][0]))  # a copy: planted changes hit one cluster
    body["job_cluster"].append({**score, "job_cluster_key": "score"})
    job = s.add("databricks_job", f"jobs_{model}", body)
    s.add(
        "databricks_permissions",
        f"jobs_{model}_permissions",
        {
            "job_id": ref(job),
            "access_control": [{"group_name": ref(mlops, "display_name"), "permission_level": "CAN_MANAGE"}],
        },
    )
    s.add("databricks_directory", f"ws_{model}", {"path": f"/Shared/{env}/{model}"})
    s.add(
        "databricks_secret_acl",
        f"secrets_{model}",
        {"scope": "ml", "principal": SP_APP_ID, "permission": "READ"},
    )


def plant_violations(s: Stack) -> list[tuple[str, str]]:
    """One plaintext token, one GPU node outside the GPU policy; returns (rule, address) expected."""
    job = s.get(f"databricks_job.{s.env}_jobs_m00000")
    job["job_cluster"][0]["new_cluster"]["spark_conf"] = {"spark.hadoop.fs.s3a.secret.key": "plaintext"}
    job["job_cluster"][1]["new_cluster"]["node_type_id"] = "g5.xlarge"
    return [
        ("DBX003", f"databricks_job.{s.env}_jobs_m00000"),
        ("DBX013", f"databricks_job.{s.env}_jobs_m00000"),
    ]


def generate(root: Path, total: int = 10_000) -> tuple[int, list[tuple[str, str, str]]]:
    """Write cdktf.out/stacks/<env>/cdk.tf.json under ``root``; returns (resource count, planted)."""
    base = sum(len(v) for v in platform("dev").doc["resource"].values())
    units = max(1, (total // len(ENVS) - base) // RESOURCES_PER_UNIT)
    count = 0
    planted: list[tuple[str, str, str]] = []
    for env in ENVS:
        s = platform(env)
        for i in range(units):
            add_unit(s, i)
        planted += [(rule, env, address) for rule, address in plant_violations(s)]
        count += sum(len(v) for v in s.doc["resource"].values())
        s.write(root)
    return count, planted
