"""One environment's workspace setup as a Terraform stack."""

from __future__ import annotations

from pathlib import Path

from infra.cdk import (
    AzurermBackend,
    Construct,
    DatabricksProvider,
    GcsBackend,
    LocalBackend,
    S3Backend,
    TerraformOutput,
    TerraformStack,
)
from infra.constructs.artifact import WheelArtifact, WheelArtifactProps
from infra.constructs.cluster_policies import ClusterPolicyProps, PlatformClusterPolicy
from infra.constructs.features import FeatureTables, FeatureTablesProps
from infra.constructs.fleet import Fleet, FleetProps, NotificationDestinations, watch_job
from infra.constructs.identities import Identities, IdentitiesProps
from infra.constructs.labels import LabelsTable, LabelsTableProps
from infra.constructs.ml_model import JobCompute, JobDefaults, ModelResources, ModelResourcesProps
from infra.constructs.secrets import PlatformSecretScope, SecretScopeProps
from infra.constructs.serving import ServingEndpoint, ServingEndpointProps
from infra.constructs.unity_catalog import CatalogProps, PlatformCatalog
from infra.constructs.workspace import FolderProps, PlatformFolder, WorkspaceSecurity, WorkspaceSecurityProps
from mlops_spec import tables
from mlops_spec.config import ModelSpec, PlatformConfig
from mlops_spec.config.environment import (
    AzureBackend,
    Backend,
)
from mlops_spec.config.environment import (
    GcsBackend as GcsBackendConfig,
)
from mlops_spec.config.environment import (
    S3Backend as S3BackendConfig,
)
from mlops_spec.config.features import feature_tables
from mlops_spec.config.fleet import capacity_of
from mlops_spec.naming import (
    FEATURES_SCHEMA,
    INFERENCE_SCHEMA,
    MODELS_SCHEMA,
    MONITORING_SCHEMA,
    PLATFORM_SCHEMAS,
    endpoint_name,
    external_location_name,
    folder_path,
    local_state_path,
    platform_tags,
    secret_ref,
    volume_path,
)
from mlops_spec.tables import contract_columns, retention_properties

WEBHOOK_SECRET_KEY = "monitoring-webhook-url"
LOG_SCHEMA = MONITORING_SCHEMA


def add_backend(stack: TerraformStack, backend: Backend, default_path: str) -> None:
    """The stack's state backend from config; local state lands in ``default_path``."""
    if isinstance(backend, S3BackendConfig):
        s3 = S3Backend(
            stack,
            bucket=backend.bucket,
            key=backend.key,
            region=backend.region,
            encrypt=backend.encrypt,
            dynamodb_table=backend.dynamodb_table,
        )
        if backend.dynamodb_table is None:
            # S3-native locking (Terraform >= 1.10); cdktf 0.21's S3Backend has no such argument.
            s3.add_override("use_lockfile", True)
    elif isinstance(backend, AzureBackend):
        AzurermBackend(
            stack,
            resource_group_name=backend.resource_group_name,
            storage_account_name=backend.storage_account_name,
            container_name=backend.container_name,
            key=backend.key,
        )
    elif isinstance(backend, GcsBackendConfig):
        GcsBackend(stack, bucket=backend.bucket, prefix=backend.prefix)
    else:
        LocalBackend(stack, path=backend.path or default_path)


