"""Where the jobs run: the only module that knows Databricks from one machine.

* Databricks (``DATABRICKS_RUNTIME_VERSION`` is set by the runtime): Unity Catalog tables
  ``catalog.schema.table`` read through Spark with Delta time travel, tracking URI ``databricks``,
  registry ``databricks-uc``.
* Locally: Delta tables under ``<root>/tables/<schema>/<table>`` (``deltalake``, no Spark), MLflow
  on SQLite at ``<root>/mlflow.db`` with artifacts in ``<root>/artifacts``; ``MLFLOW_TRACKING_URI``
  and ``MLFLOW_REGISTRY_URI`` still win. ``<root>`` is ``$MLOPS_LOCAL_ROOT`` or ``<cwd>/.local/<env>``.

Registered model names are three-level everywhere (``<catalog>.models.<model>``): Unity Catalog
needs them, and MLflow's SQLite registry accepts dots, so a name means the same thing on both.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from ml_jobs.errors import BadInput

DATABRICKS_ENV_VAR = "DATABRICKS_RUNTIME_VERSION"
LOCAL_ROOT_ENV_VAR = "MLOPS_LOCAL_ROOT"
MODELS_SCHEMA = "models"

WriteMode = Literal["append", "overwrite"]


def read_spark_table(spark: Any, table_ref: str, version: int | None = None) -> Any:
    """A Spark DataFrame of ``table_ref`` (a table or view name), at a Delta version when given."""
    reader = spark.read
    if version is not None:
        reader = reader.option("versionAsOf", int(version))
    return reader.table(table_ref)


def spark_table_version(spark: Any, table_ref: str) -> int:
    """Latest Delta version of a table (``DESCRIBE HISTORY`` returns newest first)."""
    return int(spark.sql(f"DESCRIBE HISTORY {table_ref} LIMIT 1").collect()[0]["version"])


def to_pandas(frame: Any) -> pd.DataFrame:
    """pandas as is; Spark DataFrames are collected (training data fits on the driver by design)."""
    if isinstance(frame, pd.DataFrame):
        return frame
    if hasattr(frame, "toPandas"):
        return frame.toPandas()
    raise TypeError(f"expected a pandas or Spark DataFrame, got {type(frame).__name__}")


@dataclass(frozen=True)
class Runtime:
    env: str
    catalog: str
    on_databricks: bool
    tracking_uri: str
    registry_uri: str
    root: Path | None = None
    """Local project folder; None on Databricks."""
    _spark: list[Any] = field(default_factory=list, repr=False, compare=False)

    # -- names -----------------------------------------------------------------------------------
    def table_ref(self, schema: str, table: str) -> str:
        if self.on_databricks:
            return f"{self.catalog}.{schema}.{table}"
        return str(self._table_path(schema, table))

    def registered_name(self, model: str) -> str:
        return f"{self.catalog}.{MODELS_SCHEMA}.{model}"

    # -- tables ----------------------------------------------------------------------------------
    def read_table(self, schema: str, table: str, version: int | None = None) -> tuple[pd.DataFrame, int]:
        """The table as pandas and the Delta version read (the latest when ``version`` is None)."""
        if self.on_databricks:
            ref = self.table_ref(schema, table)
            try:
                resolved = spark_table_version(self.spark(), ref) if version is None else int(version)
                return to_pandas(read_spark_table(self.spark(), ref, resolved)), resolved
            except Exception as exc:
                from pyspark.errors import AnalysisException  # no such table / version, unsupported feature

                if not isinstance(exc, AnalysisException):
                    raise
                first_line = str(exc).strip().splitlines()[0]
                raise BadInput(
                    f"cannot read {ref} at version {version if version is not None else 'latest'}: "
                    f"{first_line}"
                ) from exc
        return self._read_delta(schema, table, version)

    def write_table(self, df: pd.DataFrame, schema: str, table: str, mode: WriteMode = "append") -> int:
        """Write and return the new Delta version."""
        if mode not in ("append", "overwrite"):
            raise ValueError(f"mode must be 'append' or 'overwrite', got {mode!r}")
        if self.on_databricks:
            ref = self.table_ref(schema, table)
            self.spark().createDataFrame(df).write.format("delta").mode(mode).saveAsTable(ref)
            return spark_table_version(self.spark(), ref)
        from deltalake import write_deltalake

        path = self._table_path(schema, table)
        path.parent.mkdir(parents=True, exist_ok=True)
        # pandas < 3 (the runtime's) turns a filtered frame's index into an extra arrow column.
        frame = df.reset_index(drop=True)
        write_deltalake(str(path), frame, mode=mode, schema_mode="overwrite" if mode == "overwrite" else None)
        return self.table_version(schema, table)

    def table_version(self, schema: str, table: str) -> int:
        if self.on_databricks:
            return spark_table_version(self.spark(), self.table_ref(schema, table))
        return self._delta(schema, table).version()

    def identity(self) -> str:
        """The authenticated principal (Databricks user or service principal; locally the OS user).

        Recorded next to the self-declared ``--approver``/``--actor`` so an audit sees who really acted.
        """
        if not self.on_databricks:
            import getpass

            return getpass.getuser()
        try:
            from databricks.sdk import WorkspaceClient

            return WorkspaceClient().current_user.me().user_name or "unknown"
        except Exception:  # identity is evidence, not a gate: never fail a promotion over it
            return "unknown"

    def spark(self) -> Any:
        """The cluster's SparkSession (imported lazily: pyspark is not a local runtime dependency)."""
        if not self._spark:
            from pyspark.sql import SparkSession

            self._spark.append(SparkSession.builder.getOrCreate())
        return self._spark[0]

    # -- local Delta -----------------------------------------------------------------------------
    def _table_path(self, schema: str, table: str) -> Path:
        assert self.root is not None
        return self.root / "tables" / schema / table

    def _delta(self, schema: str, table: str, version: int | None = None) -> Any:
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        path = self._table_path(schema, table)
        try:
            dt = DeltaTable(str(path))
        except TableNotFoundError as exc:
            raise BadInput(f"table {schema}.{table} not found (looked for a Delta table at {path})") from exc
        if version is not None:
            latest = dt.version()
            if not 0 <= int(version) <= latest:
                raise BadInput(f"table {schema}.{table} has no version {version}; available: 0..{latest}")
            dt.load_as_version(int(version))
        return dt

    def _read_delta(self, schema: str, table: str, version: int | None) -> tuple[pd.DataFrame, int]:
        dt = self._delta(schema, table, version)
        return dt.to_pandas(), dt.version()


def get_runtime(
    env: str,
    root: str | Path | None = None,
    catalog: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Runtime:
    """Pick the runtime from the process environment; ``catalog`` defaults to ``mlops_<env>``."""
    environ = os.environ if environ is None else environ
    catalog = catalog or f"mlops_{env}"
    if environ.get(DATABRICKS_ENV_VAR):
        return Runtime(env, catalog, True, "databricks", "databricks-uc")
    base = Path(root or environ.get(LOCAL_ROOT_ENV_VAR) or Path.cwd() / ".local" / env).resolve()
    base.mkdir(parents=True, exist_ok=True)
    tracking = environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{base / 'mlflow.db'}"
    registry = environ.get("MLFLOW_REGISTRY_URI") or tracking
    return Runtime(env, catalog, False, tracking, registry, base)


def artifact_location(runtime: Runtime) -> str | None:
    """Where new local experiments keep artifacts (None: let the tracking server decide)."""
    if runtime.root is None or not runtime.tracking_uri.startswith("sqlite:"):
        return None
    return (runtime.root / "artifacts").as_uri()
