"""Required tags on clusters, job clusters, jobs, policies, endpoints and warehouses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from infra.guardrails.params import EnvParams
from infra.guardrails.rules import Violation, rule
from infra.guardrails.stack import StackIndex, block, blocks, mapping, scalar
from infra.tfdoc import Resource


def _kv_list(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {str(e.get("key")): e.get("value") for e in entries if scalar(e.get("key")) is not None}


def _check(
    res: Resource, where: str, tags: dict[str, Any], index: StackIndex, params: EnvParams
) -> Iterator[Violation]:
    missing = [t for t in params.required_tags if tags.get(t) in (None, "")]
    if missing:
        yield Violation(res, f"{where} lacks required tags {missing}")
    env_tag = params.env_tag
    if env_tag and env_tag not in missing and isinstance(tags.get(env_tag), str):
        value = tags[env_tag]
        if "${" not in value and value != index.env:
            yield Violation(res, f"{where} tag {env_tag}={value!r} in the {index.env} stack")


def _policy_tags(index: StackIndex, policy_ref: Any) -> dict[str, Any]:
    target, _ = index.target(policy_ref)
    policy = index.policies.get(target.address) if target else None
    if policy is None or policy.definition is None:
        return {}
    return {
        key.removeprefix("custom_tags."): rule.get("value")
        for key, rule in policy.definition.items()
        if key.startswith("custom_tags.") and isinstance(rule, dict) and rule.get("type") == "fixed"
    }


@rule("DBX012", "required_tags", "env_tag")
def required_tags(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    for cluster in index.clusters():
        tags = {
            **_policy_tags(index, cluster.values.get("policy_id")),
            **mapping(cluster.values.get("custom_tags")),
        }
        yield from _check(cluster.owner, cluster.where, tags, index, params)
    for job in index.of("databricks_job"):
        yield from _check(job, job.address, mapping(job.values.get("tags")), index, params)
    for policy in index.policies.values():
        if policy.definition is not None:
            fixed = _policy_tags(index, "${" + policy.resource.address + ".id}")
            yield from _check(
                policy.resource, f"policy '{policy.name}' (fixed custom_tags.*)", fixed, index, params
            )
    for endpoint in index.of("databricks_model_serving"):
        yield from _check(
            endpoint, endpoint.address, _kv_list(blocks(endpoint.values, "tags")), index, params
        )
    for warehouse in index.of("databricks_sql_endpoint"):
        tags = _kv_list(blocks(block(warehouse.values, "tags"), "custom_tags"))
        yield from _check(warehouse, warehouse.address, tags, index, params)
