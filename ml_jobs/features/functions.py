"""Feature functions: source rows in, feature rows out (the table's keys and features), on pandas or Spark.

A function is named in the spec (``features.tables[].function``); each has a pandas and a Spark form,
held to the same output by the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from ml_jobs.errors import BadInput
from mlops_spec.config.features import FeatureTableSpec


def _missing(columns: Any, table: FeatureTableSpec) -> list[str]:
    return [c for c in table.columns if c not in list(columns)]


def project(source: pd.DataFrame, table: FeatureTableSpec) -> pd.DataFrame:
    """The declared columns, one row per key: the source's newest row for a repeated (id, ts) wins."""
    if missing := _missing(source.columns, table):
        raise BadInput(f"source features.{table.source} lacks the columns {missing} of {table.name}")
    return source[list(table.columns)].drop_duplicates(list(table.keys), keep="last").reset_index(drop=True)


def project_spark(source: Any, table: FeatureTableSpec) -> Any:
    if missing := _missing(source.columns, table):
        raise BadInput(f"source features.{table.source} lacks the columns {missing} of {table.name}")
    return source.select(*table.columns).dropDuplicates(list(table.keys))


FUNCTIONS: dict[str, tuple[Callable[[pd.DataFrame, FeatureTableSpec], pd.DataFrame], Callable[..., Any]]] = {
    "project": (project, project_spark)
}
