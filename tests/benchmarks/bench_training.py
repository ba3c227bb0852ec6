"""Training and validation cost on one machine, per algorithm and data size; trials per minute of the
sequential search next to the Spark-batched one (local Spark, the same trials).

    .venv/bin/python tests/benchmarks/bench_training.py --rows 5000 20000 --trials 5

Uses a throwaway local root (Delta + MLflow on SQLite), one OpenMP thread per fit unless --threads
says otherwise (XGBoost: n_jobs 1, the local placement). Figures, not assertions: compare runs on the
same machine; the load average is printed at the start and the end (the machine may be shared).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def _timed(label: str, fn, rows: int) -> object:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{rows:>8} rows  {label:<22} wall {wall:7.2f} s  cpu {cpu:7.2f} s", flush=True)
    return result


def _training(args, runtime, client) -> None:
    from ml_jobs.data.generate import generate_churn
    from ml_jobs.spec import resolve
    from ml_jobs.training.train import train_model
    from ml_jobs.validation.validate import validate_version

    for algorithm in args.algorithms:
        overrides = {"training": {"n_trials": args.trials, "algorithm": algorithm}}
        spec = resolve("marketing_churn_gbm", "dev", overrides=overrides)
        for rows in args.rows:
            frame = generate_churn(rows, seed=rows)
            version = runtime.write_table(frame, "features", "churn_training", mode="overwrite")
            result = _timed(
                f"train {algorithm}",
                lambda v=version, s=spec: train_model(s, runtime, client, data_version=v),
                rows,
            )
            _timed(
                f"validate {algorithm}",
                lambda r=result, s=spec: validate_version(s, runtime, client, r.version),
                rows,
            )
            print(
                f"{rows:>8} rows  {algorithm} test ROC-AUC {result.metrics['roc_auc']:.4f}  "
                f"trials {args.trials}"
            )


def _trials_per_minute(args) -> None:
    """The same trials (same seed) through the batched search, in-process and on local Spark."""
    import mlflow
    from pyspark.sql import SparkSession

    from ml_jobs.data.generate import generate_churn
    from ml_jobs.spec import resolve
    from ml_jobs.training.parallel import InProcess, SparkExecutor, batched_search

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master(f"local[{args.spark_threads}]")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    data = resolve("marketing_churn_gbm", "dev").model.data
    rows = args.rows[0]
    train = generate_churn(rows, seed=rows)
    # Warm the Python workers once, so the figure is the search and not the workers' start-up.
    spark.sparkContext.parallelize(range(args.spark_threads), args.spark_threads).map(lambda i: i).collect()
    for label, executor in (
        ("sequential (in-process)", InProcess(args.spark_threads)),
        (f"Spark local[{args.spark_threads}]", SparkExecutor(spark)),
    ):
        with mlflow.start_run():
            start = time.perf_counter()
            found = batched_search(train, data, args.search_trials, 7, executor)
            wall = time.perf_counter() - start
        print(
            f"{rows:>8} rows  {label:<24} {args.search_trials} trials in {wall:6.1f} s: "
            f"{60 * args.search_trials / wall:5.1f} trials/min; best CV ROC-AUC {found.best_cv_roc_auc:.4f}",
            flush=True,
        )
    spark.stop()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, nargs="+", default=[5000, 20000])
    p.add_argument("--trials", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--algorithms", nargs="+", default=["hist_gbm", "xgboost"])
    p.add_argument("--search-trials", type=int, default=8, help="Trials of the trials-per-minute figure.")
    p.add_argument("--spark-threads", type=int, default=2, help="N of local[N] (batch size).")
    args = p.parse_args()
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    # threadpoolctl limits the OpenMP runtimes loaded when the limit is set: load scikit-learn's and
    # XGBoost's first (an unlimited OpenMP team spins on a shared machine: 100 s of CPU for a 15 s fit).
    import sklearn.ensemble  # noqa: F401
    import xgboost  # noqa: F401
    from threadpoolctl import threadpool_limits

    from ml_jobs.registry.client import connect
    from ml_jobs.runtime import get_runtime

    one, five, _ = os.getloadavg()
    print(f"load average at the start: {one:.1f} (1 min), {five:.1f} (5 min); {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(args.threads, user_api="openmp"):
        runtime = get_runtime("dev", root=Path(tmp), catalog="mlops_dev", environ={})
        client = _timed("connect", lambda: connect(runtime), 0)
        _training(args, runtime, client)
        _trials_per_minute(args)
    one, five, _ = os.getloadavg()
    print(f"load average at the end: {one:.1f} (1 min), {five:.1f} (5 min)")


if __name__ == "__main__":
    main()
