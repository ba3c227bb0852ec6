"""One environment's settings (``stacks/<env>.yaml``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mlops_spec.config.base import Spec
from mlops_spec.config.compute import ComputeConfig
from mlops_spec.config.fleet import FleetConfig, NotificationsConfig

EnvName = Literal["dev", "staging", "prod"]
ENV_NAMES: tuple[str, ...] = ("dev", "staging", "prod")
# The stack of account-level resources (workspaces, metastore, network, keys): not an environment; it
# has its own targets and workflow (make plan-account, deploy-account.yml).
ACCOUNT_STACK = "account"
REQUIRED_TAGS: tuple[str, ...] = ("team", "cost_center", "env")


class WorkspaceConfig(Spec):
    host: str | None = Field(
        None,
        pattern=r"^https://[A-Za-z0-9.-]+$",
        description="Workspace URL. None = taken from the account stack's output (greenfield).",
    )
    workspace_id: str | None = Field(None, description="Numeric workspace id of an existing workspace.")


class LocalBackend(Spec):
    type: Literal["local"] = Field("local", description="A local state file (one machine only).")
    path: str | None = Field(
        None,
        description="State file, relative to cdktf.out/stacks/<env>/ where Terraform runs; "
        "None = terraform.<env>.tfstate in the project root.",
    )


class S3Backend(Spec):
    type: Literal["s3"] = Field(description="State in an S3 bucket.")
    bucket: str = Field(description="Bucket that holds the state.")
    key: str = Field(description="Object key of the state file.")
    region: str = Field(description="AWS region of the bucket.")
    dynamodb_table: str | None = Field(None, description="Lock table; None = S3 native locking.")
    encrypt: bool = Field(True, description="Server-side encryption of the state object.")


class AzureBackend(Spec):
    type: Literal["azurerm"] = Field(description="State in Azure Blob Storage.")
    resource_group_name: str = Field(description="Resource group of the storage account.")
    storage_account_name: str = Field(description="Storage account that holds the state.")
    container_name: str = Field(description="Blob container that holds the state.")
    key: str = Field(description="Blob name of the state file.")


class GcsBackend(Spec):
    type: Literal["gcs"] = Field(description="State in Google Cloud Storage.")
    bucket: str = Field(description="Bucket that holds the state.")
    prefix: str = Field(description="Object prefix under which the state is kept.")


Backend = LocalBackend | S3Backend | AzureBackend | GcsBackend


class ServicePrincipal(Spec):
    display_name: str = Field(min_length=3, description="Display name of the service principal.")
    application_id: str | None = Field(
        None, description="Existing principal's application id; None = the stack creates it."
    )


class CatalogConfig(Spec):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,254}$", description="Unity Catalog catalog name.")
    create: bool = Field(True, description="False = use an existing catalog (the stack only grants).")
    storage_root: str | None = Field(
        None,
        pattern=r"^(s3|abfss|gs)://[^\s]+$",
        description=(
            "Managed location of the catalog; None = the metastore's (required when the metastore has none). "
            "The stack registers it as an external location on the storage credential."
        ),
    )
    storage_credential: str | None = Field(
        None,
        description=(
            "Existing storage credential for storage_root; None = the one the account stack creates "
            "(workspaces.<env>.catalog_storage_role_arn in account.yaml)."
        ),
    )


class Grant(Spec):
    """An extra grant beyond the role matrix, e.g. a partner team reading the monitoring schema."""

    principal: str = Field(description="A role key from policies/rbac/roles.yaml or a configured group.")
    securable: str = Field(description="'catalog' or 'schema:<name>'.")
    privileges: tuple[str, ...] = Field(min_length=1, description="Unity Catalog privileges, e.g. SELECT.")


class JobsConfig(Spec):
    run_as: str | None = Field(
        None,
        description=(
            "Service principal role (service_principals.<key>) jobs run as; None = the deploying identity, "
            "allowed in dev only."
        ),
    )
    notification_emails: tuple[str, ...] = Field(min_length=1, description="Failure notifications.")
    timeout_seconds: int = Field(
        7200, ge=60, le=172800, description="Timeout of every job run (training may set its own)."
    )
    max_retries: int = Field(1, ge=0, le=5, description="Retries of a failed task.")
    min_retry_interval_millis: int = Field(300_000, ge=0, description="Wait before a retry.")
    pause_schedules: bool = Field(False, description="Create schedules paused (useful in dev).")


class SecurityConfig(Spec):
    """Security Reference Architecture settings; hardening on unless a cost is named."""

    max_token_lifetime_days: int = Field(
        90, ge=1, le=730, description="Longest personal access token lifetime (SAT IA-4: 90 days)."
    )
    results_download: bool = Field(False, description="Notebook results download (SRA: off).")
    notebook_export: bool = Field(False, description="Notebook export (SRA: off).")
    table_clipboard: bool = Field(False, description="Notebook table clipboard (SRA: off).")
    dbfs_file_browser: bool = Field(False, description="DBFS file browser (SRA: off).")
    verbose_audit_logs: bool = Field(True, description="Verbose audit logs (SRA: on).")


class IpAccessList(Spec):
    label: str = Field(description="Name of the list.")
    list_type: Literal["ALLOW", "BLOCK"] = Field(
        "ALLOW", description="ALLOW admits only these addresses; BLOCK rejects them."
    )
    addresses: tuple[str, ...] = Field(min_length=1, description="IPv4 addresses or CIDR ranges.")


class NetworkConfig(Spec):
    ip_access_lists: tuple[IpAccessList, ...] = Field(
        (), description="IP access lists of the workspace (at least one in prod)."
    )


class SecretScopeConfig(Spec):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,128}$", description="Secret scope name.")
    keys: tuple[str, ...] = Field((), description="Keys the jobs expect; values are put in out of band.")


class ArtifactsConfig(Spec):
    volume: str = Field("artifacts", pattern=r"^[a-z][a-z0-9_]*$", description="UC volume for the wheel.")
    schema_name: str = Field("models", description="Schema that holds the artifacts volume.")


class LoggingConfig(Spec):
    cluster_log_volume: str | None = Field(
        None, pattern=r"^[a-z][a-z0-9_]*$", description="UC volume for cluster logs (required in prod)."
    )


RiskTier = Literal["low", "medium", "high"]
"""The model risk tier a trained version carries (version tag ``risk_tier``, set by ml_jobs.explain)."""


class ApprovalsConfig(Spec):
    """Who signs a version off before ``promote`` may make it champion (where approval is required)."""

    chain: tuple[str, ...] = Field(
        ("model_owners",),
        min_length=1,
        description="Role keys (see groups) whose members approve, one step each, in this order.",
    )
    chains: dict[RiskTier, tuple[str, ...]] = Field(
        default_factory=dict,
        description="Risk tier -> its own chain (e.g. high: [ml_engineers, model_owners]); "
        "a tier not listed uses chain; a version without a risk_tier uses the high tier's.",
    )

    def for_tier(self, tier: str | None) -> tuple[str, ...]:
        """The chain of a version's risk tier; an unknown or missing tier takes the strictest (high)."""
        tiers: dict[str | None, RiskTier] = {"low": "low", "medium": "medium"}
        return self.chains.get(tiers.get(tier, "high"), self.chain)


