"""Feature and label tables: their constraints, and the one write into them (a MERGE on the keys).

Constraints are Delta's own, so a bad row is refused at write time, by whatever writes:

* NOT NULL on every key column (in the table schema), CHECK ``label IN (0, 1)`` on a label table
  (``delta.constraints.*``; Delta Lake, "Constraints": a violating commit fails, nothing is written).
  Locally ``deltalake`` enforces both on write and on MERGE (delta-rs, "Adding a constraint to a table").
* ``PRIMARY KEY (id, ts TIMESERIES)`` on Databricks: informational (Databricks SQL reference, CONSTRAINT
  clause), and what makes the table a time series feature table (Databricks, "Point-in-time feature
  joins"). ``databricks_sql_table`` cannot declare it (terraform-provider-databricks v1.99.0
  catalog/resource_sql_table.go, ``buildTableCreateStatement``: columns, NOT NULL, CLUSTER BY, comment and
  properties only), so the feature job, which owns the table, adds it once with ``ALTER TABLE``.

The write inserts the rows whose keys the table lacks (``MERGE ... WHEN NOT MATCHED THEN INSERT``:
``Runtime.merge_table``, the exactly-once write of every job's tables): a value observed for (id, ts)
is never restated later, which is what point-in-time lookups rely on; a retried or doubled run adds
nothing twice (a MERGE is one Delta commit; of two concurrent MERGEs the loser conflicts and is
retried, and its retry matches the winner's rows); a MERGE that inserts nothing commits nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from ml_jobs.errors import BadInput, InfraError
from ml_jobs.runtime import Runtime
from mlops_spec.config.features import FeatureTableSpec
from mlops_spec.config.model_spec import DataSpec
from mlops_spec.naming import FEATURES_SCHEMA


@dataclass(frozen=True)
class TableLayout:
    """What a feature or label table holds: key columns (NOT NULL), other columns, CHECK constraints."""

    name: str
    keys: tuple[str, ...]
    timestamp_key: str
    columns: dict[str, str]
    """Column -> Spark SQL type, keys first."""
    checks: dict[str, str]
    """Constraint name -> boolean SQL expression every row must satisfy."""
    clustering: tuple[str, ...] = ()

    @property
    def primary_key(self) -> tuple[str, ...]:
        return tuple(k for k in self.keys if k != self.timestamp_key)


def feature_layout(table: FeatureTableSpec) -> TableLayout:
    cols = {k: "STRING" for k in table.primary_key}
    cols[table.timestamp_key] = "TIMESTAMP"
    cols.update({c: "DOUBLE" for c in table.numeric_features})
    cols.update({c: "STRING" for c in table.categorical_features})
    return TableLayout(table.name, table.keys, table.timestamp_key, cols, {}, table.clustering())


def label_layout(name: str, data: DataSpec) -> TableLayout:
    cols = {data.id_column: "STRING", data.timestamp_column: "TIMESTAMP", data.label: "BIGINT"}
    checks = {f"{data.label}_is_binary": f"{data.label} IN (0, 1)"}
    keys = (data.id_column, data.timestamp_column)
    return TableLayout(name, keys, data.timestamp_column, cols, checks, keys)


def _arrow_type(sql: str) -> Any:
    import pyarrow as pa  # type: ignore[import-untyped]  # ships no type information

    return {
        "STRING": pa.string(),
        "TIMESTAMP": pa.timestamp("us", tz="UTC"),
        "DOUBLE": pa.float64(),
        "BIGINT": pa.int64(),
    }[sql]


def arrow_schema(layout: TableLayout) -> Any:
    import pyarrow as pa

    return pa.schema(
        [pa.field(c, _arrow_type(t), nullable=c not in layout.keys) for c, t in layout.columns.items()]
    )


def pk_constraint_sql(ref: str, layout: TableLayout) -> str:
    """``ALTER TABLE ... ADD CONSTRAINT <t>_pk PRIMARY KEY (id, ts TIMESERIES)`` (CONSTRAINT clause)."""
    keys = ", ".join(f"`{k}` TIMESERIES" if k == layout.timestamp_key else f"`{k}`" for k in layout.keys)
    return f"ALTER TABLE {ref} ADD CONSTRAINT {layout.name}_pk PRIMARY KEY ({keys})"


def ensure_table(runtime: Runtime, layout: TableLayout) -> None:
    """The table with its constraints; created where it does not exist (locally, or a label table)."""
    if runtime.on_databricks:
        _ensure_spark(runtime, layout)
    else:
        _ensure_local(runtime, layout)


def _ensure_local(runtime: Runtime, layout: TableLayout) -> None:
    from pathlib import Path

    from deltalake import DeltaTable

    path = runtime.table_ref(FEATURES_SCHEMA, layout.name)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    # mode="ignore": of two concurrent creators one commits version 0, the other finds it.
    dt = DeltaTable.create(path, schema=arrow_schema(layout), mode="ignore")
    present = {k.removeprefix("delta.constraints.") for k in dt.metadata().configuration}
    missing = {n: e for n, e in layout.checks.items() if n.lower() not in present}
    if missing:
        try:
            dt.alter.add_constraint(missing)
        except Exception as exc:  # a concurrent run added it first
            if "already exists" not in str(exc).lower():
                raise


def _ensure_spark(runtime: Runtime, layout: TableLayout) -> None:
    spark = runtime.spark()
    ref = runtime.table_ref(FEATURES_SCHEMA, layout.name)
    columns = ", ".join(
        f"`{c}` {t}{' NOT NULL' if c in layout.keys else ''}" for c, t in layout.columns.items()
    )
    cluster = f" CLUSTER BY ({', '.join(layout.clustering)})" if layout.clustering else ""
    spark.sql(f"CREATE TABLE IF NOT EXISTS {ref} ({columns}) USING DELTA{cluster}")
    existing = {r["name"] for r in _constraints(spark, ref)}
    for name, expression in layout.checks.items():
        if name not in existing:
            _tolerate_exists(
                lambda n=name, e=expression: spark.sql(f"ALTER TABLE {ref} ADD CONSTRAINT {n} CHECK ({e})")
            )
    if f"{layout.name}_pk" not in existing:
        _tolerate_exists(lambda: spark.sql(pk_constraint_sql(ref, layout)))


def _constraints(spark: Any, ref: str) -> list[Any]:
    catalog, schema, table = ref.split(".")
    rows: list[Any] = spark.sql(
        f"SELECT constraint_name AS name FROM {catalog}.information_schema.table_constraints "
        f"WHERE table_schema = '{schema}' AND table_name = '{table}' "
        f"UNION ALL SELECT substr(key, 19) AS name FROM (SHOW TBLPROPERTIES {ref}) "
        "WHERE key LIKE 'delta.constraints.%'"
    ).collect()
    return rows


def _tolerate_exists(statement: Any) -> None:
    try:
        statement()
    except Exception as exc:  # a concurrent run added it first: the end state is the same
        if "already exists" not in str(exc).lower() and "ALREADY_EXISTS" not in str(exc):
            raise


def merge(runtime: Runtime, layout: TableLayout, rows: Any, marker: str | None = None) -> int:
    """Insert the rows (pandas, or Spark on Databricks) whose keys the table lacks; returns how many.

    The one exactly-once write, ``Runtime.merge_table`` (insert-only, conflicts retried, ``marker``
    stamped on the commit), with the keys left to the table's NOT NULL constraint. Rows that break a
    constraint refuse the whole write (BadInput naming the table and the constraints).
    """
    missing = [c for c in layout.columns if c not in list(rows.columns)]
    if missing:
        raise BadInput(f"rows for {FEATURES_SCHEMA}.{layout.name} lack the columns {missing}")
    source = rows[list(layout.columns)] if isinstance(rows, pd.DataFrame) else rows.select(*layout.columns)
    try:
        merged = runtime.merge_table(
            source, FEATURES_SCHEMA, layout.name, layout.keys, marker=marker, not_null_keys=True
        )
    except (BadInput, InfraError):
        raise
    except Exception as exc:
        raise _refused(layout, exc) from exc
    return merged.inserted


def _refused(layout: TableLayout, exc: Exception) -> Exception:
    text = str(exc)
    violated = "DELTA_" in text and "CONSTRAINT" in text.upper()
    if "failed validation" in text or violated or "NOT NULL" in text:
        rules = [f"{k} NOT NULL" for k in layout.keys] + [f"{n}: {e}" for n, e in layout.checks.items()]
        first = "\n".join(text.strip().splitlines()[:8])
        return BadInput(
            f"rows refused by the constraints of {FEATURES_SCHEMA}.{layout.name} ({'; '.join(rules)}); "
            f"nothing was written:\n{first}"
        )
    return exc


def read(runtime: Runtime, name: str, version: int | None = None) -> tuple[pd.DataFrame, int]:
    return runtime.read_table(FEATURES_SCHEMA, name, version)


def newest_timestamp(runtime: Runtime, layout: TableLayout) -> pd.Timestamp | None:
    """The newest timestamp key of the table (None when empty); on Databricks a max() in Spark."""
    if runtime.on_databricks:
        ref = runtime.table_ref(FEATURES_SCHEMA, layout.name)
        row = runtime.spark().sql(f"SELECT max(`{layout.timestamp_key}`) AS newest FROM {ref}").collect()[0]
        return (
            None
            if row["newest"] is None
            else pd.Timestamp(row["newest"]).tz_localize(None).tz_localize("UTC")
        )
    frame, _ = read(runtime, layout.name)
    if frame.empty:
        return None
    return pd.Timestamp(frame[layout.timestamp_key].max())
