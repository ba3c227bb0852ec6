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


# -- merge_table: the exactly-once write -------------------------------------------------------------
def _rows(n: int, start: int = 0) -> pd.DataFrame:
    return pd.DataFrame({"id": [f"r{i}" for i in range(start, start + n)], "v": range(start, start + n)})


def test_merge_inserts_only_new_keys_and_commits_nothing_when_nothing_is_new(tmp_path: Path) -> None:
    rt = get_runtime("dev", root=tmp_path, environ={})
    first = rt.merge_table(_rows(3), "monitoring", "t", keys=["id"])
    again = rt.merge_table(_rows(3), "monitoring", "t", keys=["id"])
    more = rt.merge_table(_rows(4, start=2), "monitoring", "t", keys=["id"])
    assert (first.inserted, again.inserted, more.inserted) == (3, 0, 3)
    assert again.version == first.version  # no empty commit: the version a re-run trains on is stable
    frame, _ = rt.read_table("monitoring", "t")
    assert sorted(frame["id"]) == [f"r{i}" for i in range(6)]


def test_merge_with_a_marker_finds_the_commit_of_an_earlier_attempt(tmp_path: Path) -> None:
    rt = get_runtime("dev", root=tmp_path, environ={})
    rt.merge_table(_rows(2), "features", "t", keys=["id"])
    written = rt.merge_table(_rows(3, start=5), "features", "t", keys=["id"], marker="retrain:abc")
    rt.merge_table(_rows(1, start=9), "features", "t", keys=["id"])  # someone else writes after it
    rerun = rt.merge_table(_rows(3, start=5), "features", "t", keys=["id"], marker="retrain:abc")
    assert rerun.marker_found and (rerun.version, rerun.inserted) == (written.version, 3)


def test_merge_keeps_microsecond_timestamps_and_typed_columns(tmp_path: Path) -> None:
    import pyarrow as pa

    rt = get_runtime("dev", root=tmp_path, environ={})
    ts = pd.to_datetime(["2025-01-01T00:00:00.123456789"], utc=True).astype("datetime64[ns, UTC]")
    rt.merge_table(pd.DataFrame({"id": ["a"], "ts": ts, "note": [None]}), "monitoring", "t", keys=["id"],
                   arrow_schema=pa.schema([("id", pa.string()), ("ts", pa.timestamp("us", tz="UTC")),
                                           ("note", pa.string())]))  # fmt: skip
    frame, _ = rt.read_table("monitoring", "t")  # deltalake cannot read nanosecond tables
    assert frame["ts"].iloc[0] == pd.Timestamp("2025-01-01T00:00:00.123456", tz="UTC")


@pytest.mark.parametrize(
    ("frame", "message"),
    [(pd.DataFrame({"id": ["a", None], "v": [1, 2]}), "null values in the key columns"),
     (pd.DataFrame({"v": [1]}), "lack the key columns"),
     (pd.DataFrame({"id": ["z"], "other": [1]}), "do not have its columns")],
)  # fmt: skip
def test_fails_merging_rows_without_a_usable_key_or_with_other_columns(
    tmp_path: Path, frame: pd.DataFrame, message: str
) -> None:
    rt = get_runtime("dev", root=tmp_path, environ={})
    rt.merge_table(_rows(1), "monitoring", "t", keys=["id"])
    with pytest.raises(BadInput, match=message):
        rt.merge_table(frame, "monitoring", "t", keys=["id"])


def test_an_exclusive_lock_is_released_when_its_holder_dies(tmp_path: Path) -> None:
    import subprocess
    import sys

    from ml_jobs.errors import Refused

    rt = get_runtime("dev", root=tmp_path, environ={})
    (tmp_path / "locks").mkdir()
    code = (
        "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR); "
        "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)"
    )
    lock = str(tmp_path / "locks" / "m.retrain.lock")
    holder = subprocess.Popen([sys.executable, "-c", code, lock], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(Refused, match="held by another run"), rt.exclusive("m.retrain", 0.2):
        pass
    holder.kill()  # SIGKILL: no cleanup ran
    holder.wait()
    with rt.exclusive("m.retrain", 5):
        pass
