"""Evidently side of ``bench_monitor.py``; runs inside ``.bench/evidently-venv`` (pandas < 3).

Prints one JSON line: seconds, peak RSS above the loaded data, and the drifted columns Evidently found.
Imports nothing from the project, so the project's dependencies never meet Evidently's.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def drifted(method: str, value: float, threshold: float) -> bool:
    """Evidently's own decision for one column, from the method it reports.

    Its p-value tests (what it picks at <= 1000 rows: "K-S p_value", "chi-square p_value", "Z-test
    p_value") flag drift when the p-value is small: K-S at ``p <= threshold``, the others at
    ``p < threshold``; its distances (Wasserstein, Jensen-Shannon, PSI, ...) at ``value >= threshold``
    (``evidently/legacy/calculations/stattests/*.py``, 0.7.23).
    """
    if method.endswith("p_value"):
        return value <= threshold if method.startswith("K-S") else value < threshold
    return value >= threshold


def main(data_dir: str) -> None:
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset

    reference = pd.read_parquet(Path(data_dir) / "reference.parquet")
    current = pd.read_parquet(Path(data_dir) / "current.parquet")
    loaded = rss_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
    start, cpu_start = time.perf_counter(), time.process_time()
    snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    peak = rss_kib("VmHWM")
    found = []
    for metric in snapshot.dict()["metrics"]:
        config, value = metric.get("config", {}), metric.get("value")
        if config.get("type", "").endswith("ValueDrift") and drifted(
            str(config["method"]), float(value), float(config["threshold"])
        ):
            found.append(config["column"])
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "peak_above_data_mb": (peak - loaded) / 1024,
                "data_mb": loaded / 1024,
                "drifted": sorted(found),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
