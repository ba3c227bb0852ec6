"""Feature tables: declared by a model (or reused from another model's), built by a scheduled feature job.

A feature table is a Unity Catalog Delta table in the ``features`` schema with a primary key and a
timestamp key (``PRIMARY KEY (id, ts TIMESERIES)``): any such table is a time series feature table
(Databricks, "Point-in-time feature joins"). Training looks features up as of each label's timestamp:
the newest row whose timestamp key is not later than the label's, per primary key.

The label table (``features.labels``) holds the model's id, timestamp and label columns; the training
table (``data.table``) is then built from it by point-in-time lookup, so every job that reads the
training table keeps working unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from mlops_spec.config.base import Spec
from mlops_spec.config.errors import Problem, allowed

if TYPE_CHECKING:  # model_spec imports this module
    from mlops_spec.config.model_spec import ModelSpec

IDENT = r"^[a-z][a-z0-9_]{0,254}$"
FeatureFunction = Literal["project"]
"""Feature functions of ``ml_jobs.features.functions``; ``project``: the declared columns of the source
rows, one row per primary key and timestamp."""


class FeatureTableSpec(Spec):
    """One time series feature table in the ``features`` schema."""

    name: str = Field(pattern=IDENT, description="Table name in the features schema.")
    description: str = Field("", description="Table comment: what the features describe.")
    source: str = Field(pattern=IDENT, description="Table in the features schema the feature function reads.")
    function: FeatureFunction = Field(
        "project", description="Feature function in ml_jobs.features.functions."
    )
    primary_key: tuple[str, ...] = Field(min_length=1, description="Entity key columns (NOT NULL, STRING).")
    timestamp_key: str = Field(
        "event_ts", description="Timestamp key (NOT NULL, TIMESTAMP; the TIMESERIES key)."
    )
    numeric_features: tuple[str, ...] = Field((), description="Numeric feature columns (DOUBLE).")
    categorical_features: tuple[str, ...] = Field((), description="Categorical feature columns (STRING).")
    cluster_by: tuple[str, ...] | None = Field(
        None, description="Liquid clustering columns; None = the primary key and the timestamp key."
    )
    schedule: str = Field("0 0 1 * * ?", description="Quartz cron of the feature job that refreshes it.")
    timezone: str = Field("UTC", description="Java time zone id of the schedule.")
    max_age_hours: int = Field(
        36, ge=1, description="Expected freshness: `monitor` reports the table stale past this age."
    )

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric_features + self.categorical_features

    @property
    def keys(self) -> tuple[str, ...]:
        return (*self.primary_key, self.timestamp_key)

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.keys, *self.features)

    def clustering(self) -> tuple[str, ...]:
        """The one place the 'None means the keys' rule for clustering lives."""
        return self.cluster_by if self.cluster_by is not None else self.keys


class FeaturesSpec(Spec):
    """A model's feature tables: its own and those it reuses from other models."""

    labels: str = Field(
        pattern=IDENT,
        description="Label table in the features schema: data.id_column, data.timestamp_column, data.label.",
    )
    tables: tuple[FeatureTableSpec, ...] = Field((), description="Feature tables this model declares.")
    reuse: tuple[str, ...] = Field((), description="Feature tables declared by other models, by name.")


def feature_tables(models: Sequence[ModelSpec]) -> dict[str, FeatureTableSpec]:
    """Every declared feature table by name (first declaration wins; duplicates are config errors)."""
    out: dict[str, FeatureTableSpec] = {}
    for model in models:
        for table in model.features.tables if model.features else ():
            out.setdefault(table.name, table)
    return out


def tables_of(model: ModelSpec, models: Sequence[ModelSpec]) -> tuple[FeatureTableSpec, ...]:
    """The feature tables ``model`` reads: its own, then the reused ones, in declaration order."""
    if model.features is None:
        return ()
    known = feature_tables(models)
    return (*model.features.tables, *(known[n] for n in model.features.reuse if n in known))


def _check_table(table: FeatureTableSpec, file: str, path: tuple[str | int, ...]) -> Iterator[Problem]:
    from mlops_spec.config.cron import cron_problem, parse

    columns = table.columns
    for i, column in enumerate(columns):
        if column in columns[:i]:
            yield Problem(file, (*path, "columns"), "a column is declared twice", column)
    if not table.features:
        yield Problem(
            file, (*path, "numeric_features"), "a feature table needs at least one feature", show_value=False
        )
    for i, column in enumerate(table.cluster_by or ()):
        if column not in columns:
            yield Problem(
                file, (*path, "cluster_by", i), "not a column of the table", column, allowed(columns)
            )
    if (why := cron_problem(table.schedule)) is not None:
        yield Problem(file, (*path, "schedule"), f"invalid cron: {why}", table.schedule)
    else:
        interval_hours = parse(table.schedule).min_interval_seconds() / 3600
        if table.max_age_hours < interval_hours:
            yield Problem(
                file,
                (*path, "max_age_hours"),
                f"shorter than the schedule's interval ({interval_hours:g} h): "
                "every check would find it stale",
                table.max_age_hours,
                f">= {interval_hours:g}",
            )


def check_features(models: Sequence[ModelSpec], file: str) -> Iterator[Problem]:
    """Names unique across models, reuse resolvable, keys that fit the model's label table, and every
    feature of a model found in exactly the tables it reads."""
    declared: dict[str, int] = {}
    for i, model in enumerate(models):
        for j, table in enumerate(model.features.tables if model.features else ()):
            path = ("models", i, "features", "tables", j)
            if table.name in declared:
                yield Problem(
                    file,
                    (*path, "name"),
                    f"feature table already declared by models[{declared[table.name]}]",
                    table.name,
                )
            declared.setdefault(table.name, i)
            yield from _check_table(table, file, path)
    for i, model in enumerate(models):
        spec = model.features
        if spec is None:
            continue
        base = ("models", i, "features")
        own = {t.name for t in spec.tables}
        for j, name in enumerate(spec.reuse):
            if name in own or declared.get(name) == i:
                yield Problem(file, (*base, "reuse", j), "the model declares this table itself", name)
            elif name not in declared:
                others = sorted(n for n, k in declared.items() if k != i)
                yield Problem(
                    file, (*base, "reuse", j), "unknown feature table", name, allowed(others, "none declared")
                )
        if spec.labels in declared:
            yield Problem(file, (*base, "labels"), "the label table cannot be a feature table", spec.labels)
        if spec.labels == model.data.table:
            yield Problem(
                file,
                (*base, "labels"),
                "the label table cannot be the training table (data.table)",
                spec.labels,
            )
        tables = tables_of(model, models)
        for table in tables:
            if table.primary_key != (model.data.id_column,):
                yield Problem(
                    file,
                    (*base, "tables" if table.name in own else "reuse"),
                    f"feature table {table.name}: its primary key must be the model's data.id_column",
                    list(table.primary_key),
                    f"[{model.data.id_column}]",
                )
        found = [f for t in tables for f in t.features]
        for column in model.data.features:
            if column not in found:
                yield Problem(
                    file,
                    (*base,),
                    "a feature of data.* is in none of the model's feature tables",
                    column,
                    allowed(found, "no feature tables"),
                )
            elif found.count(column) > 1:
                yield Problem(
                    file, (*base,), "a feature is in more than one of the model's feature tables", column
                )
