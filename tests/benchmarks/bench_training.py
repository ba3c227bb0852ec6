"""Training and validation cost on one machine: prints wall time and CPU time per step.

    .venv/bin/python tests/benchmarks/bench_training.py --rows 5000 20000 --trials 5

Uses a throwaway local root (Delta + MLflow on SQLite), one OpenMP thread per fit unless
--threads says otherwise. Figures, not assertions: compare runs on the same machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def _timed(label: str, fn, rows: int) -> object:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{rows:>8} rows  {label:<10} wall {wall:7.2f} s  cpu {cpu:7.2f} s")
    return result


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, nargs="+", default=[5000, 20000])
    p.add_argument("--trials", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    from threadpoolctl import threadpool_limits

    from ml_jobs.data.generate import generate_churn
    from ml_jobs.registry.client import connect
    from ml_jobs.runtime import get_runtime
    from ml_jobs.spec import resolve
    from ml_jobs.training.train import train_model
    from ml_jobs.validation.validate import validate_version

    spec = resolve("marketing_churn_gbm", "dev", overrides={"training": {"n_trials": args.trials}})
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(args.threads, user_api="openmp"):
        runtime = get_runtime("dev", root=Path(tmp), catalog=spec.catalog, environ={})
        client = _timed("connect", lambda: connect(runtime), 0)
        for rows in args.rows:
            frame = generate_churn(rows, seed=rows)
            version = _timed(
                "write",
                lambda f=frame: runtime.write_table(f, "features", "churn_training", mode="overwrite"),
                rows,
            )
            result = _timed(
                "train", lambda v=version: train_model(spec, runtime, client, data_version=v), rows
            )
            _timed("validate", lambda r=result: validate_version(spec, runtime, client, r.version), rows)
            print(f"{rows:>8} rows  test ROC-AUC {result.metrics['roc_auc']:.4f}  trials {args.trials}")


if __name__ == "__main__":
    main()