class EnvironmentConfig(Spec):
    environment: EnvName = Field(description="The environment; must match the file name.")
    workspace: WorkspaceConfig = Field(WorkspaceConfig(), description="The workspace this stack deploys to.")
    state_backend: Backend = Field(
        LocalBackend(), discriminator="type", description="Where Terraform keeps this stack's state."
    )
    catalog: CatalogConfig = Field(description="The environment's Unity Catalog catalog.")
    groups: dict[str, str] = Field(description="Role key -> workspace group display name.")
    service_principals: dict[str, ServicePrincipal] = Field(
        default_factory=dict, description="Role key -> the environment's service principal."
    )
    tags: dict[str, str] = Field(description="Tags on clusters and jobs; team, cost_center, env required.")
    compute: ComputeConfig = Field(description="Compute profiles, one cluster policy each.")
    jobs: JobsConfig = Field(description="Settings of every job.")
    security: SecurityConfig = Field(SecurityConfig(), description="Workspace security settings.")
    network: NetworkConfig = Field(NetworkConfig(), description="Who may reach the workspace.")
    secret_scopes: tuple[SecretScopeConfig, ...] = Field((), description="Secret scopes the jobs read.")
    grants: tuple[Grant, ...] = Field((), description="Unity Catalog grants beyond the role matrix.")
    artifacts: ArtifactsConfig = Field(ArtifactsConfig(), description="Where the job wheel is uploaded.")
    logging: LoggingConfig = Field(LoggingConfig(), description="Cluster log delivery.")
    monthly_budget_usd: float | None = Field(None, gt=0, description="Budget cap reported in the review.")
    notifications: NotificationsConfig = Field(
        NotificationsConfig(), description="Where jobs and SQL alerts send notifications."
    )
    fleet: FleetConfig = Field(
        FleetConfig(), description="The fleet: SQL warehouse, dashboard, alerts and the model inventory."
    )
    approvals: ApprovalsConfig = Field(
        ApprovalsConfig(), description="Approval chains of model versions, per risk tier."
    )
    production: bool = Field(
        False,
        description="A production environment: IP access lists, log delivery and no all-purpose compute "
        "required; data and its workspace undeletable; on-demand inference; no scale-to-zero; stricter "
        "review. The one place that says which environments are production (loader.production_envs).",
    )

    @property
    def is_prod(self) -> bool:
        return self.production