class EnvironmentStack(TerraformStack):
    """Workspace security, folders, policies, identities, secrets, Unity Catalog and per-model resources.

    ``host`` overrides the configured workspace URL: the account stack passes its workspace's URL (a
    cross-stack reference) or a brownfield URL; ``storage_credential`` is the name of the credential the
    account stack created for this environment's catalog (a cross-stack reference), if it did.
    Identities are always looked up: they belong to the account.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        platform: PlatformConfig,
        wheel: Path,
        host: str | None = None,
        storage_credential: str | None = None,
    ) -> None:
        super().__init__(scope, id_)
        self.platform = platform
        env = platform.env
        self.env_name = env.environment
        self.tags = platform_tags(env.tags)
        # Credentials and the auth type come from the environment (OAuth M2M client id/secret, GitHub
        # OIDC, or a token), never from code; an explicit host wins over DATABRICKS_HOST.
        DatabricksProvider(self, "databricks", host=host or env.workspace.host)
        self.storage_credential = storage_credential or env.catalog.storage_credential
        add_backend(self, env.state_backend, local_state_path(self.env_name))
        self.identities = Identities(
            self,
            "identities",
            IdentitiesProps(platform.roles, env.groups, env.service_principals),
        )
        # The deployer owns what it creates in Unity Catalog (it must, to bind the catalog and manage
        # grants); registered models belong to the model-owner group (deployer + job runner).
        self.owner = self.identities.principal(platform.roles.deployer_role).name
        self.model_owner = self.identities.principal(platform.roles.model_owner_role).name
        WorkspaceSecurity(
            self, "workspace-security", WorkspaceSecurityProps(env.security, env.network.ip_access_lists)
        )
        self.folder = PlatformFolder(
            self, "folder", FolderProps(folder_path(self.env_name), self._access("folders"))
        )
        self.policies = self._cluster_policies()
        self.catalog = self._catalog()
        self.secret_scopes = [
            PlatformSecretScope(self, f"secret-scope-{s.name}", SecretScopeProps(s.name, self._secret_acls()))
            for s in env.secret_scopes
        ]
        self.wheel = WheelArtifact(
            self, "wheel", WheelArtifactProps(wheel, self.catalog.volumes[env.artifacts.volume].volume_path)
        )
        self.models = {m.name: self._model(m) for m in platform.models}
        self.notifications = NotificationDestinations(self, "notifications", env.notifications.destinations)
        self._watch_model_jobs()
        self.fleet = self._fleet() if env.fleet.enabled else None
        # After the fleet: the labels tables' DDL runs on its warehouse (infra/constructs/labels.py).
        self.labels = {m.name: self._labels_table(m) for m in platform.models}
        self.features = self._features()
        TerraformOutput(self, "catalog-name", value=env.catalog.name)
        TerraformOutput(self, "wheel-path", value=self.wheel.path)

    # -- helpers ---------------------------------------------------------------------------------

    def _access(self, attribute: str) -> dict[str, tuple[str, str]]:
        """Principal name -> (kind, level) for one object kind of the role matrix, in this environment."""
        out: dict[str, tuple[str, str]] = {}
        for role, spec in self.platform.roles.roles.items():
            level = getattr(spec, attribute).for_env(self.env_name)
            if level:
                principal = self.identities.principal(role)
                out[principal.name] = (principal.kind, level)
        return out

    def _secret_acls(self) -> dict[str, tuple[str, str]]:
        acls: dict[str, tuple[str, str]] = {}
        for role, spec in self.platform.roles.roles.items():
            level = spec.secret_scopes.for_env(self.env_name)
            if level:
                acls[role] = (self.identities.principal(role).name, level)
        return acls

    def _cluster_policies(self) -> dict[str, PlatformClusterPolicy]:
        env = self.platform.env
        policies = {}
        for name, profile in env.compute.profiles().items():
            can_use: dict[str, tuple[str, str]] = {}
            for role, spec in self.platform.roles.roles.items():
                if name in (spec.cluster_policies.for_env(self.env_name) or ()):
                    principal = self.identities.principal(role)
                    can_use[principal.name] = (principal.kind, "CAN_USE")
            policies[name] = PlatformClusterPolicy(
                self,
                f"policy-{name}",
                ClusterPolicyProps(
                    env=self.env_name,
                    profile_name=name,
                    profile=profile,
                    tags=dict(env.tags),
                    templates_dir=self.platform.policies_dir / "cluster_policies",
                    log_destination=self._log_destination() if name != "interactive" else None,
                    can_use=can_use,
                    capacity=capacity_of(name, profile.capacity, env.is_prod),
                ),
            )
        return policies

    def _log_destination(self) -> str | None:
        env = self.platform.env
        if not env.logging.cluster_log_volume:
            return None
        return volume_path(env.catalog.name, LOG_SCHEMA, env.logging.cluster_log_volume)

    def _catalog(self) -> PlatformCatalog:
        env = self.platform.env
        volumes: dict[str, tuple[str, ...]] = {env.artifacts.schema_name: (env.artifacts.volume,)}
        if env.logging.cluster_log_volume:
            volumes[LOG_SCHEMA] = (*volumes.get(LOG_SCHEMA, ()), env.logging.cluster_log_volume)
        catalog = PlatformCatalog(
            self,
            "catalog",
            CatalogProps(
                name=env.catalog.name,
                owner=self.owner,
                schemas=PLATFORM_SCHEMAS,
                create=env.catalog.create,
                storage_root=env.catalog.storage_root,
                storage_credential=self.storage_credential,
                location_name=external_location_name(self.env_name),
                volumes=volumes,
                prevent_destroy=env.is_prod,
            ),
        )
        principals = self.identities.principals()
        for role, spec in self.platform.roles.roles.items():
            name = principals[role].name
            catalog.grant(name, spec.catalog.for_env(self.env_name) or (), role)
            for schema, per_env in spec.schemas.items():
                catalog.grant(name, per_env.for_env(self.env_name) or (), role, schema=schema)
        for grant in env.grants:
            _, _, schema = grant.securable.partition(":")
            principal = self._principal(grant.principal)
            catalog.grant(principal, grant.privileges, grant.principal, schema=schema or None)
        return catalog

    def _principal(self, key: str) -> str:
        """A role key, a group key of the environment, or an account principal's name, as a principal."""
        known = self.identities.principals().get(key)
        return known.name if known else self.platform.env.groups.get(key, key)

    def _job_compute(self, profile_name: str) -> JobCompute:
        profile = self.platform.env.compute.profiles()[profile_name]
        return JobCompute(
            self.policies[profile_name].policy_id,
            profile.runtime,
            profile.node_type,
            profile.max_workers,
            single_node=profile_name.endswith("_training"),
        )

    def _model(self, model: ModelSpec) -> ModelResources:
        env, roles = self.platform.env, self.platform.roles
        # The configured service principal role (job_runner, or deployer where a team wants it).
        run_as = self.identities.principal(env.jobs.run_as).name if env.jobs.run_as else None
        env_vars = {}
        for scope in env.secret_scopes:
            if WEBHOOK_SECRET_KEY in scope.keys:
                env_vars["MLOPS_WEBHOOK_URL"] = secret_ref(scope.name, WEBHOOK_SECRET_KEY)
        model_grants = {}
        for role, spec in roles.roles.items():
            privileges = spec.models.for_env(self.env_name)
            if privileges:
                model_grants[role] = (self.identities.principal(role).name, tuple(privileges))
        models_schema = self.catalog.schema(MODELS_SCHEMA)
        resources = ModelResources(
            self,
            f"model-{model.name}",
            ModelResourcesProps(
                env=self.env_name,
                model=model,
                catalog=models_schema.catalog_name,
                schema=models_schema.name,
                owner=self.model_owner,
                experiments_folder=self.folder.experiments_path,
                tags=env.tags,
                wheel_path=self.wheel.path,
                training_compute=self._job_compute(f"{model.training.compute}_training"),
                inference_compute=self._job_compute("inference"),
                jobs=JobDefaults(
                    notification_emails=env.jobs.notification_emails,
                    timeout_seconds=env.jobs.timeout_seconds,
                    max_retries=env.jobs.max_retries,
                    min_retry_interval_millis=env.jobs.min_retry_interval_millis,
                    run_as=run_as,
                    pause_schedules=env.jobs.pause_schedules,
                    log_destination=self._log_destination(),
                    spark_env_vars=env_vars,
                ),
                job_access=self._access("jobs"),
                experiment_access=self._access("experiments"),
                model_grants=model_grants,
                prevent_destroy=env.is_prod,
                production=env.is_prod,
            ),
        )
        if model.serving.enabled:
            logs = self.catalog.schema(INFERENCE_SCHEMA)
            ServingEndpoint(
                self,
                f"endpoint-{model.name}",
                ServingEndpointProps(
                    name=endpoint_name(self.env_name, model.name),
                    model_full_name=model.full_name(env.catalog.name),
                    inference_catalog=logs.catalog_name,
                    inference_schema=logs.name,
                    table_prefix=model.name,
                    rate_limit_per_minute=model.serving.rate_limit_per_minute,
                    tags=platform_tags(env.tags, model=model.name),
                    access=self._access("serving_endpoints"),
                    prevent_destroy=env.is_prod,
                ),
            )
        return resources

    def _labels_table(self, model: ModelSpec) -> LabelsTable:
        """The labels contract's table, and USE on its catalog and schema for the label pipeline."""
        env, logs = self.platform.env, self.catalog.schema(INFERENCE_SCHEMA)
        writer_key = model.monitoring.labels_writer or model.owner_group
        writer = self._principal(writer_key)
        self.catalog.grant(writer, ("USE_CATALOG",), writer_key)
        self.catalog.grant(writer, ("USE_SCHEMA",), writer_key, schema=INFERENCE_SCHEMA)
        return LabelsTable(
            self,
            f"labels-{model.name}",
            LabelsTableProps(
                catalog=logs.catalog_name,
                schema=logs.name,
                name=tables.labels(model.name)[1],
                columns=tuple(contract_columns(model.data)),
                owner=self.model_owner,
                writer=writer,
                properties=tuple(retention_properties(model.monitoring.retention_days).items()),
                warehouse_id=self.fleet.warehouse.id if self.fleet else None,
                comment=f"Labels of {model.name}: written by its label pipeline, read by its monitor job "
                "(the labels contract, ml_jobs/inference/labels.py). Managed in git.",
                prevent_destroy=env.is_prod,
            ),
        )

    # -- the fleet: notifications, job health, warehouse, dashboard, alerts, inventory ---------------

    def _watch_model_jobs(self) -> None:
        """Every model job warns past its spec's duration threshold and notifies the destinations."""
        env = self.platform.env
        hooks = self.notifications.pick(env.notifications.job_failures)
        for name, resources in self.models.items():
            health = self.platform.model(name).health
            for purpose, job in (
                ("train", resources.train_job),
                ("monitor", resources.monitor_job),
                ("retrain", resources.retrain_job),
            ):
                timeout = int(job.timeout_seconds_input or env.jobs.timeout_seconds)
                seconds = health.warning_seconds(purpose, timeout)
                watch_job(job, seconds, hooks, env.jobs.notification_emails)

    def _fleet(self) -> Fleet:
        env = self.platform.env
        run_as = self.identities.principal(env.jobs.run_as).name if env.jobs.run_as else None
        monitoring = self.catalog.schema(MONITORING_SCHEMA)
        return Fleet(
            self,
            "fleet",
            FleetProps(
                env=self.env_name,
                is_prod=env.is_prod,
                catalog=monitoring.catalog_name,
                platform_folder=self.folder.path,
                tags=env.tags,
                warehouse=env.fleet.warehouse,
                inventory=env.fleet.inventory,
                alerts=env.fleet.alerts,
                wheel_path=self.wheel.path,
                compute=self._job_compute("inference"),
                jobs=self._job_defaults(run_as),
                run_as=run_as,
                alert_destinations=self.notifications.pick(env.notifications.sql_alerts),
                job_destinations=self.notifications.pick(env.notifications.job_failures),
                warehouse_access=self._access("sql_warehouses"),
                dashboard_access=self._access("dashboards"),
                job_access=self._access("jobs"),
            ),
        )

    # -- feature tables: the tables in the features schema and a feature job per schedule ----------

    def _features(self) -> FeatureTables | None:
        env, roles = self.platform.env, self.platform.roles
        tables = list(feature_tables(self.platform.models).values())
        if not tables:
            return None
        run_as = self.identities.principal(env.jobs.run_as).name if env.jobs.run_as else None
        schema = self.catalog.schema(FEATURES_SCHEMA)
        grants = {}
        for role, spec in roles.roles.items():
            features_grants = spec.schemas.get(FEATURES_SCHEMA)
            privileges = (*(spec.catalog.for_env(self.env_name) or ()),
                          *((features_grants.for_env(self.env_name) or ()) if features_grants else ()))
            if privileges:
                grants[role] = (self.identities.principal(role).name, tuple(sorted(set(privileges))))
        return FeatureTables(
            self,
            "features",
            FeatureTablesProps(
                env=self.env_name,
                catalog=schema.catalog_name,
                schema=schema.name,
                tables=tables,
                # The job runner owns them: its feature job adds the PRIMARY KEY TIMESERIES constraint.
                owner=run_as or self.owner,
                wheel_path=self.wheel.path,
                compute=self._job_compute("inference"),
                jobs=self._job_defaults(run_as),
                tags=env.tags,
                warehouse_id=self.fleet.warehouse.id if self.fleet else None,
                table_grants=grants,
                job_access=self._access("jobs"),
                job_destinations=self.notifications.pick(env.notifications.job_failures),
            ),
        )

    def _job_defaults(self, run_as: str | None) -> JobDefaults:
        """Run controls of the environment's own jobs (the model jobs build theirs in ``_model``)."""
        jobs = self.platform.env.jobs
        return JobDefaults(
            notification_emails=jobs.notification_emails,
            timeout_seconds=jobs.timeout_seconds,
            max_retries=jobs.max_retries,
            min_retry_interval_millis=jobs.min_retry_interval_millis,
            run_as=run_as,
            pause_schedules=jobs.pause_schedules,
            log_destination=self._log_destination(),
        )
