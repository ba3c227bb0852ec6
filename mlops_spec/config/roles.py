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
WarehouseLevel = Literal["CAN_VIEW", "CAN_MONITOR", "CAN_USE", "CAN_MANAGE", "IS_OWNER"]
DashboardLevel = Literal["CAN_READ", "CAN_RUN", "CAN_EDIT", "CAN_MANAGE"]
PolicyName = Literal["interactive", "cpu_training", "gpu_training", "inference"]


T = TypeVar("T")


class PerEnv(Spec, Generic[T]):
    """A value for ``all`` environments, overridden by ``dev``/``staging``/``prod`` where given."""

    all: T | None = Field(None, description="Every environment, unless overridden below.")
    dev: T | None = Field(None, description="dev (null = nothing in dev).")
    staging: T | None = Field(None, description="staging (null = nothing in staging).")
    prod: T | None = Field(None, description="prod (null = nothing in prod).")

    def for_env(self, env: str) -> T | None:
        if env in self.model_fields_set:
            value: T | None = getattr(self, env)  # a field named after the environment
            return value
        return self.all


class Entitlements(Spec):
    workspace_access: bool = Field(True, description="May use the workspace.")
    databricks_sql_access: bool = Field(False, description="May use Databricks SQL.")
    allow_cluster_create: bool = Field(False, description="May create clusters without a policy.")
    allow_instance_pool_create: bool = Field(False, description="May create instance pools.")


class RoleSpec(Spec):
    description: str = Field(description="What the role is for.")
    kind: Literal["group", "service_principal"] = Field(
        "group", description="group (people) or service_principal (automation)."
    )
    members: tuple[str, ...] = Field(
        (), description="Service principal roles that are members of this group (groups only)."
    )
    entitlements: Entitlements = Field(Entitlements(), description="Workspace entitlements.")
    catalog: PerEnv[tuple[str, ...]] = Field(PerEnv(), description="Privileges on the catalog.")
    schemas: dict[str, PerEnv[tuple[str, ...]]] = Field(
        default_factory=dict, description="Schema name -> privileges on that schema."
    )
    models: PerEnv[tuple[str, ...]] = Field(PerEnv(), description="Privileges on every registered model.")
    folders: PerEnv[FolderLevel] = Field(PerEnv(), description="Permission on the platform's folder.")
    cluster_policies: PerEnv[tuple[PolicyName, ...]] = Field(
        PerEnv(), description="Cluster policies the role may use."
    )
    jobs: PerEnv[JobLevel] = Field(PerEnv(), description="Permission on every job.")
    experiments: PerEnv[ExperimentLevel] = Field(PerEnv(), description="Permission on every experiment.")
    serving_endpoints: PerEnv[EndpointLevel] = Field(
        PerEnv(), description="Permission on every serving endpoint."
    )
    secret_scopes: PerEnv[SecretLevel] = Field(PerEnv(), description="ACL on every secret scope.")
    sql_warehouses: PerEnv[WarehouseLevel] = Field(PerEnv(), description="Permission on the SQL warehouse.")
    dashboards: PerEnv[DashboardLevel] = Field(PerEnv(), description="Permission on the fleet dashboard.")


class RoleMatrix(Spec):
    roles: dict[str, RoleSpec] = Field(description="Role key -> what the role may do.")
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
