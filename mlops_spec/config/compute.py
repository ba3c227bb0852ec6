"""Compute profiles: what each cluster policy allows, per environment."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, model_validator

from mlops_spec.config.base import Spec
from mlops_spec.config.fleet import Capacity
from mlops_spec.dbr import ml_runtime

# AWS GPU instance families. A GPU node in a CPU profile is a cost and quota accident.
GPU_NODE_PATTERN = re.compile(r"^(g4dn|g5|g6|g6e|p3|p3dn|p4d|p4de|p5)\.")


def is_gpu_node(node_type: str) -> bool:
    return GPU_NODE_PATTERN.match(node_type) is not None


ProfileName = Literal["interactive", "cpu_training", "gpu_training", "inference"]
PROFILE_NAMES: tuple[str, ...] = ("interactive", "cpu_training", "gpu_training", "inference")


class ComputeProfile(Spec):
    """One cluster policy's envelope."""

    node_types: tuple[str, ...] = Field(min_length=1, description="Allowed worker and driver node types.")
    default_node_type: str | None = Field(None, description="Default node type; None = first of node_types.")
    runtime: str = Field(
        description="Databricks runtime (spark_version) fixed by the policy; unset = the platform's "
        "runtime (mlops_spec.dbr), its GPU image for gpu_training."
    )
    max_workers: int = Field(4, ge=1, le=256, description="Cap on autoscale.max_workers / num_workers.")
    max_dbus_per_hour: float = Field(10, gt=0, le=1000, description="Cost cap enforced by the policy.")
    autotermination_minutes: int | None = Field(
        None, ge=10, le=120, description="Interactive clusters only: fixed idle shutdown (10-120 min)."
    )
    capacity: Capacity | None = Field(
        None,
        description="spot_with_fallback or on_demand; None = on_demand for prod inference, "
        "spot_with_fallback for other job profiles (mlops_spec.config.fleet.capacity_of).",
    )
    on_demand_nodes: int = Field(
        1, ge=1, le=256, description="Nodes on on-demand capacity before spot (1 = the driver)."
    )

    @property
    def node_type(self) -> str:
        return self.default_node_type or self.node_types[0]

    @model_validator(mode="after")
    def _default_is_allowed(self) -> ComputeProfile:
        if self.default_node_type and self.default_node_type not in self.node_types:
            raise ValueError(
                f"default_node_type {self.default_node_type!r} is not in node_types {list(self.node_types)}"
            )
        return self


class ComputeConfig(Spec):
    """The four policies; a profile without ``runtime`` gets the platform runtime (``mlops_spec.dbr``)."""

    interactive: ComputeProfile | None = Field(
        None, description="Interactive (all-purpose) compute; None = no all-purpose compute (prod)."
    )
    cpu_training: ComputeProfile = Field(description="Policy of CPU training and retraining jobs.")
    gpu_training: ComputeProfile = Field(description="Policy of GPU training and retraining jobs.")
    inference: ComputeProfile = Field(description="Policy of the monitor (scoring) jobs.")

    @model_validator(mode="before")
    @classmethod
    def _platform_runtime(cls, raw: Any) -> Any:
        """The 'None means computed' rule for runtimes: one place, so the runtime lives in one place."""
        if not isinstance(raw, dict):
            return raw
        filled = dict(raw)
        for name in PROFILE_NAMES:
            profile = filled.get(name)
            if isinstance(profile, dict) and profile.get("runtime") is None:
                filled[name] = {**profile, "runtime": ml_runtime(gpu=name == "gpu_training")}
        return filled

    def profiles(self) -> dict[str, ComputeProfile]:
        return {n: p for n in PROFILE_NAMES if (p := getattr(self, n)) is not None}
