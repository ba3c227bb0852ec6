"""Benchmark: the monitor's numpy engine vs Evidently 0.7.23 on the same data, in the same run.

    .venv/bin/python tests/benchmarks/bench_monitor.py [--rows 1000000] [--skip-evidently]

Data: reference and current windows of ``--rows`` rows each, 20 numeric + 5 categorical columns
(``ml_jobs.monitoring.synthetic``), drift injected in 4 known columns, written once to parquet under
``.bench/monitor-data``. Each side runs in a fresh process that loads the parquet files, resets
the peak-RSS counter (``/proc/self/clear_refs``), and reports wall time and peak RSS above the
loaded data. Evidently runs ``Report([DataDriftPreset()])`` in its own virtualenv
(``.bench/evidently-venv``, created on first use with ``evidently==0.7.23`` and ``pandas<3``); it is
never a project dependency. Our side runs the whole job: profile the reference (fine and coarse
quantile bins), count the current window, compute every metric and the alerting.
Rows/s counts reference + current rows, as Evidently has to read both.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / ".bench"
EVIDENTLY_VENV = BENCH / "evidently-venv"
DRIFTED = frozenset({"num_01", "num_06", "num_15", "cat_2"})
NUMERIC = [f"num_{i:02d}" for i in range(20)]
CATEGORICAL = [f"cat_{j}" for j in range(5)]


def rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def prepare_data(rows: int) -> Path:
    sys.path.insert(0, str(REPO))
    from ml_jobs.monitoring import synthetic

    out = BENCH / f"monitor-data-{rows}"
    if not (out / "current.parquet").exists():
        out.mkdir(parents=True, exist_ok=True)
        synthetic.features(rows, seed=101).to_parquet(out / "reference.parquet")
        synthetic.features(rows, drifted=DRIFTED, seed=202).to_parquet(out / "current.parquet")
    return out


def ensure_evidently() -> Path:
    python = EVIDENTLY_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "evidently==0.7.23", "pandas<3"], check=True
        )
    return python


def ours(data_dir: Path, threads: int) -> dict[str, object]:
    """Worker: runs in its own process (see ``main``)."""
    sys.path.insert(0, str(REPO))
    import pandas as pd

    from ml_jobs.monitoring.engine_numpy import count_window
    from ml_jobs.monitoring.profile import build_profile
    from ml_jobs.monitoring.run import compare_windows
    from mlops_spec.config.monitoring import MonitoringSpec

    reference = pd.read_parquet(data_dir / "reference.parquet")
    current = pd.read_parquet(data_dir / "current.parquet")
    loaded = rss_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    start, cpu_start = time.perf_counter(), time.process_time()
    profile = build_profile(reference, NUMERIC, CATEGORICAL)
    window = count_window(current, slice(None), profile, score=None, n_threads=threads)
    [result] = compare_windows(profile, [window], MonitoringSpec(), NUMERIC + CATEGORICAL)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    drifted = sorted(c for c, d in result.baseline.drifted.items() if d)
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "peak_above_data_mb": (rss_kib("VmHWM") - loaded) / 1024,
        "data_mb": loaded / 1024,
        "drifted": drifted,
        "profile_json_kb": len(profile.to_json()) / 1024,
    }


def run_worker(command: list[str]) -> dict[str, object]:
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per side (reference and current)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--worker", choices=["ours"], help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(ours(args.data_dir, args.threads)))
        return
    data_dir = prepare_data(args.rows)
    total_rows = 2 * args.rows
    results = {}
    for threads in sorted({1, args.threads}):
        results[f"monitor numpy ({threads} thread{'s' if threads > 1 else ''})"] = run_worker(
            [
                sys.executable,
                __file__,
                "--worker",
                "ours",
                "--data-dir",
                str(data_dir),
                "--threads",
                str(threads),
            ]
        )
    if not args.skip_evidently:
        python = ensure_evidently()
        worker = Path(__file__).with_name("monitor_evidently_worker.py")
        results["evidently 0.7.23 DataDriftPreset"] = run_worker([str(python), str(worker), str(data_dir)])
    print(
        f"{args.rows:,} reference + {args.rows:,} current rows x (20 numeric + 5 categorical); "
        f"injected drift in {sorted(DRIFTED)}"
    )
    print(
        f"{'engine':36} {'seconds':>8} {'cpu s':>7} {'rows/s':>12} {'peak MB above data':>19}  drifted found"
    )
    for name, r in results.items():
        found = r["drifted"]
        verdict = "exactly the injected" if set(found) == DRIFTED else f"{found}"
        print(
            f"{name:36} {r['seconds']:8.2f} {r.get('cpu_seconds', float('nan')):7.2f} "
            f"{total_rows / r['seconds']:12,.0f} "
            f"{r['peak_above_data_mb']:19.0f}  {verdict}"
        )
    ours_best = min(v["seconds"] for k, v in results.items() if k.startswith("monitor"))
    evidently = results.get("evidently 0.7.23 DataDriftPreset")
    if evidently is not None:
        print(
            f"speed-up over Evidently: {evidently['seconds'] / ours_best:.0f}x "
            f"(data in Evidently's process: {evidently['data_mb']:.0f} MB)"
        )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (noisy if high)")
    print(
        f"data in our process: {next(iter(results.values()))['data_mb']:.0f} MB; "
        f"stored profile: {next(iter(results.values()))['profile_json_kb']:.0f} KB of JSON"
    )


if __name__ == "__main__":
    main()
