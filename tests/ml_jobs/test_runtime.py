import os
from pathlib import Path

import pandas as pd
import pytest

from ml_jobs.errors import BadInput
from ml_jobs.runtime import get_runtime


def test_local_runtime_uses_sqlite_and_delta_under_the_root(tmp_path: Path) -> None:
    rt = get_runtime("dev", root=tmp_path, environ={})
    assert not rt.on_databricks
    assert rt.tracking_uri == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}?timeout=30" == rt.registry_uri
    assert rt.table_ref("features", "t") == str(tmp_path.resolve() / "tables" / "features" / "t")
    assert rt.registered_name("m") == "mlops_dev.models.m"


def test_local_root_from_env_var_and_tracking_uri_override(tmp_path: Path) -> None:
    rt = get_runtime(
        "staging", environ={"MLOPS_LOCAL_ROOT": str(tmp_path), "MLFLOW_TRACKING_URI": "http://x:5000"}
    )
    assert rt.root == tmp_path.resolve()
    assert rt.tracking_uri == "http://x:5000" == rt.registry_uri


def test_databricks_runtime_is_detected_from_the_runtime_env_var() -> None:
    rt = get_runtime("prod", catalog="mlops_prod", environ={"DATABRICKS_RUNTIME_VERSION": "15.4"})
    assert rt.on_databricks and rt.root is None
    assert (rt.tracking_uri, rt.registry_uri) == ("databricks", "databricks-uc")
    assert rt.table_ref("features", "churn") == "mlops_prod.features.churn"
    assert rt.registered_name("m") == "mlops_prod.models.m"


def test_write_and_read_delta_versions(tmp_path: Path) -> None:
    rt = get_runtime("dev", root=tmp_path, environ={})
    v0 = rt.write_table(pd.DataFrame({"a": [1, 2]}), "features", "t", mode="overwrite")
    v1 = rt.write_table(pd.DataFrame({"a": [3]}), "features", "t")
    assert (v0, v1) == (0, 1) and rt.table_version("features", "t") == 1
    old, version = rt.read_table("features", "t", version=0)
    assert version == 0 and old["a"].tolist() == [1, 2]
    latest, version = rt.read_table("features", "t")
    assert version == 1 and sorted(latest["a"].tolist()) == [1, 2, 3]


def test_fails_reading_a_missing_table(tmp_path: Path) -> None:
    rt = get_runtime("dev", root=tmp_path, environ={})
    with pytest.raises(BadInput, match=r"table features.nope not found"):
        rt.read_table("features", "nope")


def test_fails_reading_a_missing_version(tmp_path: Path) -> None:
    rt = get_runtime("dev", root=tmp_path, environ={})
    rt.write_table(pd.DataFrame({"a": [1]}), "features", "t")
    with pytest.raises(BadInput, match=r"no version 7; available: 0..0"):
        rt.read_table("features", "t", version=7)


def test_connect_does_not_leak_its_store_into_the_environment(tmp_path: Path, monkeypatch) -> None:
    """Otherwise the next ``get_runtime`` in the same process would silently use this store."""
    from ml_jobs.registry.client import connect

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    connect(get_runtime("dev", root=tmp_path / "dev", environ={}))
    assert "MLFLOW_TRACKING_URI" not in os.environ
    prod = get_runtime("prod", root=tmp_path / "prod")
    assert prod.tracking_uri.endswith("prod/mlflow.db?timeout=30")
