"""Clusters, job clusters and cluster policies: access mode, policy use, cost caps, allowlists."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from infra.guardrails.params import EnvParams
from infra.guardrails.rules import Violation, rule
from infra.guardrails.stack import (
    Cluster,
    Policy,
    StackIndex,
    as_bool,
    as_number,
    block,
    blocks,
    job_tasks,
    listing,
    strings,
)

INIT_SCRIPT_SOURCES = ("workspace", "volumes")
# Any workspace user can replace a file on DBFS; Databricks deprecated libraries and init scripts in
# the DBFS root for that reason (docs: "Storing libraries in DBFS root is deprecated and disabled by
# default", https://docs.databricks.com/aws/en/libraries/; "Migrate init scripts from DBFS",
# https://docs.databricks.com/aws/en/init-scripts/). Code comes from workspace files or UC volumes.
DBFS_PREFIXES = ("dbfs:/", "/dbfs/")


def effective(cluster: Cluster, policy: Policy | None, key: str) -> Any:
    """What the cluster will run with: its own value, else the policy's fixed (or applied default) value."""
    value = cluster.values.get(key)
    if value is not None or policy is None:
        return value
    fixed = policy.fixed(key)
    if fixed is not None:
        return fixed
    if as_bool(cluster.values.get("apply_policy_default_values")):
        return policy.default(key)
    return None


def is_gpu_policy(index: StackIndex, policy: Policy, params: EnvParams) -> bool:
    """The GPU policy is marked by its name (``gpu_policy_name_pattern``) or by admitting only GPU
    runtimes or only GPU node types; everything else is a CPU policy."""
    return index.memo(("gpu", policy.resource.address), lambda: _is_gpu_policy(policy, params))


def _is_gpu_policy(policy: Policy, params: EnvParams) -> bool:
    if re.search(params.gpu_policy_name_pattern, policy.name, re.IGNORECASE):
        return True
    runtimes = policy.allowed("spark_version")
    if runtimes and all("gpu" in str(r) for r in runtimes):
        return True
    nodes = policy.allowed("node_type_id")
    return bool(nodes and all(n in params.gpu_node_types for n in nodes))


def runtime_allowed(version: str, params: EnvParams) -> bool:
    if version in params.runtimes:
        return True
    return bool(params.runtime_pattern and re.match(params.runtime_pattern, version))


def is_lts(version: str, params: EnvParams) -> bool:
    if version.startswith("auto:"):
        return version in params.lts_runtimes
    match = re.match(r"^(\d+\.\d+)\.x-", version)
    return bool(match and match.group(1) in params.lts_runtimes)


def _readable(index: StackIndex) -> Iterator[Policy]:
    """Policies whose definition could be read (the others are reported by DBX000)."""
    return (p for p in index.policies.values() if p.definition is not None)


