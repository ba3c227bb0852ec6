"""Where the jobs run: the only module that knows Databricks from one machine.

* Databricks (``DATABRICKS_RUNTIME_VERSION`` is set by the runtime): Unity Catalog tables
  ``catalog.schema.table`` read through Spark with Delta time travel, tracking URI ``databricks``,
  registry ``databricks-uc``.
* Locally: Delta tables under ``<root>/tables/<schema>/<table>`` (``deltalake``, no Spark), MLflow
  on SQLite at ``<root>/mlflow.db`` with artifacts in ``<root>/artifacts``; ``MLFLOW_TRACKING_URI``
  and ``MLFLOW_REGISTRY_URI`` still win. ``<root>`` is ``$MLOPS_LOCAL_ROOT`` or ``<cwd>/.local/<env>``.

Registered model names are three-level everywhere (``<catalog>.models.<model>``): Unity Catalog
needs them, and MLflow's SQLite registry accepts dots, so a name means the same thing on both.

Every table write goes through a ``Runtime`` method (``merge_table``, ``write_table``), each a
fault-injection boundary (``ml_jobs.faults``). ``merge_table`` is the exactly-once write: a Delta
MERGE that inserts only rows whose natural key is not in the table yet, optionally stamped with a
commit marker so a re-run finds the version its first attempt wrote. Two concurrent MERGEs into
one table cannot both commit: the loser gets a conflict and is retried, and its retry matches the
winner's rows instead of inserting them again (delta-rs locally, Delta on Databricks; see
``merge_table``).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from ml_jobs import faults
from ml_jobs.errors import BadInput, InfraError, Refused
from ml_jobs.settings import Settings
from ml_jobs.settings import current as current_settings
from ml_jobs.settings import load as load_settings
from mlops_spec.config import ConfigError

log = logging.getLogger(__name__)

DATABRICKS_ENV_VAR = "DATABRICKS_RUNTIME_VERSION"
LOCAL_ROOT_ENV_VAR = "MLOPS_LOCAL_ROOT"
MODELS_SCHEMA = "models"
MARKER_HISTORY = 100
"""Commits searched for a commit marker: a re-run follows its killed attempt closely."""
SPARK_CONFLICTS = ("ConcurrentAppendException", "ConcurrentDeleteReadException", "DELTA_CONCURRENT")

WriteMode = Literal["append", "overwrite"]


@dataclass(frozen=True)
class MergeResult:
    version: int
    """The table version holding the rows (the commit that inserted them, or the latest)."""
    inserted: int
    marker_found: bool = False
    """True when the commit marker was already in the table: an earlier attempt wrote these rows."""
    updated: int = 0
    """Rows whose ``update`` columns a matching source row changed."""


class TableMissing(BadInput):
    """The table does not exist (yet): optional reads treat this, and only this, as "not there yet"."""


TABLE_NOT_FOUND = "TABLE_OR_VIEW_NOT_FOUND"
"""Spark's error class for a missing table or view (Databricks, "Error classes in Databricks";
raised as ``pyspark.errors.AnalysisException``)."""


def error_class(exc: BaseException) -> str | None:
    """The Spark error class (condition) of an exception, when it has one."""
    for getter in ("getCondition", "getErrorClass"):  # Spark 4 renamed it; 3.x has only the latter
        method = getattr(exc, getter, None)
        if callable(method):
            try:
                value = method()
            except Exception:  # a deprecated getter may warn or fail: try the next
                continue
            if value:
                return str(value)
    return None


def read_spark_table(spark: Any, table_ref: str, version: int | None = None) -> Any:
    """A Spark DataFrame of ``table_ref`` (a table or view name), at a Delta version when given.

    A missing table raises ``TableMissing`` (Spark resolves the name eagerly, so it fails here).
    """
    reader = spark.read
    if version is not None:
        reader = reader.option("versionAsOf", int(version))
    try:
        return reader.table(table_ref)
    except Exception as exc:
        if error_class(exc) == TABLE_NOT_FOUND:
            at = version if version is not None else "latest"
            raise TableMissing(f"cannot read {table_ref} at version {at}: {TABLE_NOT_FOUND}") from exc
        raise


def spark_frame(spark: Any, df: pd.DataFrame, arrow_schema: Any | None = None) -> Any:
    """pandas -> Spark with explicit column types. Spark cannot infer the type of a column that is
    all null (``CANNOT_DETERMINE_TYPE``), as the optional fields of a decision record often are;
    such a column is typed by ``arrow_schema`` when it names it, else as a string."""
    import pyarrow as pa  # type: ignore[import-untyped]  # ships no type information
    from pyspark.sql.pandas.types import from_arrow_schema

    frame = df.reset_index(drop=True)
    fields = []
    for f in pa.Schema.from_pandas(frame, preserve_index=False):
        if arrow_schema is not None and f.name in arrow_schema.names:
            fields.append(arrow_schema.field(f.name))
        elif pa.types.is_null(f.type):
            fields.append(pa.field(f.name, pa.string()))
        else:
            fields.append(pa.field(f.name, f.type))
    return spark.createDataFrame(frame, schema=from_arrow_schema(pa.schema(fields)))


def save_delta(frame: Any, table_ref: str, mode: str) -> None:
    """Save as a Delta table; an overwrite may change the schema (``overwriteSchema``: Delta refuses
    a different schema otherwise; Databricks, "Update Delta Lake table schema")."""
    writer = frame.write.format("delta").mode(mode)
    if mode == "overwrite":
        writer = writer.option("overwriteSchema", "true")
    writer.saveAsTable(table_ref)


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
class Principal:
    """Who is calling, as the platform authenticated them, and the groups they are a member of."""

    name: str
    groups: frozenset[str]
    source: str
    """Where the answer came from: ``databricks`` (the workspace's SCIM ``Me``) or ``local`` (OS user)."""


def workspace_principal() -> Principal:
    """The caller as the workspace knows them: ``GET /api/2.0/preview/scim/v2/Me``.

    databricks-sdk ``CurrentUserAPI.me`` ("Get details about the current method caller's identity");
    its ``User.groups`` are the groups the caller is a direct member of, by display name. A user
    has a ``userName``; a service principal answers with its application id there. The SDK retries
    transient failures (429/503) within its own timeout; what remains is an infrastructure error.
    """
    from databricks.sdk import WorkspaceClient

    try:
        me = WorkspaceClient().current_user.me()
    except Exception as exc:
        raise InfraError(f"cannot ask the workspace who is calling (SCIM Me): {exc}") from exc
    name = me.user_name or me.display_name
    if not name:
        raise InfraError("the workspace's SCIM Me answer names no user (no userName, no displayName)")
    groups = frozenset(g.display for g in me.groups or () if g.display)
    return Principal(name, groups, "databricks")


@dataclass(frozen=True)
class Runtime:
    env: str
    catalog: str
    on_databricks: bool
    tracking_uri: str
    registry_uri: str
    root: Path | None = None
    """Local project folder; None on Databricks."""
    settings: Settings = field(default_factory=Settings, repr=False, compare=False)
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
                missing = error_class(exc) == TABLE_NOT_FOUND
                raise (TableMissing if missing else BadInput)(
                    f"cannot read {ref} at version {version if version is not None else 'latest'}: "
                    f"{first_line}"
                ) from exc
        return self._read_delta(schema, table, version)

    def write_table(self, df: pd.DataFrame, schema: str, table: str, mode: WriteMode = "append") -> int:
        """Write and return the new Delta version (a blind write: ``merge_table`` is the exactly-once one)."""
        if mode not in ("append", "overwrite"):
            raise ValueError(f"mode must be 'append' or 'overwrite', got {mode!r}")
        faults.boundary(f"table.{mode}:{schema}.{table}")
        if self.on_databricks:
            ref = self.table_ref(schema, table)
            save_delta(spark_frame(self.spark(), df), ref, mode)
            return spark_table_version(self.spark(), ref)
        from deltalake import write_deltalake

        path = self._table_path(schema, table)
        path.parent.mkdir(parents=True, exist_ok=True)
        # pandas < 3 (the runtime's) turns a filtered frame's index into an extra arrow column.
        frame = df.reset_index(drop=True)
        write_deltalake(str(path), frame, mode=mode, schema_mode="overwrite" if mode == "overwrite" else None)
        return self.table_version(schema, table)

    def merge_table(
        self,
        df: Any,
        schema: str,
        table: str,
        keys: Sequence[str],
        *,
        marker: str | None = None,
        arrow_schema: Any | None = None,
        not_null_keys: bool = False,
        update: Sequence[str] = (),
    ) -> MergeResult:
        """Insert the rows of ``df`` (pandas, or Spark rows too large to collect) whose ``keys`` are
        not in the table yet (created when missing).

        ``marker`` is recorded as the commit's ``userMetadata``; when a commit among the last
        ``MARKER_HISTORY`` already carries it, nothing is written and that commit's version is
        returned. ``arrow_schema`` types the table's columns (a column that is all null in one
        batch would otherwise have no type). A MERGE that lost a concurrent commit is re-run
        (``MLOPS_WRITE_RETRIES`` times): the re-run sees the winner's rows and skips them.
        ``not_null_keys``: the table declares its keys NOT NULL (feature and label tables), so a row
        with a null key is left to that Delta constraint, which refuses the whole write with its own
        message, instead of being refused (pandas) or dropped (Spark) here. Any error but a lost
        commit (a violated constraint among them) is raised as it came: nothing was written.
        ``update``: columns that a row whose key is in the table already sets there, where they differ
        (``WHEN MATCHED AND ... IS DISTINCT FROM ... THEN UPDATE``): a value that can be restated, such
        as a window's realised performance once its late labels arrive. A re-run, or the retry of a
        MERGE that lost to a concurrent one, finds the values equal and changes nothing.
        """
        faults.boundary(f"table.merge:{schema}.{table}")
        if not isinstance(df, pd.DataFrame) and not self.on_databricks:
            df = df.toPandas()  # a Spark DataFrame (unpacked or scored rows) into a local table
        source = _dedupe(df, keys, f"{schema}.{table}", check_nulls=not not_null_keys)
        attempts = self.settings.write_retries
        for attempt in range(1, attempts + 1):
            try:
                if self.on_databricks:
                    return self._merge_spark(source, schema, table, keys, marker, arrow_schema, update)
                return self._merge_local(source, schema, table, keys, marker, arrow_schema, update)
            except Exception as exc:
                if not _is_conflict(exc) or attempt == attempts:
                    if _is_conflict(exc):
                        raise InfraError(
                            f"MERGE into {schema}.{table} lost {attempts} concurrent commits in a row; re-run"
                        ) from exc
                    raise
                log.info("MERGE into %s.%s lost a concurrent commit; retrying (%d)", schema, table, attempt)
                time.sleep(0.05 * attempt)
        raise AssertionError("unreachable")

    def find_marker(self, schema: str, table: str, marker: str) -> MergeResult | None:
        """The commit stamped ``marker`` among the recent ones (its version and rows inserted), or None."""
        if self.on_databricks:
            ref = self.table_ref(schema, table)
            rows = self.spark().sql(f"DESCRIBE HISTORY {ref} LIMIT {MARKER_HISTORY}").collect()
            history = [
                {
                    "version": r["version"],
                    "inserted": (r["operationMetrics"] or {}).get("numTargetRowsInserted"),
                }
                for r in rows
                if r["userMetadata"] == marker
            ]
        else:
            try:
                raw = self._delta(schema, table).history(MARKER_HISTORY)
            except BadInput:
                return None
            history = [
                {
                    "version": h["version"],
                    "inserted": (h.get("operationMetrics") or {}).get("num_target_rows_inserted"),
                }
                for h in raw
                if h.get("userMetadata") == marker
            ]
        if not history:
            return None
        newest = max(history, key=lambda h: int(h["version"]))
        return MergeResult(int(newest["version"]), int(newest["inserted"] or 0), marker_found=True)

    def table_version(self, schema: str, table: str) -> int:
        if self.on_databricks:
            return spark_table_version(self.spark(), self.table_ref(schema, table))
        return int(self._delta(schema, table).version())

    def principal(self) -> Principal:
        """The authenticated caller and their groups; raises InfraError when the workspace cannot say.

        Locally the OS user, standing for the groups ``MLOPS_LOCAL_GROUPS`` names (a local machine
        has no directory); on Databricks only the workspace's answer counts.
        """
        if self.on_databricks:
            return workspace_principal()
        import getpass

        return Principal(getpass.getuser(), frozenset(self.settings.local_groups), "local")

    def identity(self) -> str:
        """The authenticated principal (Databricks user or service principal; locally the OS user).

        Recorded next to the self-declared ``--actor`` so an audit sees who really acted (evidence: an
        approval does not use this but ``principal``, which fails rather than answer 'unknown').
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

            if not self.on_databricks:
                # Local mode: Python UDFs (score's spark_udf) run in workers started from this
                # interpreter, not whatever python3 PATH names (PySpark reads PYSPARK_PYTHON).
                os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            self._spark.append(SparkSession.builder.getOrCreate())
        return self._spark[0]

    @contextlib.contextmanager
    def exclusive(self, name: str, timeout_s: float) -> Iterator[None]:
        """Hold the named lock of this project, waiting at most ``timeout_s`` (Refused after that).

        Locally an ``flock`` on ``<root>/locks/<name>.lock``: the kernel releases it when the holder
        dies, even by SIGKILL, so a killed job never leaves it held. On Databricks a no-op: the
        job runs with ``max_concurrent_runs = 1`` and queueing, and what must not happen twice is
        guarded by keys in the tables and the registry, not by the lock.
        """
        if self.root is None:
            yield
            return
        path = self.root / "locks" / f"{name}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise Refused(
                            f"{name} is held by another run (lock {path}) after waiting {timeout_s:g} s "
                            f"(MLOPS_LOCK_TIMEOUT_SECONDS)"
                        ) from None
                    time.sleep(0.2)
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
            yield
        finally:
            os.close(fd)

    # -- local Delta -----------------------------------------------------------------------------
    def _table_path(self, schema: str, table: str) -> Path:
        assert self.root is not None
        return self.root / "tables" / schema / table

    def _merge_local(
        self,
        source: pd.DataFrame,
        schema: str,
        table: str,
        keys: Sequence[str],
        marker: str | None,
        arrow_schema: Any | None,
        update: Sequence[str] = (),
    ) -> MergeResult:
        import pyarrow as pa
        from deltalake import CommitProperties, DeltaTable

        path = self._table_path(schema, table)
        if not (path / "_delta_log").is_dir():
            path.parent.mkdir(parents=True, exist_ok=True)
            typed = _arrow(source, arrow_schema)
            # Two creators may both commit a CREATE; both are empty with the same schema: harmless.
            DeltaTable.create(str(path), schema=typed.schema, mode="ignore")
        if marker is not None:
            found = self.find_marker(schema, table, marker)
            if found is not None:
                return found
        dt = DeltaTable(str(path))
        if source.empty:
            return MergeResult(dt.version(), 0)
        # Typed without NOT NULL flags: a null key must reach Delta's own check (and its message).
        target = pa.schema([f.with_nullable(True) for f in pa.schema(dt.schema().to_arrow())])
        typed = _arrow(source, arrow_schema or target)
        missing = [c for c in target.names if c not in typed.schema.names]
        extra = sorted(set(map(str, source.columns)) - set(target.names))
        if missing or extra:
            raise BadInput(
                f"rows for {schema}.{table} do not have its columns: missing {missing}, extra {extra}"
            )
        typed = typed.select(target.names).cast(target, safe=False)
        predicate = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
        props = CommitProperties(custom_metadata={"userMetadata": marker}) if marker else None
        merger = dt.merge(typed, predicate, source_alias="s", target_alias="t", commit_properties=props)
        if update:
            merger = merger.when_matched_update({c: f"s.`{c}`" for c in update}, _changed(update))
        metrics = merger.when_not_matched_insert_all().execute()
        inserted = int(metrics["num_target_rows_inserted"])
        return MergeResult(dt.version(), inserted, updated=int(metrics.get("num_target_rows_updated", 0)))

    def _merge_spark(
        self,
        source: Any,
        schema: str,
        table: str,
        keys: Sequence[str],
        marker: str | None,
        arrow_schema: Any | None = None,
        update: Sequence[str] = (),
    ) -> MergeResult:
        """``MERGE INTO ... WHEN NOT MATCHED THEN INSERT *`` (Databricks SQL reference, MERGE INTO).

        The tables this creates have deletion vectors off: without row-level concurrency a MERGE
        reads the whole unpartitioned table, so a concurrent commit that added rows makes it fail
        with ``ConcurrentAppendException`` instead of both inserting the same key (Databricks,
        "Isolation levels and write conflicts": conflicts without row-level concurrency).
        ``userMetadata`` is set through ``spark.databricks.delta.commitInfo.userMetadata``
        (Delta, "Set user-defined commit metadata").
        """
        spark = self.spark()
        ref = self.table_ref(schema, table)
        local = isinstance(source, pd.DataFrame)
        frame = spark_frame(spark, source, arrow_schema) if local else source
        view = f"mlops_merge_source_{os.getpid()}_{abs(hash(ref))}"
        frame.createOrReplaceTempView(view)
        # Created empty with its columns and deletion vectors off; a concurrent creator's IF NOT
        # EXISTS is a no-op (Databricks SQL reference, CREATE TABLE [USING]).
        spark.sql(
            f"CREATE TABLE IF NOT EXISTS {ref} TBLPROPERTIES ('delta.enableDeletionVectors' = false) "
            f"AS SELECT * FROM {view} WHERE false"
        )
        if marker is not None:
            found = self.find_marker(schema, table, marker)
            if found is not None:
                return found
        if source.empty if local else frame.isEmpty():
            return MergeResult(spark_table_version(spark, ref), 0)
        on = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
        key = "spark.databricks.delta.commitInfo.userMetadata"
        if marker:
            spark.conf.set(key, marker)
        try:
            matched = ""
            if update:
                sets = ", ".join(f"t.`{c}` = s.`{c}`" for c in update)
                matched = f"WHEN MATCHED AND ({_changed(update)}) THEN UPDATE SET {sets} "
            out = spark.sql(
                f"MERGE INTO {ref} t USING {view} s ON {on} {matched}WHEN NOT MATCHED THEN INSERT *"
            ).collect()[0]
        finally:
            if marker:
                spark.conf.unset(key)
        updated = int(out["num_updated_rows"]) if update else 0
        return MergeResult(spark_table_version(spark, ref), int(out["num_inserted_rows"]), updated=updated)

    def _delta(self, schema: str, table: str, version: int | None = None) -> Any:
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        path = self._table_path(schema, table)
        try:
            dt = DeltaTable(str(path))
        except TableNotFoundError as exc:
            raise TableMissing(
                f"table {schema}.{table} not found (looked for a Delta table at {path})"
            ) from exc
        except Exception as exc:  # a Delta log that does not parse: the store is damaged, not the input
            first = str(exc).strip().splitlines()[0][:300]
            raise InfraError(
                f"table {schema}.{table} at {path} is unreadable (corrupt Delta log?): {first}"
            ) from exc
        if version is not None:
            latest = dt.version()
            if not 0 <= int(version) <= latest:
                raise BadInput(f"table {schema}.{table} has no version {version}; available: 0..{latest}")
            dt.load_as_version(int(version))
        return dt

    def _read_delta(self, schema: str, table: str, version: int | None) -> tuple[pd.DataFrame, int]:
        dt = self._delta(schema, table, version)
        return dt.to_pandas(), dt.version()


def _dedupe(df: Any, keys: Sequence[str], where: str, check_nulls: bool = True) -> Any:
    """A MERGE source must not repeat a key; a null key would never match (and always insert),
    unless the table's NOT NULL constraint refuses it (``check_nulls`` False)."""
    missing = [k for k in keys if k not in df.columns]
    if missing:
        raise BadInput(f"rows for {where} lack the key columns {missing}")
    if not isinstance(df, pd.DataFrame):  # Spark: rows with a null key are dropped, not collected
        kept = df.dropna(subset=list(keys)) if check_nulls else df
        return kept.dropDuplicates(list(keys))
    if check_nulls and len(df) and df[list(keys)].isna().any().any():
        raise BadInput(f"rows for {where} have null values in the key columns {list(keys)}")
    return df.drop_duplicates(list(keys), keep="first").reset_index(drop=True)


def _arrow(df: pd.DataFrame, arrow_schema: Any | None) -> Any:
    """``df`` as an Arrow table typed by ``arrow_schema`` (its columns present in ``df``), else inferred.

    Timestamps become microseconds: Delta's timestamp type; nanoseconds need a reader feature
    (``timestampNanos``) most readers lack, and a sub-microsecond part is not kept.
    """
    import pyarrow as pa

    table = pa.Table.from_pandas(df, preserve_index=False)
    if arrow_schema is None:
        fields = [
            pa.field(f.name, pa.timestamp("us", tz=f.type.tz)) if pa.types.is_timestamp(f.type) else f
            for f in table.schema
        ]
        return table.cast(pa.schema(fields), safe=False)
    names = [n for n in arrow_schema.names if n in table.schema.names]
    return table.select(names).cast(pa.schema([arrow_schema.field(n) for n in names]), safe=False)


def _changed(columns: Sequence[str]) -> str:
    """A matched row differs in one of ``columns`` (null-safe: SQL ``IS DISTINCT FROM``)."""
    return " OR ".join(f"(t.`{c}` IS DISTINCT FROM s.`{c}`)" for c in columns)


def _is_conflict(exc: BaseException) -> bool:
    """A commit lost to a concurrent writer (delta-rs ``CommitFailedError``, Spark's conflict errors)."""
    name = type(exc).__name__
    return name == "CommitFailedError" or any(c in name or c in str(exc)[:500] for c in SPARK_CONFLICTS)


def _writable_root(base: Path, source: tuple[str, str]) -> Path:
    """The local root, created if needed; a root that cannot be written is a config error (exit 2)."""
    try:
        base.mkdir(parents=True, exist_ok=True)
        probe = base / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError.single(
            source[0],
            (source[1],),
            f"the local root is not writable ({exc.strerror or exc})",
            str(base),
            "a writable folder",
        ) from exc
    return base


def get_runtime(
    env: str,
    root: str | Path | None = None,
    catalog: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Runtime:
    """Pick the runtime from the process environment; ``catalog`` defaults to ``mlops_<env>``."""
    settings = current_settings() if environ is None else load_settings(environ)
    environ = os.environ if environ is None else environ
    catalog = catalog or f"mlops_{env}"
    if environ.get(DATABRICKS_ENV_VAR):
        return Runtime(env, catalog, True, "databricks", "databricks-uc", settings=settings)
    if root:
        base, source = Path(root), ("command line", "--local-root")
    elif settings.local_root:
        base, source = settings.local_root, ("environment", LOCAL_ROOT_ENV_VAR)
    else:
        base, source = (
            Path.cwd() / ".local" / env,
            ("default", f"./.local/{env} (${LOCAL_ROOT_ENV_VAR} unset)"),
        )
    base = _writable_root(base.resolve(), source)
    # SQLite waits this long for a lock held by a concurrent job before "database is locked" (exit 3).
    timeout = f"?timeout={settings.store_timeout_seconds:g}"
    tracking = environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{base / 'mlflow.db'}{timeout}"
    registry = environ.get("MLFLOW_REGISTRY_URI") or tracking
    return Runtime(env, catalog, False, tracking, registry, base, settings=settings)


def artifact_location(runtime: Runtime) -> str | None:
    """Where new local experiments keep artifacts (None: let the tracking server decide)."""
    if runtime.root is None or not runtime.tracking_uri.startswith("sqlite:"):
        return None
    return (runtime.root / "artifacts").as_uri()
