"""Everything one model needs in one environment: experiment, UC model, and its jobs.

Jobs: ``train`` (train -> validate -> promote [-> deploy]) on a schedule, ``monitor`` on its own
schedule, and ``retrain`` (retrain [-> deploy]) that the monitor triggers; one run at a time each.
What each task does under its ``run_as`` identity is declared in ``ml_jobs/operations.py`` and checked
by the simulator (``make simulate``): the registered model belongs to a group whose members are the job
runner and the deployer, because Unity Catalog lets only an owner create versions and move aliases.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from infra.cdk import (
    Construct,
    Job,
    JobJobCluster,
    JobTask,
    JobTaskDependsOn,
    JobTaskLibrary,
    MlflowExperiment,
    RegisteredModel,
)
from infra.constructs._grants import GrantSet
from infra.constructs._permissions import object_permissions
from mlops_spec.config.model_spec import ModelSpec
from mlops_spec.job_parameters import JOB_PARAMETERS
from mlops_spec.naming import WHEEL_PACKAGE, job_name, platform_tags


@dataclass(frozen=True)
class JobCompute:
    """A job cluster's shape, inside the policy it references."""

    policy_id: str
    runtime: str
    node_type: str
    max_workers: int
    single_node: bool = False
    """No workers: the training policies allow only single-node clusters."""