@rule("DBX000")
def unverifiable_input(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    for policy in index.policies.values():
        if policy.error:
            yield Violation(policy.resource, f"cluster policy '{policy.name}': {policy.error}")
    for conf in index.of("databricks_workspace_conf"):
        config = conf.values.get("custom_config")
        if config is not None and not isinstance(config, dict):
            yield Violation(conf, f"custom_config is not a literal map ({str(config)[:60]!r})")


@rule("DBX001", "allowed_access_modes")
def uc_access_mode(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    allowed = params.allowed_access_modes
    for cluster in index.clusters():
        mode = effective(cluster, index.policy_of(cluster), "data_security_mode")
        if mode is None:
            yield Violation(
                cluster.owner,
                f"{cluster.where}: data_security_mode is not set and its policy does not fix it",
            )
        elif mode not in allowed:
            yield Violation(
                cluster.owner, f"{cluster.where}: data_security_mode {mode!r} is not a Unity Catalog mode"
            )
    for policy in _readable(index):
        modes = policy.allowed("data_security_mode")
        if not modes:
            yield Violation(
                policy.resource,
                f"policy '{policy.name}' does not pin data_security_mode (fixed or allowlist)",
            )
            continue
        bad = [m for m in modes if m not in allowed]
        if bad:
            yield Violation(policy.resource, f"policy '{policy.name}' admits data_security_mode {bad}")


@rule("DBX004")
def platform_policy(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    for cluster in index.clusters():
        policy_id = cluster.values.get("policy_id")
        if policy_id is None:
            yield Violation(cluster.owner, f"{cluster.where}: no policy_id")
        elif index.policy_of(cluster) is None:
            yield Violation(
                cluster.owner,
                f"{cluster.where}: policy_id {policy_id!r} is not a cluster policy managed by this stack",
            )


@rule("DBX005", "max_autotermination_minutes")
def autotermination(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    cap = params.max_autotermination_minutes
    for policy in _readable(index):
        if policy.is_job_only():
            continue
        low, high = policy.minimum("autotermination_minutes"), policy.maximum("autotermination_minutes")
        if high is None or low is None:
            yield Violation(
                policy.resource,
                f"interactive policy '{policy.name}' does not fix or bound autotermination_minutes",
            )
        elif low < 1 or high > cap:
            yield Violation(
                policy.resource,
                f"interactive policy '{policy.name}' admits autotermination_minutes {low:g}..{high:g}; "
                f"allowed 1..{cap} (0 never terminates)",
            )
    for cluster in index.clusters():
        if cluster.kind != "all-purpose":
            continue
        governing = index.policy_of(cluster)
        minutes = as_number(effective(cluster, governing, "autotermination_minutes"))
        bounded = governing is not None and (governing.maximum("autotermination_minutes") or cap + 1) <= cap
        if minutes is None and bounded:
            continue
        if minutes is None or not 1 <= minutes <= cap:
            yield Violation(
                cluster.owner, f"{cluster.where}: autotermination_minutes {minutes}; allowed 1..{cap}"
            )


@rule("DBX006", "max_dbus_per_hour", "max_workers")
def cost_caps(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    caps = {"dbus_per_hour": params.max_dbus_per_hour, "autoscale.max_workers": params.max_workers}
    for policy in _readable(index):
        for key, cap in caps.items():
            high = policy.maximum(key)
            if high is None and key == "autoscale.max_workers":
                high = policy.maximum("num_workers")  # a fixed-size (e.g. single-node) policy
            if high is None:
                yield Violation(
                    policy.resource, f"policy '{policy.name}' does not cap {key} (range maxValue)"
                )
            elif high > cap:
                yield Violation(
                    policy.resource,
                    f"policy '{policy.name}' caps {key} at {high:g}; the {index.env} cap is {cap:g}",
                )


def _from_dbfs(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower().startswith(DBFS_PREFIXES)


def _dbfs_code(where: str, node: Any) -> Iterator[str]:
    """Paths under ``dbfs:/`` in a task, library or environment spec: code any user could replace."""
    for path, _, text in strings(node, where):
        if _from_dbfs(text):
            yield f"{path} runs {text!r} from DBFS"


def _init_scripts(cluster: Cluster) -> Iterator[str]:
    for i, script in enumerate(blocks(cluster.values, "init_scripts")):
        sources = [k for k, v in script.items() if v]
        bad = [s for s in sources if s not in INIT_SCRIPT_SOURCES]
        if bad or not sources:
            yield f"init_scripts[{i}] from {bad or 'nowhere'}; allowed: {', '.join(INIT_SCRIPT_SOURCES)}"
        for source in sources:
            destination = block(script, source).get("destination")
            if source in INIT_SCRIPT_SOURCES and _from_dbfs(destination):
                yield f"init_scripts[{i}].{source}.destination {destination!r} is on DBFS"


@rule("DBX011")
def ssh_and_init_scripts(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    for script in index.of("databricks_global_init_script"):
        yield Violation(script, "global init scripts run on every cluster of the workspace")
    for cluster in index.clusters():
        if cluster.values.get("ssh_public_keys"):
            yield Violation(cluster.owner, f"{cluster.where}: ssh_public_keys set")
        for why in _init_scripts(cluster):
            yield Violation(cluster.owner, f"{cluster.where}: {why}")
    for res in index.of("databricks_cluster", "databricks_library"):
        for why in (
            _dbfs_code("library", res.values.get("library")) if res.type == "databricks_cluster" else ()
        ):
            yield Violation(res, why)
        if res.type == "databricks_library":
            for why in _dbfs_code(res.address, res.values):
                yield Violation(res, why)
    for job in index.of("databricks_job"):
        for task in job_tasks(job):
            label = f'task "{task.get("task_key", "?")}"'
            body = {k: v for k, v in task.items() if k not in ("for_each_task", "new_cluster")}
            for why in _dbfs_code(label, body):
                yield Violation(job, why)
        for why in _dbfs_code("environment", job.values.get("environment")):
            yield Violation(job, why)
    for policy in _readable(index):
        keys = [k for k in (policy.definition or {}) if k.startswith("ssh_public_keys")]
        for key in keys:
            if (policy.rule(key) or {}).get("type") != "forbidden":
                yield Violation(policy.resource, f"policy '{policy.name}' lets clusters set {key}")
        for key, entry in (policy.definition or {}).items():
            if key.startswith(("init_scripts", "libraries")) and isinstance(entry, dict):
                values = [entry.get("value"), entry.get("defaultValue"), *listing(entry.get("values"))]
                dbfs = [v for v in values if _from_dbfs(v)]
                if dbfs or (".dbfs." in key and entry.get("type") != "forbidden"):
                    yield Violation(policy.resource, f"policy '{policy.name}' {key} admits DBFS ({dbfs})")


def _node_problem(node: Any, gpu_ok: bool, params: EnvParams) -> str | None:
    if node in params.gpu_node_types:
        return None if gpu_ok else f"GPU node {node!r} outside the GPU policy"
    if node in params.cpu_node_types:
        return None
    return f"node type {node!r} is not allowlisted"


@rule("DBX013", "runtimes", "runtime_pattern", "cpu_node_types", "gpu_node_types")
def allowlists(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    for cluster in index.clusters():
        policy = index.policy_of(cluster)
        gpu_ok = policy is not None and is_gpu_policy(index, policy, params)
        version = effective(cluster, policy, "spark_version")
        if version is None:
            yield Violation(
                cluster.owner, f"{cluster.where}: spark_version is not set and its policy does not fix it"
            )
        elif not runtime_allowed(str(version), params):
            yield Violation(cluster.owner, f"{cluster.where}: runtime {version!r} is not allowlisted")
        node = effective(cluster, policy, "node_type_id")
        if node is None and not cluster.values.get("instance_pool_id"):
            yield Violation(
                cluster.owner, f"{cluster.where}: node_type_id is not set and its policy does not fix it"
            )
        for key in ("node_type_id", "driver_node_type_id"):
            value = effective(cluster, policy, key)
            issue = _node_problem(value, gpu_ok, params) if value is not None else None
            if issue:
                yield Violation(cluster.owner, f"{cluster.where}: {key}: {issue}")
    for policy in _readable(index):
        yield from _policy_allowlists(policy, is_gpu_policy(index, policy, params), params)


def _policy_allowlists(policy: Policy, gpu_ok: bool, params: EnvParams) -> Iterator[Violation]:
    runtimes = policy.allowed("spark_version")
    if not runtimes:
        yield Violation(
            policy.resource, f"policy '{policy.name}' does not pin spark_version (fixed or allowlist)"
        )
    else:
        bad = [r for r in runtimes if not runtime_allowed(str(r), params)]
        if bad:
            yield Violation(
                policy.resource, f"policy '{policy.name}' admits runtimes {bad} that are not allowlisted"
            )
    for key in ("node_type_id", "driver_node_type_id"):
        nodes = policy.allowed(key)
        if not nodes:
            yield Violation(
                policy.resource, f"policy '{policy.name}' does not restrict {key} (fixed or allowlist)"
            )
            continue
        issues = [i for n in nodes if (i := _node_problem(n, gpu_ok, params))]
        if issues:
            yield Violation(policy.resource, f"policy '{policy.name}' {key}: {'; '.join(issues)}")


@rule("DBX014")
def no_all_purpose_compute(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    for cluster in index.of("databricks_cluster"):
        yield Violation(cluster, "all-purpose cluster")
    for job in index.of("databricks_job"):
        for task in blocks(job.values, "task"):
            if task.get("existing_cluster_id"):
                yield Violation(
                    job,
                    f'{job.address} task "{task.get("task_key", "?")}" '
                    "runs on an existing (all-purpose) cluster",
                )
    for policy in _readable(index):
        if not policy.is_job_only():
            yield Violation(
                policy.resource,
                f"policy '{policy.name}' admits all-purpose clusters (cluster_type not limited to job)",
            )


@rule("DBX020")
def cluster_logs(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    for cluster in index.clusters():
        if cluster.kind != "job":
            continue
        conf = block(cluster.values, "cluster_log_conf")
        destinations = [block(conf, k).get("destination") for k in ("dbfs", "s3", "volumes")]
        policy = index.policy_of(cluster)
        by_policy = policy is not None and policy.fixed("cluster_log_conf.path") is not None
        if not any(destinations) and not by_policy:
            yield Violation(cluster.owner, f"{cluster.where}: no cluster_log_conf (nor fixed by its policy)")


@rule("DBX101", "lts_runtimes")
def lts_runtimes(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    for cluster in index.clusters():
        version = effective(cluster, index.policy_of(cluster), "spark_version")
        if version is not None and not is_lts(str(version), params):
            yield Violation(cluster.owner, f"{cluster.where}: runtime {version!r} is not an LTS release")
    for policy in _readable(index):
        bad = [r for r in policy.allowed("spark_version") or [] if not is_lts(str(r), params)]
        if bad:
            yield Violation(policy.resource, f"policy '{policy.name}' admits non-LTS runtimes {bad}")


@rule("DBX103")
def job_cluster_identity(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    for cluster in index.clusters():
        person = cluster.values.get("single_user_name")
        if cluster.kind == "job" and person and index.principal(person).kind == "user":
            yield Violation(cluster.owner, f"{cluster.where}: single_user_name is a person ({person})")


@rule("DBX104")
def job_policy_cluster_type(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    used_by_jobs: set[str] = set()
    used_interactively: set[str] = set()
    for cluster in index.clusters():
        policy = index.policy_of(cluster)
        if policy is not None:
            (used_by_jobs if cluster.kind == "job" else used_interactively).add(policy.resource.address)
    for address in sorted(used_by_jobs - used_interactively):
        policy = index.policies[address]
        if policy.definition is not None and not policy.is_job_only():
            yield Violation(
                policy.resource,
                f"policy '{policy.name}' serves job clusters but does not fix cluster_type to job",
            )


@rule("DBX107", "max_sql_auto_stop_mins")
def warehouse_auto_stop(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    cap = params.max_sql_auto_stop_mins
    for warehouse in index.of("databricks_sql_endpoint"):
        minutes = as_number(warehouse.values.get("auto_stop_mins"))
        if minutes is None or not 1 <= minutes <= cap:
            yield Violation(
                warehouse, f"auto_stop_mins {warehouse.values.get('auto_stop_mins')!r}; allowed 1..{cap}"
            )


CLOUD_ATTRIBUTES = ("aws_attributes", "azure_attributes", "gcp_attributes")
SPOT_ONLY = frozenset({"SPOT", "SPOT_AZURE", "PREEMPTIBLE_GCP"})


def _nested(cluster: Cluster, policy: Policy | None, block_key: str, key: str) -> Any:
    """A cloud attribute as the cluster runs with it: its own, else the policy's fixed or default."""
    own = block(cluster.values, block_key).get(key)
    if own is not None or policy is None:
        return own
    path = f"{block_key}.{key}"
    fixed = policy.fixed(path)
    if fixed is not None:
        return fixed
    return policy.default(path) if as_bool(cluster.values.get("apply_policy_default_values")) else None


def _spot_only(availability: Any, first_on_demand: Any) -> bool:
    """Every node, the driver included, on reclaimable capacity with no fallback.

    ``availability`` applies past the first ``first_on_demand`` nodes, and to the whole cluster when
    that is 0 (databricks-sdk compute.AwsAttributes / AzureAvailability docstrings).
    """
    return str(availability).upper() in SPOT_ONLY and (as_number(first_on_demand) or 0) < 1


@rule("DBX110", "inference_policy_name_pattern")
def prod_inference_capacity(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    pattern = re.compile(params.inference_policy_name_pattern, re.IGNORECASE)
    for cluster in index.clusters():
        policy = index.policy_of(cluster)
        if policy is None or not pattern.search(policy.name):
            continue
        for attrs in CLOUD_ATTRIBUTES:
            availability = _nested(cluster, policy, attrs, "availability")
            first = _nested(cluster, policy, attrs, "first_on_demand")
            if _spot_only(availability, first):
                yield Violation(
                    cluster.owner,
                    f"{cluster.where}: {attrs}.availability {availability!r} with first_on_demand {first!r}: "
                    f"prod inference on policy '{policy.name}' runs on spot only, driver included; keep an "
                    "on-demand driver (first_on_demand >= 1) or a *_WITH_FALLBACK availability",
                )
    for policy in _readable(index):
        if not pattern.search(policy.name):
            continue
        for attrs in CLOUD_ATTRIBUTES:
            availability = policy.fixed(f"{attrs}.availability")
            first = policy.maximum(f"{attrs}.first_on_demand")
            if _spot_only(availability, first):
                yield Violation(
                    policy.resource,
                    f"policy '{policy.name}' fixes {attrs}.availability {availability!r} and admits "
                    f"first_on_demand up to {first!r}: prod inference would run on spot only",
                )
