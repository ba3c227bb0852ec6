"""The role-to-privilege matrix (``policies/rbac/roles.yaml``) as typed data.

A role is a group (people) or a service principal (automation). Every value may be given for
``all`` environments and overridden per environment; ``null`` means "nothing here".
"""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import Field, model_validator

from mlops_spec.config.base import Spec

CATALOG_PRIVILEGES = frozenset(
    {
        "ALL_PRIVILEGES", "APPLY_TAG", "BROWSE", "CREATE_FUNCTION", "CREATE_MATERIALIZED_VIEW",
        "CREATE_MODEL", "CREATE_SCHEMA", "CREATE_TABLE", "CREATE_VOLUME", "EXECUTE",
        "EXTERNAL_USE_SCHEMA", "MANAGE", "MODIFY", "READ_VOLUME", "REFRESH", "SELECT",
        "USE_CATALOG", "USE_SCHEMA", "WRITE_VOLUME",
    }
)  # fmt: skip
SCHEMA_PRIVILEGES = CATALOG_PRIVILEGES - {"BROWSE", "CREATE_SCHEMA", "USE_CATALOG"}
MODEL_PRIVILEGES = frozenset({"ALL_PRIVILEGES", "APPLY_TAG", "EXECUTE", "MANAGE"})
WRITE_PRIVILEGES = frozenset(
    {
        "ALL_PRIVILEGES", "APPLY_TAG", "CREATE_FUNCTION", "CREATE_MATERIALIZED_VIEW", "CREATE_MODEL",
        "CREATE_SCHEMA", "CREATE_TABLE", "CREATE_VOLUME", "MANAGE", "MODIFY", "REFRESH", "WRITE_VOLUME",
    }
)  # fmt: skip

FolderLevel = Literal["CAN_READ", "CAN_RUN", "CAN_EDIT", "CAN_MANAGE"]
JobLevel = Literal["CAN_VIEW", "CAN_MANAGE_RUN", "CAN_MANAGE", "IS_OWNER"]
ExperimentLevel = Literal["CAN_READ", "CAN_EDIT", "CAN_MANAGE"]
EndpointLevel = Literal["CAN_VIEW", "CAN_QUERY", "CAN_MANAGE"]
SecretLevel = Literal["READ", "WRITE", "MANAGE"]
PolicyName = Literal["interactive", "cpu_training", "gpu_training", "inference"]


T = TypeVar("T")


class PerEnv(Spec, Generic[T]):
    """A value for ``all`` environments, overridden by ``dev``/``staging``/``prod`` where given."""

    all: T | None = None
    dev: T | None = None
    staging: T | None = None
    prod: T | None = None

    def for_env(self, env: str) -> T | None:
        if env in self.model_fields_set:
            return getattr(self, env)
        return self.all


class Entitlements(Spec):
    workspace_access: bool = True
    databricks_sql_access: bool = False
    allow_cluster_create: bool = False
    allow_instance_pool_create: bool = False


class RoleSpec(Spec):
    description: str
    kind: Literal["group", "service_principal"] = "group"
    members: tuple[str, ...] = Field(
        (), description="Service principal roles that are members of this group (groups only)."
    )
    entitlements: Entitlements = Entitlements()
    catalog: PerEnv[tuple[str, ...]] = PerEnv()
    schemas: dict[str, PerEnv[tuple[str, ...]]] = Field(default_factory=dict)
    models: PerEnv[tuple[str, ...]] = PerEnv()
    folders: PerEnv[FolderLevel] = PerEnv()
    cluster_policies: PerEnv[tuple[PolicyName, ...]] = PerEnv()
    jobs: PerEnv[JobLevel] = PerEnv()
    experiments: PerEnv[ExperimentLevel] = PerEnv()
    serving_endpoints: PerEnv[EndpointLevel] = PerEnv()
    secret_scopes: PerEnv[SecretLevel] = PerEnv()


class RoleMatrix(Spec):
    roles: dict[str, RoleSpec]
    platform_role: str = Field(description="Role that administers the platform (MANAGE on secrets).")
    job_runner_role: str = Field(description="Service principal role that runs jobs outside dev.")
    deployer_role: str = Field(description="Service principal role that deploys (CI/CD).")
    model_owner_role: str = Field(
        description=(
            "Group that owns the registered models: Unity Catalog lets only an owner create versions, move "
            "aliases and change a model, so the deployer and the job runner are its members."
        )
    )

    @model_validator(mode="after")
    def _named_roles_exist(self) -> RoleMatrix:
        for field in ("platform_role", "job_runner_role", "deployer_role", "model_owner_role"):
            if getattr(self, field) not in self.roles:
                raise ValueError(
                    f"{field} {getattr(self, field)!r} is not one of roles: {sorted(self.roles)}"
                )
        return self

    def groups(self) -> dict[str, RoleSpec]:
        return {k: r for k, r in self.roles.items() if r.kind == "group"}

    def service_principals(self) -> dict[str, RoleSpec]:
        return {k: r for k, r in self.roles.items() if r.kind == "service_principal"}
