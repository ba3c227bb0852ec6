"""Benchmark: the monitor's numpy engine vs a naive numpy/scipy pass vs Evidently 0.7.23, one run.

    .venv/bin/python tests/benchmarks/bench_monitor.py [--rows 1000000] [--compare-with DIR]
                                                       [--skip-evidently] [--skip-naive]

Data: reference and current windows of ``--rows`` rows each, 20 numeric + 5 categorical columns
(``ml_jobs.monitoring.synthetic``), drift injected in 4 known columns, written once to parquet under
``.bench/monitor-data-<rows>``. Every contestant runs in a fresh process that loads the same
parquet files, resets the peak-RSS counter (``/proc/self/clear_refs``), and reports wall time, CPU
time and peak RSS above the loaded data.

- The monitor is timed in its two phases: the one-time profile of the reference (quantile edges,
  counts, lookup tables) and the per-window cost a scheduled run pays against a stored profile
  (count the window, then compare and alert); the window is counted ``--repeat`` times and the
  median is reported. ``--compare-with DIR`` times another checkout's engine the same way (e.g. the
  main branch), which is how a speed-up over "today" is measured.
- The naive pass is what one writes with numpy and scipy on raw rows: ``ks_2samp``,
  ``wasserstein_distance``, PSI and JS on reference deciles, ``chi2_contingency`` over the union of
  categories, the same flag rule (effect size and BH-corrected test). It has no reusable profile:
  every window costs the whole pass.
- Evidently runs ``Report([DataDriftPreset()])`` in its own virtualenv (``.bench/evidently-venv``,
  created on first use with ``evidently==0.7.23`` and ``pandas<3``: it fails to import with pandas
  3); it is never a project dependency.

Rows/s counts reference + current rows for whole jobs and the window's rows for the per-window
cost. The load average is printed at the start and the end: the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
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


def _load(data_dir: Path):
    import pandas as pd

    reference = pd.read_parquet(data_dir / "reference.parquet")
    current = pd.read_parquet(data_dir / "current.parquet")
    loaded = rss_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
    return reference, current, loaded


def ours(data_dir: Path, repeat: int) -> dict[str, object]:
    """Worker (own process): the monitor of the checkout first on ``sys.path``."""
    from ml_jobs.monitoring import engine_numpy
    from ml_jobs.monitoring.profile import build_profile
    from ml_jobs.monitoring.run import compare_windows
    from mlops_spec.config.monitoring import MonitoringSpec

    reference, current, loaded = _load(data_dir)
    cpu_start, start = time.process_time(), time.perf_counter()
    profile = build_profile(reference, NUMERIC, CATEGORICAL)
    extra = {}
    if hasattr(engine_numpy, "binners"):  # older checkouts have no lookup tables
        extra["tables"] = engine_numpy.binners(profile)
    profile_s = time.perf_counter() - start
    counting, cpu = [], time.process_time() - cpu_start
    for _ in range(repeat):
        cpu_start, start = time.process_time(), time.perf_counter()
        window = engine_numpy.count_window(current, slice(None), profile, score=None, **extra)
        counting.append((time.perf_counter() - start, time.process_time() - cpu_start))
    cpu_start, start = time.process_time(), time.perf_counter()
    [result] = compare_windows(profile, [window], MonitoringSpec(), NUMERIC + CATEGORICAL)
    compare_s = time.perf_counter() - start
    count_s = statistics.median(t for t, _ in counting)
    count_cpu = statistics.median(c for _, c in counting)
    compare_cpu = time.process_time() - cpu_start
    cpu += count_cpu + compare_cpu
    return {
        "profile_s": profile_s,
        "count_s": count_s,
        "compare_s": compare_s,
        "window_s": count_s + compare_s,
        "window_cpu_s": count_cpu + compare_cpu,
        "seconds": profile_s + count_s + compare_s,
        "cpu_seconds": cpu,
        "peak_above_data_mb": (rss_kib("VmHWM") - loaded) / 1024,
        "data_mb": loaded / 1024,
        "drifted": sorted(c for c, d in result.baseline.drifted.items() if d),
        "profile_json_kb": len(profile.to_json()) / 1024,
    }


def naive(data_dir: Path) -> dict[str, object]:
    """Worker (own process): the same metrics straight from raw rows with numpy and scipy."""
    import numpy as np
    from scipy import stats as sps
    from scipy.spatial.distance import jensenshannon

    reference, current, loaded = _load(data_dir)
    cpu_start, start = time.process_time(), time.perf_counter()
    effect, p_values = {}, {}
    for c in NUMERIC:
        r, x = reference[c].to_numpy(), current[c].to_numpy()
        edges = np.unique(np.quantile(r, np.linspace(0.1, 0.9, 9)))
        rb = np.bincount(np.searchsorted(edges, r, side="right"), minlength=len(edges) + 1) / len(r)
        xb = np.bincount(np.searchsorted(edges, x, side="right"), minlength=len(edges) + 1) / len(x)
        rc, xc = np.clip(rb, 1e-4, None), np.clip(xb, 1e-4, None)
        psi = float(np.sum((xc - rc) * np.log(xc / rc)))
        ks = sps.ks_2samp(r, x, method="asymp")
        wasserstein = sps.wasserstein_distance(r, x) / (r.std() or 1.0)
        js = float(jensenshannon(rb, xb, base=2))
        effect[c] = psi >= 0.2 or ks.statistic >= 0.1 or js >= 0.1 or wasserstein >= 0.1
        p_values[c] = ks.pvalue
    for c in CATEGORICAL:
        r, x = reference[c].value_counts(), current[c].value_counts()
        union = r.index.union(x.index)
        rv, xv = r.reindex(union, fill_value=0).to_numpy(), x.reindex(union, fill_value=0).to_numpy()
        js = float(jensenshannon(rv, xv, base=2))
        tv = 0.5 * float(np.abs(rv / rv.sum() - xv / xv.sum()).sum())
        effect[c] = js >= 0.1 or tv >= 0.1
        p_values[c] = sps.chi2_contingency(np.vstack([rv, xv]), correction=False).pvalue
    adjusted = sps.false_discovery_control(list(p_values.values()), method="bh")
    drifted = sorted(c for c, p in zip(p_values, adjusted, strict=True) if effect[c] and p < 0.01)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "window_s": seconds,
        "cpu_seconds": time.process_time() - cpu_start,
        "window_cpu_s": time.process_time() - cpu_start,
        "peak_above_data_mb": (rss_kib("VmHWM") - loaded) / 1024,
        "data_mb": loaded / 1024,
        "drifted": drifted,
    }


def run_worker(command: list[str], env: dict[str, str] | None = None) -> dict[str, object]:
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _ours_command(data_dir: Path, repeat: int) -> list[str]:
    return [
        sys.executable,
        __file__,
        "--worker",
        "ours",
        "--data-dir",
        str(data_dir),
        "--repeat",
        str(repeat),
    ]


def _load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min) on {os.cpu_count()} cores"


def _fmt(value: object, pattern: str = "{:8.2f}") -> str:
    return pattern.format(value) if isinstance(value, int | float) else f"{'-':>8}"


def report(rows: int, results: dict[str, dict[str, object]], load_start: str) -> None:
    total_rows = 2 * rows
    print(
        f"{rows:,} reference + {rows:,} current rows x (20 numeric + 5 categorical); "
        f"injected drift in {sorted(DRIFTED)}"
    )
    print(f"load average at the start: {load_start}")
    print(
        f"{'contestant':34} {'profile':>8} {'window':>8} {'win cpu':>8} {'total':>8} {'cpu s':>8} "
        f"{'rows/s total':>13} {'window rows/s':>14} {'peak MB':>8}  drifted found"
    )
    for name, r in results.items():
        found = r["drifted"]
        verdict = "exactly the injected" if set(found) == DRIFTED else f"{found}"
        window = r.get("window_s", r["seconds"])
        print(
            f"{name:34} {_fmt(r.get('profile_s'))} {_fmt(window)} "
            f"{_fmt(r.get('window_cpu_s', r.get('cpu_seconds')))} {_fmt(r['seconds'])} "
            f"{_fmt(r.get('cpu_seconds'))} {total_rows / r['seconds']:13,.0f} "
            f"{rows / window:14,.0f} {r['peak_above_data_mb']:8.0f}  {verdict}"
        )
    print("(seconds; profile = one-time reference profile; window = count one window against it + compare")
    print(" + alert, median of --repeat counts, wall and CPU time: CPU time is steadier on a busy machine;")
    print(" peak MB = peak RSS above the loaded data; naive and Evidently have no reusable profile,")
    print(" so each of their windows costs the whole job)")
    ours_now = results[next(iter(results))]
    for name, r in list(results.items())[1:]:
        window = r.get("window_s", r["seconds"])  # without a reusable profile a window is the whole job
        window_cpu = r.get("window_cpu_s", r.get("cpu_seconds", float("nan")))
        print(
            f"{next(iter(results))} vs {name}: whole job {r['seconds'] / ours_now['seconds']:.1f}x faster, "
            f"per window {window / ours_now['window_s']:.1f}x "
            f"({window_cpu / ours_now['window_cpu_s']:.1f}x in CPU time)"
            + (
                f" (counting alone {r['count_s'] / ours_now['count_s']:.1f}x)"
                if "count_s" in r and "count_s" in ours_now
                else ""
            )
        )
    print(f"load average at the end: {_load_average()}")
    print(
        f"data in the monitor's process: {ours_now['data_mb']:.0f} MB; "
        f"stored profile: {ours_now['profile_json_kb']:.0f} KB of JSON"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per side (reference and current)")
    parser.add_argument("--repeat", type=int, default=3, help="times the window is counted (median kept)")
    parser.add_argument("--compare-with", type=Path, help="another checkout whose engine to time as well")
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--worker", choices=["ours", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker = ours(args.data_dir, args.repeat) if args.worker == "ours" else naive(args.data_dir)
        print(json.dumps(worker))
        return
    data_dir = prepare_data(args.rows)
    load_start = _load_average()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    results = {"monitor (this checkout)": run_worker(_ours_command(data_dir, args.repeat), env)}
    if args.compare_with:
        other = {**os.environ, "PYTHONPATH": str(args.compare_with.resolve())}
        results[f"monitor ({args.compare_with})"] = run_worker(_ours_command(data_dir, args.repeat), other)
    if not args.skip_naive:
        results["naive numpy/scipy pass"] = run_worker(
            [sys.executable, __file__, "--worker", "naive", "--data-dir", str(data_dir)], env
        )
    if not args.skip_evidently:
        python = ensure_evidently()
        worker = Path(__file__).with_name("monitor_evidently_worker.py")
        results["evidently 0.7.23 DataDriftPreset"] = run_worker([str(python), str(worker), str(data_dir)])
    report(args.rows, results, load_start)


if __name__ == "__main__":
    main()
