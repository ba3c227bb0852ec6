"""Model serving endpoints: UC models, scale to zero outside prod, inference tables, rate limits.

Endpoints on this platform are created without a ``config`` block; a deploy job task sets the
served entity later. So sizing is read from the endpoint's ``config`` when present (hand-written
Terraform, plans), otherwise from the named parameters of the deploy task that targets it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from infra.guardrails.params import EnvParams
from infra.guardrails.rules import Violation, rule
from infra.guardrails.stack import StackIndex, as_bool, as_number, block, blocks, job_tasks, mapping, scalar
from infra.tfdoc import Resource

UC_NAME = re.compile(r"^[^.\s]+\.[^.\s]+\.[^.\s]+$")


class DeployTasks:
    """Deploy tasks of the stack, indexed once (endpoints x jobs would be quadratic).

    A task serves an endpoint when it names the endpoint in ``endpoint_param`` (by name or
    reference), or (the platform's stacks) passes the model key in ``model_param`` that the
    endpoint carries as its ``endpoint_tag`` tag.
    """

    def __init__(self, index: StackIndex, params: EnvParams) -> None:
        self.index = index
        self.spec = params.deploy_task
        self.model_names = {scalar(m.values.get("name")) for m in index.of("databricks_registered_model")}
        self.by_endpoint: dict[Any, list[tuple[Resource, dict[str, Any]]]] = {}
        self.by_model: dict[Any, list[tuple[Resource, dict[str, Any]]]] = {}
        for job in index.of("databricks_job"):
            for task in job_tasks(job):
                wheel = block(task, "python_wheel_task")
                if wheel.get("entry_point") in self.spec.entry_points:
                    self._add(job, mapping(wheel.get("named_parameters")))

    def _add(self, job: Resource, named: dict[str, Any]) -> None:
        value = named.get(self.spec.endpoint_param) if self.spec.endpoint_param else None
        if value is not None:
            target, _ = self.index.target(value)
            key = target.address if target is not None else scalar(value)
            self.by_endpoint.setdefault(key, []).append((job, named))
        else:
            self.by_model.setdefault(scalar(named.get(self.spec.model_param)), []).append((job, named))

    def serving(self, endpoint: Resource) -> list[tuple[Resource, dict[str, Any]]]:
        found = self.by_endpoint.get(endpoint.address, []) + self.by_endpoint.get(
            scalar(endpoint.values.get("name")), []
        )
        tagged = scalar(_tag(endpoint, self.spec.endpoint_tag)) if self.spec.endpoint_tag else None
        return found + (self.by_model.get(tagged, []) if tagged is not None else [])

    def uc_model(self, value: Any, short_ok: bool = True) -> bool:
        """A three-level name, a reference to a UC registered model, or (``short_ok``, deploy task
        parameters that the job resolves) the name of a registered model in this stack."""
        target, _ = self.index.target(value)
        if target is not None:
            return target.type == "databricks_registered_model"
        if not isinstance(value, str):
            return False
        return UC_NAME.match(value) is not None or (short_ok and value in self.model_names)


def _tag(endpoint: Resource, key: str) -> Any:
    return next((t.get("value") for t in blocks(endpoint.values, "tags") if t.get("key") == key), None)


def _served(endpoint: Resource) -> list[tuple[str, dict[str, Any]]]:
    config = block(endpoint.values, "config")
    out = [("entity_name", e) for e in blocks(config, "served_entities")]
    return out + [("model_name", m) for m in blocks(config, "served_models")]


@rule("DBX015", "require_scale_to_zero", "deploy_task")
def serving_endpoints(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    endpoints = list(index.of("databricks_model_serving"))
    tasks = DeployTasks(index, params)
    for endpoint in endpoints:
        yield from _gateway(endpoint)
        if block(endpoint.values, "config"):
            yield from _config(tasks, endpoint, params)
        else:
            yield from _deploy_parameters(tasks, endpoint, params)


def _gateway(endpoint: Resource) -> Iterator[Violation]:
    gateway = block(endpoint.values, "ai_gateway")
    table = block(gateway, "inference_table_config")
    if (
        as_bool(table.get("enabled")) is not True
        or not table.get("catalog_name")
        or not table.get("schema_name")
    ):
        yield Violation(
            endpoint,
            "inference tables are off (ai_gateway.inference_table_config enabled + catalog + schema)",
        )
    limits = blocks(gateway, "rate_limits") or blocks(endpoint.values, "rate_limits")
    if not limits or any((as_number(limit.get("calls")) or 0) <= 0 for limit in limits):
        yield Violation(endpoint, "no rate limits (ai_gateway.rate_limits with calls > 0)")


def _config(tasks: DeployTasks, endpoint: Resource, params: EnvParams) -> Iterator[Violation]:
    for key, served in _served(endpoint):
        if served.get("external_model"):
            continue
        if not tasks.uc_model(served.get(key), short_ok=False):
            yield Violation(
                endpoint, f"serves {served.get(key)!r}: not a Unity Catalog catalog.schema.model name"
            )
        if params.require_scale_to_zero and as_bool(served.get("scale_to_zero_enabled")) is not True:
            yield Violation(endpoint, f"served {served.get(key)!r} does not scale to zero in {endpoint.env}")


def _deploy_parameters(tasks: DeployTasks, endpoint: Resource, params: EnvParams) -> Iterator[Violation]:
    spec = params.deploy_task
    serving = tasks.serving(endpoint)
    if not serving:
        yield Violation(
            endpoint,
            f"no config block and no deploy task (entry point {spec.entry_points}, parameter "
            f"{spec.endpoint_param!r} or tag {spec.endpoint_tag!r} = {spec.model_param!r}) targets this "
            "endpoint: what it serves cannot be verified",
        )
    for job, named in serving:
        model = named.get(spec.model_param)
        if not tasks.uc_model(model):
            yield Violation(
                endpoint,
                f"deploy task of {job.address}: {spec.model_param}={model!r} is not catalog.schema.model",
            )
        scale = as_bool(named.get(spec.scale_to_zero_param))
        if params.require_scale_to_zero and scale is not True:
            yield Violation(
                endpoint,
                f"deploy task of {job.address}: "
                f"{spec.scale_to_zero_param}={named.get(spec.scale_to_zero_param)!r} "
                f"in {endpoint.env}; scale to zero outside prod",
            )
