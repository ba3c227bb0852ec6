"""What a job task does to the world, as data: the vocabulary shared by the jobs and the simulator.

``ml_jobs/operations.py`` declares, per entry point, the operations it performs for a model spec;
``infra.simulate`` checks each against the privileges of the job's ``run_as`` identity; a test runs
the entry points against a recording runtime so the declarations cannot drift from the code.
"""

from __future__ import annotations

from dataclasses import dataclass

READ_TABLE = "read_table"  # SELECT (+ USE_CATALOG, USE_SCHEMA)
WRITE_TABLE = (
    "write_table"  # MODIFY and SELECT on an existing table, CREATE_TABLE on the schema for a new one
)
READ_VOLUME = "read_volume"  # READ_VOLUME
LOG_RUN = "log_run"  # CAN_EDIT on the MLflow experiment (a path)
REGISTER_VERSION = "register_version"  # ownership of the registered model
SET_ALIAS = "set_alias"  # ownership of the registered model
SET_VERSION_TAG = "set_version_tag"  # APPLY_TAG on the registered model
SET_VERSION_DESCRIPTION = "set_version_description"  # ownership of the registered model
LOAD_VERSION = "load_version"  # EXECUTE on the registered model
START_JOB = "start_job"  # CAN_MANAGE_RUN on the job (a job name)
UPDATE_ENDPOINT = "update_endpoint"  # CAN_MANAGE on the serving endpoint (a name)
VIEW_ENDPOINT = "view_endpoint"  # CAN_VIEW, CAN_QUERY or CAN_MANAGE on the serving endpoint (a name)
MAINTAIN_TABLE = "maintain_table"  # ownership of the table: SET TBLPROPERTIES, DELETE, VACUUM
READ_SECRET = "read_secret"  # READ on the secret scope (``scope/key``)
LIST_MODELS = "list_models"  # USE_CATALOG, USE_SCHEMA, EXECUTE on the schema (``catalog.schema``)
SET_MODEL_TAG = "set_model_tag"  # APPLY_TAG on the registered model

ACTIONS = (
    READ_TABLE,
    WRITE_TABLE,
    READ_VOLUME,
    LOG_RUN,
    REGISTER_VERSION,
    SET_ALIAS,
    SET_VERSION_TAG,
    SET_VERSION_DESCRIPTION,
    LOAD_VERSION,
    START_JOB,
    UPDATE_ENDPOINT,
    VIEW_ENDPOINT,
    MAINTAIN_TABLE,
    READ_SECRET,
    LIST_MODELS,
    SET_MODEL_TAG,
)


@dataclass(frozen=True, slots=True, order=True)
class Operation:
    action: str
    target: str
    """A three-level table or model name, a schema, an experiment path, a job or endpoint, ``scope/key``."""

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown operation {self.action!r}; allowed: {', '.join(ACTIONS)}")

    def __str__(self) -> str:
        return f"{self.action} {self.target}"
