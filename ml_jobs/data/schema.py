"""Check a training frame against the model spec before any run or registry entry exists."""

from __future__ import annotations

import pandas as pd
from pandas.api import types as ptypes

from ml_jobs.errors import BadInput
from mlops_spec.config.model_spec import DataSpec


def _kind_problems(df: pd.DataFrame, spec: DataSpec) -> list[str]:
    problems = []
    for name in spec.numeric_features:
        if not (ptypes.is_numeric_dtype(df[name]) and not ptypes.is_bool_dtype(df[name])):
            problems.append(f"{name}: expected a numeric type, got {df[name].dtype}")
    for name in spec.categorical_features:
        dtype = df[name].dtype
        if not (ptypes.is_string_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype)):
            problems.append(f"{name}: expected a string/categorical type, got {dtype}")
    if not ptypes.is_datetime64_any_dtype(df[spec.timestamp_column]):
        ts = spec.timestamp_column
        problems.append(f"{ts}: expected a timestamp type, got {df[ts].dtype}")
    label = df[spec.label]
    if not (ptypes.is_integer_dtype(label) or ptypes.is_bool_dtype(label)):
        problems.append(f"{spec.label}: expected a 0/1 integer or boolean label, got {label.dtype}")
    return problems


def check_frame(df: pd.DataFrame, spec: DataSpec, source: str) -> None:
    """Raise BadInput naming ``source`` and every column that does not fit ``spec``."""
    required = [spec.id_column, spec.timestamp_column, *spec.features, spec.label]
    for extra in (spec.sensitive_attribute, spec.segment_column):
        if extra and extra not in required:
            required.append(extra)
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise BadInput(
            f"{source}: missing columns {missing} required by the model spec "
            f"(data.*); present: {sorted(map(str, df.columns))}"
        )
    problems = _kind_problems(df, spec)
    if problems:
        raise BadInput(f"{source}: schema does not match the model spec: " + "; ".join(problems))
    if df.empty:
        raise BadInput(f"{source}: no rows to train on")
    labels = set(pd.unique(df[spec.label].dropna().astype("int64")))
    if not labels <= {0, 1}:
        raise BadInput(f"{source}: label {spec.label!r} must be 0/1, got values {sorted(labels)}")
    if len(labels) < 2:
        raise BadInput(
            f"{source}: label {spec.label!r} has a single class {sorted(labels)}; need both 0 and 1"
        )


def check_training_rows(df: pd.DataFrame, spec: DataSpec, source: str) -> None:
    """The rows a model is trained on: enough of them, and every feature with at least one value.

    An all-null feature would train (the imputer and the encoder accept it) and make a model that
    ignores it, or crash later stages; too few rows register a version nobody should trust.
    """
    empty = [name for name in spec.features if df[name].isna().all()]
    if empty:
        raise BadInput(
            f"{source}: features {empty} have no values (every row is null); fix the data or "
            f"drop them from data.numeric_features / data.categorical_features"
        )
    if len(df) < spec.min_training_rows:
        raise BadInput(
            f"{source}: {len(df)} rows in the training window; data.min_training_rows requires "
            f">= {spec.min_training_rows}"
        )


def training_window(df: pd.DataFrame, spec: DataSpec) -> pd.DataFrame:
    """The last ``training_window_days`` days before the newest row (all rows when None)."""
    if spec.training_window_days is None or df.empty:
        return df
    ts = df[spec.timestamp_column]
    return df[ts > ts.max() - pd.Timedelta(days=spec.training_window_days)]
