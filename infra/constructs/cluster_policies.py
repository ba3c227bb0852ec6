"""Cluster policies rendered from the jinja2 templates in ``policies/cluster_policies/``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from infra.cdk import ClusterPolicy, Construct
from infra.constructs._permissions import object_permissions
from mlops_spec.config.compute import ComputeProfile
from mlops_spec.config.fleet import AWS_AVAILABILITY, Capacity

UC_ACCESS_MODES: dict[str, tuple[str, ...]] = {
    # Interactive clusters are personal; job clusters run as the job's identity. Both are UC modes.
    "interactive": ("SINGLE_USER", "USER_ISOLATION"),
    "cpu_training": ("SINGLE_USER",),
    "gpu_training": ("SINGLE_USER",),
    "inference": ("SINGLE_USER",),
}


class PolicyTemplateError(ValueError):
    """A template in policies/ rendered to something that is not a policy definition."""


@dataclass(frozen=True)
class ClusterPolicyProps:
    env: str
    profile_name: str
    profile: ComputeProfile
    tags: dict[str, str]
    templates_dir: Path
    log_destination: str | None = None
    can_use: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Principal name -> (kind, level) allowed to use the policy."""
    capacity: Capacity | None = None
    """Spot with fallback or on-demand (``mlops_spec.config.fleet.capacity_of``); None = not pinned."""


def render_definition(props: ClusterPolicyProps) -> dict[str, object]:
    """Render and parse the policy template; the result is what Databricks enforces."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(props.templates_dir),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # JSON, not HTML; values go through |tojson
        keep_trailing_newline=True,
    )
    name = f"{props.profile_name}.json.j2"
    try:
        text = env.get_template(name).render(
            env=props.env,
            profile=props.profile,
            tags=props.tags,
            access_modes=UC_ACCESS_MODES[props.profile_name],
            log_destination=props.log_destination,
            capacity=_capacity(props),
        )
        definition = json.loads(text)
    except jinja2.TemplateNotFound as exc:
        raise PolicyTemplateError(f"{props.templates_dir / name}: template not found") from exc
    except (jinja2.TemplateError, json.JSONDecodeError) as exc:
        raise PolicyTemplateError(f"{props.templates_dir / name}: does not render to JSON: {exc}") from exc
    except Exception as exc:  # e.g. {{ profile.max_workers / 0 }}: a template bug is bad input, not a crash
        raise PolicyTemplateError(
            f"{props.templates_dir / name}: fails to render: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(definition, dict):
        raise PolicyTemplateError(f"{props.templates_dir / name}: must render to a JSON object")
    return definition


def _capacity(props: ClusterPolicyProps) -> dict[str, object] | None:
    if props.capacity is None:
        return None
    return {
        "availability": AWS_AVAILABILITY[props.capacity],
        "first_on_demand": props.profile.on_demand_nodes,
    }


class PlatformClusterPolicy(Construct):
    """A policy plus who may use it. ``policy.policy_id`` is what job clusters reference."""

    def __init__(self, scope: Construct, id_: str, props: ClusterPolicyProps) -> None:
        super().__init__(scope, id_)
        self.definition = render_definition(props)
        self.policy = ClusterPolicy(
            self,
            "Resource",
            name=f"mlops-{props.env}-{props.profile_name.replace('_', '-')}",
            definition=json.dumps(self.definition, sort_keys=True),
            description=f"Platform policy '{props.profile_name}' for {props.env}; managed in policies/.",
        )
        object_permissions(self, "Permissions", props.can_use, cluster_policy_id=self.policy.id)

    @property
    def policy_id(self) -> str:
        return self.policy.id
