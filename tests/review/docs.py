"""Small hand-made cdk.tf.json documents for the review's unit tests."""

from __future__ import annotations

import copy
import json
from typing import Any

INTERACTIVE = {
    "cluster_type": {"type": "fixed", "value": "all-purpose"},
    "autotermination_minutes": {"type": "fixed", "value": 30, "hidden": True},
    "dbus_per_hour": {"type": "range", "maxValue": 10},
    "node_type_id": {"type": "allowlist", "values": ["m5d.large"]},
}
RUNNER = "${databricks_service_principal.runner.application_id}"
JOB_POLICY = {
    "cluster_type": {"type": "fixed", "value": "job"},
    "dbus_per_hour": {"type": "range", "maxValue": 20},
}


def base_doc() -> dict[str, Any]:
    """One catalog, one schema, two principals, a grant, a policy pair and one daily job."""
    return copy.deepcopy(
        {
            "resource": {
                "databricks_group": {"ds": {"display_name": "data-scientists"}},
                "databricks_service_principal": {"runner": {"display_name": "sp-jobs"}},
                "databricks_catalog": {"cat": {"name": "main_cat", "owner": "platform"}},
                "databricks_schema": {
                    "feat": {"catalog_name": "${databricks_catalog.cat.name}", "name": "features"}
                },
                "databricks_grants": {
                    "g": {
                        "schema": "${databricks_schema.feat.id}",
                        "grant": [
                            {"principal": "data-scientists", "privileges": ["SELECT"]},
                            {
                                "principal": RUNNER,
                                "privileges": ["SELECT", "MODIFY"],
                            },
                        ],
                    }
                },
                "databricks_cluster_policy": {
                    "interactive": {"name": "interactive", "definition": json.dumps(INTERACTIVE)},
                    "jobs": {"name": "jobs", "definition": json.dumps(JOB_POLICY)},
                },
                "databricks_job": {
                    "train": {
                        "name": "train",
                        "timeout_seconds": 7200,
                        "schedule": {"quartz_cron_expression": "0 0 3 * * ?", "timezone_id": "UTC"},
                        "job_cluster": [
                            {
                                "job_cluster_key": "main",
                                "new_cluster": {"policy_id": "${databricks_cluster_policy.jobs.id}"},
                            }
                        ],
                    }
                },
                "databricks_permissions": {
                    "train_perms": {
                        "job_id": "${databricks_job.train.id}",
                        "access_control": [
                            {
                                "service_principal_name": RUNNER,
                                "permission_level": "CAN_MANAGE",
                            }
                        ],
                    }
                },
            }
        }
    )


def resources(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return doc["resource"]