@dataclass(frozen=True)
class JobDefaults:
    notification_emails: tuple[str, ...]
    timeout_seconds: int
    max_retries: int
    min_retry_interval_millis: int
    run_as: str | None
    """Application id of the service principal jobs run as (a reference); None = the deploying identity."""
    pause_schedules: bool = False
    log_destination: str | None = None
    spark_env_vars: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelResourcesProps:
    env: str
    model: ModelSpec
    catalog: str
    """Catalog name (a reference to the catalog, so the model waits for it)."""
    schema: str
    """Schema name (a reference to the ``models`` schema)."""
    owner: str
    """The model-owner group (a reference to its display name)."""
    experiments_folder: str
    """Folder of the experiments (a reference to the folder, so it exists first)."""
    tags: Mapping[str, str]
    wheel_path: str
    training_compute: JobCompute
    inference_compute: JobCompute
    jobs: JobDefaults
    job_access: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    experiment_access: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    model_grants: Mapping[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    """Role -> (principal reference, privileges) on the registered model."""
    prevent_destroy: bool = False
    production: bool = False
    """The environment is production (its config's ``production``): no scale-to-zero unless configured."""


class ModelResources(Construct):
    def __init__(self, scope: Construct, id_: str, props: ModelResourcesProps) -> None:
        super().__init__(scope, id_)
        self.props = props
        m = props.model
        self.tags = platform_tags(props.tags, model=m.name)
        # The API never accepts a description (mlflow/resource_mlflow_experiment.go): none is sent.
        # Runs, metrics and lineage live here: destroying it loses the model's history (protected in prod).
        self.experiment = MlflowExperiment(
            self,
            "experiment",
            name=f"{props.experiments_folder}/{m.name}",
            lifecycle={"prevent_destroy": True} if props.prevent_destroy else None,
        )
        object_permissions(
            self, "experiment-permissions", props.experiment_access, experiment_id=self.experiment.id
        )
        lifecycle = {"prevent_destroy": True} if props.prevent_destroy else None
        self.registered_model = RegisteredModel(
            self,
            "registered-model",
            catalog_name=props.catalog,
            schema_name=props.schema,
            name=m.name,
            owner=props.owner,
            comment=m.description or None,
            lifecycle=lifecycle,
        )
        self._model_grants = GrantSet(self, "model-grants", {"model": self.registered_model.id})
        for role, (principal, privileges) in sorted(props.model_grants.items()):
            self._model_grants.add(principal, privileges, role)

        serving = m.serving.enabled
        # With feature tables, the training table is first built from them by point-in-time lookup.
        build = ["training-set"] if m.features is not None else []
        train_tasks = [*build, "train", "validate", "promote", *(["deploy"] if serving else [])]
        self.train_job = self._job("train", train_tasks, props.training_compute, m.training.schedule)
        # Predictions first (served requests unpacked, or a batch model's scoring), then the monitor,
        # then retention: the monitor always reads what production did up to this run.
        monitor_tasks = ["unpack" if serving else "score", "monitor", "maintain"]
        self.monitor_job = self._job("monitor", monitor_tasks, props.inference_compute, m.monitoring.schedule)
        retrain_tasks = ["retrain", *(["deploy"] if serving else [])]
        self.retrain_job = self._job("retrain", retrain_tasks, props.training_compute, None)

    def grant(self, principal: str, privileges: tuple[str, ...], key: str) -> None:
        """Grant privileges on the registered model (e.g. EXECUTE to load it for scoring)."""
        self._model_grants.add(principal, privileges, key)

    def _parameters(self, entry_point: str) -> dict[str, str]:
        m, env = self.props.model, self.props.env
        params = {"model": m.name, "env": env}
        # The job parameters the entry point uses, by reference (Databricks also pushes every job
        # parameter down to every wheel task: mlops_spec.job_parameters).
        if entry_point in JOB_PARAMETERS:
            params |= {name: f"{{{{job.parameters.{name}}}}}" for name in JOB_PARAMETERS[entry_point]}
        if entry_point == "deploy":
            params |= {
                "workload_size": m.serving.workload_size,
                "scale_to_zero": "true" if m.scale_to_zero(env, self.props.production) else "false",
                "rollout": m.serving.rollout,
            }
        return params

    def _cluster(self, compute: JobCompute) -> dict[str, object]:
        return job_cluster(compute, self.props.jobs, self.tags, self.props.env)

    def _job(self, purpose: str, entry_points: list[str], compute: JobCompute, cron: str | None) -> Job:
        props, jobs = self.props, self.props.jobs
        tasks = []
        for i, entry_point in enumerate(entry_points):
            tasks.append(
                JobTask(
                    task_key=entry_point,
                    depends_on=[JobTaskDependsOn(task_key=entry_points[i - 1])] if i else None,
                    job_cluster_key="main",
                    python_wheel_task={
                        "package_name": WHEEL_PACKAGE,
                        "entry_point": entry_point,
                        "named_parameters": self._parameters(entry_point),
                    },
                    library=[JobTaskLibrary(whl=props.wheel_path)],
                    max_retries=jobs.max_retries,
                    min_retry_interval_millis=jobs.min_retry_interval_millis,
                    timeout_seconds=jobs.timeout_seconds,
                )
            )
        # None leaves the block out of the synthesized JSON (jsii drops unset struct properties).
        schedule = None
        if cron is not None:
            schedule = {
                "quartz_cron_expression": cron,
                "timezone_id": props.model.training.timezone,
                "pause_status": "PAUSED" if jobs.pause_schedules else "UNPAUSED",
            }
        job = Job(
            self,
            f"{purpose}-job",
            name=job_name(props.env, props.model.name, purpose),
            max_concurrent_runs=1,
            timeout_seconds=props.model.training.timeout_seconds or jobs.timeout_seconds,
            tags=self.tags,
            email_notifications={"on_failure": list(jobs.notification_emails)},
            job_cluster=[JobJobCluster(job_cluster_key="main", new_cluster=self._cluster(compute))],
            task=tasks,
            queue={"enabled": True},
            # Declared once (mlops_spec.job_parameters); every wheel task accepts them (pushdown).
            parameter=[{"name": n, "default": d} for n, d in JOB_PARAMETERS[purpose].items()]
            if purpose in JOB_PARAMETERS
            else None,
            schedule=schedule,
            run_as={"service_principal_name": jobs.run_as} if jobs.run_as else None,
        )
        access = dict(props.job_access)
        if purpose == "retrain" and jobs.run_as:
            # The monitor task (run as the job runner) starts this job with run_now: CAN_MANAGE_RUN.
            access.setdefault(jobs.run_as, ("service_principal", "CAN_MANAGE_RUN"))
        object_permissions(self, f"{purpose}-job-permissions", access, job_id=job.id)
        return job


def job_cluster(
    compute: JobCompute, jobs: JobDefaults, tags: Mapping[str, str], env: str
) -> dict[str, object]:
    """A job cluster inside its policy, for every platform job (per model or per environment).

    Single node where the work is single-node (training fits the driver: workers would idle),
    autoscaling where Spark does the work (unpack, score, monitor, the inventory)."""
    size: dict[str, object] = {"autoscale": {"min_workers": 1, "max_workers": compute.max_workers}}
    tags = dict(tags)
    if compute.single_node:
        # Databricks' single-node cluster: no workers, Spark local on the driver, tagged SingleNode.
        size = {
            "num_workers": 0,
            "spark_conf": {
                "spark.databricks.cluster.profile": "singleNode",
                "spark.master": "local[*]",
            },
        }
        tags = dict(sorted({**tags, "ResourceClass": "SingleNode"}.items()))
    cluster: dict[str, object] = {
        "policy_id": compute.policy_id,
        "apply_policy_default_values": True,
        "spark_version": compute.runtime,
        "node_type_id": compute.node_type,
        "driver_node_type_id": compute.node_type,
        "data_security_mode": "SINGLE_USER",
        **size,
        "custom_tags": tags,
        "spark_env_vars": dict(sorted({"MLOPS_ENV": env, **jobs.spark_env_vars}.items())),
    }
    if jobs.log_destination:
        cluster["cluster_log_conf"] = {"volumes": {"destination": jobs.log_destination}}
    return cluster
