"""Which setting in ``stacks/`` or ``policies/`` produces a synthesized resource.

A finding on ``databricks_cluster_policy.policy-cpu_training_088432EE`` is fixed in
``stacks/prod.yaml: compute.cpu_training`` (or the policy template), not in the JSON. The stacks'
construct paths name their origin (``prod/policy-cpu_training/Resource``,
``prod/model-churn/train-job``), so one ordered table of path patterns maps them back. A test
checks that every resource of the shipped stacks maps to a setting, so a renamed construct shows up.
"""

from __future__ import annotations

import re

from mlops_spec.config.environment import ACCOUNT_STACK

ROLES = "policies/rbac/roles.yaml"
MODELS = "stacks/models.yaml"

# (construct path below the stack, setting); {stack} is the stack's directory, groups fill the rest.
_TABLE: tuple[tuple[str, str], ...] = (
    # account stack
    (r"account-admin", "stacks/account.yaml: account.admin_application_id"),
    (r"assign-[^/]+-account-admin", "stacks/account.yaml: account.admin_application_id, metastores"),
    (
        r"deployer-access-(?P<ws>[^/]+)/.*",
        "stacks/account.yaml: workspaces.{ws}.catalog_storage_role_arn, identities.service_principals",
    ),
    (r"identities/.*", "stacks/account.yaml: identities"),
    (r"metastore-[^/]+/.*", "stacks/account.yaml: metastore"),
    (r"workspace-(?P<ws>[^/]+)/.*", "stacks/account.yaml: workspaces.{ws}"),
    # environment stacks: access comes from the role matrix
    (r"catalog/grants.*", f"{ROLES}: roles.*.catalog / roles.*.schemas; stacks/{{stack}}.yaml: grants"),
    (r"catalog/.*", "stacks/{stack}.yaml: catalog"),
    (r"identities/(?P<role>[^/]+)-entitlements", f"{ROLES}: roles.{{role}}.entitlements"),
    (r"identities/.*", "stacks/{stack}.yaml: groups / service_principals"),
    (r"folder/Permissions", f"{ROLES}: roles.*.folders"),
    (r"folder/.*", f"{MODELS}: models (the experiments folder of the stack)"),
    (r"endpoint-[^/]+/Permissions", f"{ROLES}: roles.*.serving_endpoints"),
    (r"endpoint-(?P<model>[^/]+)/.*", f"{MODELS}: models[name={{model}}].serving"),
    (r"model-[^/]+/(train|monitor|retrain)-job-permissions", f"{ROLES}: roles.*.jobs"),
    (r"model-[^/]+/experiment-permissions", f"{ROLES}: roles.*.experiments"),
    (r"model-[^/]+/model-grants", f"{ROLES}: roles.*.models"),
    (
        r"model-(?P<model>[^/]+)/train-job",
        f"{MODELS}: models[name={{model}}].training; stacks/{{stack}}.yaml: jobs, compute",
    ),
    (
        r"model-(?P<model>[^/]+)/(monitor|retrain)-job",
        f"{MODELS}: models[name={{model}}].monitoring; stacks/{{stack}}.yaml: jobs, compute.inference",
    ),
    (r"model-(?P<model>[^/]+)/.*", f"{MODELS}: models[name={{model}}]"),
    (
        r"labels-(?P<model>[^/]+)/.*",
        f"{MODELS}: models[name={{model}}].data, models[name={{model}}].monitoring (labels_writer, "
        "retention_days)",
    ),
    (r"policy-[^/]+/Permissions", f"{ROLES}: roles.*.cluster_policies"),
    (
        r"policy-(?P<profile>[^/]+)/.*",
        "stacks/{stack}.yaml: compute.{profile}; policies/cluster_policies/{profile}.json.j2",
    ),
    (r"secret-scope-[^/]+/acl-(?P<role>[^/]+)", f"{ROLES}: roles.{{role}}.secret_scopes"),
    (r"secret-scope-.*", "stacks/{stack}.yaml: secret_scopes"),
    (r"workspace-security/ip-.*", "stacks/{stack}.yaml: network.ip_access_lists"),
    (r"workspace-security/.*", "stacks/{stack}.yaml: security"),
    (r"wheel/.*", "stacks/{stack}.yaml: artifacts"),
    # the fleet: warehouse, dashboard, alerts, inventory job, notification destinations
    (r"fleet/warehouse-permissions", f"{ROLES}: roles.*.sql_warehouses"),
    (r"fleet/dashboard-permissions", f"{ROLES}: roles.*.dashboards"),
    (r"fleet/inventory-job-permissions", f"{ROLES}: roles.*.jobs"),
    (
        r"fleet/inventory-job",
        "stacks/{stack}.yaml: fleet.inventory, jobs, compute.inference, notifications.job_failures",
    ),
    (r"fleet/alert-[^/]+", "stacks/{stack}.yaml: fleet.alerts, notifications.sql_alerts"),
    (r"fleet/warehouse", "stacks/{stack}.yaml: fleet.warehouse"),
    (r"fleet/dashboard", "infra/dashboards/fleet.lvdash.json.j2; stacks/{stack}.yaml: fleet"),
    (r"fleet/.*", "stacks/{stack}.yaml: fleet"),
    (r"notifications/.*", "stacks/{stack}.yaml: notifications.destinations"),
    # feature tables: the tables and their grants, a feature job per schedule
    (r"features/grants-[^/]+", f"{ROLES}: roles.*.catalog / roles.*.schemas.features"),
    (r"features/job-[^/]+-permissions", f"{ROLES}: roles.*.jobs"),
    (r"features/job-[^/]+", f"{MODELS}: models[*].features.tables[*].schedule; stacks/{{stack}}.yaml: jobs"),
    (r"features/.*", f"{MODELS}: models[*].features.tables"),
)
_COMPILED = tuple((re.compile(pattern), setting) for pattern, setting in _TABLE)


def setting_of(construct_path: str | None) -> str | None:
    """The config setting a construct path comes from, or None (hand-written JSON, plans)."""
    if not construct_path or "/" not in construct_path:
        return None
    stack, rest = construct_path.split("/", 1)
    for pattern, setting in _COMPILED:
        match = pattern.fullmatch(rest)
        if match and (stack == ACCOUNT_STACK) == setting.startswith("stacks/account.yaml"):
            return setting.format(stack=stack, **match.groupdict())
    return None
