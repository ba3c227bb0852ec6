"""Synth scaling benchmark: 1, 50 and 200 models x 3 environments.

Each size is synthesized in a fresh process (``python -m stacks.main``, what ``cdktf synth`` runs)
from a generated ``models.yaml`` of N copies of the shipped churn model. Printed per size: wall
time, peak memory of the whole process tree (Python plus the jsii Node process, sampled every
20 ms from /proc), resources synthesized, and milliseconds per resource.

    .venv/bin/python tests/benchmarks/bench_synth.py [--sizes 1 50 200]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def tree_rss_kib(root_pid: int) -> int:
    """Resident memory of a process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid, ppid = int(entry), int(fields.get("PPid", "0").strip())
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0])
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def write_models(stacks_dir: Path, n: int) -> None:
    data = yaml.safe_load((REPO / "stacks" / "models.yaml").read_text())
    template = data["models"][0]
    models = []
    for i in range(n):
        model = json.loads(json.dumps(template))
        model["name"] = f"marketing_churn{i}_gbm"
        models.append(model)
    data["models"] = models
    (stacks_dir / "models.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


def run_size(n: int, wheel: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        stacks_dir = Path(tmp) / "stacks"
        shutil.copytree(REPO / "stacks", stacks_dir, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
        write_models(stacks_dir, n)
        out = Path(tmp) / "out"
        cmd = [
            sys.executable,
            "-m",
            "stacks.main",
            "--outdir",
            str(out),
            "--config-dir",
            str(stacks_dir),
            "--wheel",
            str(wheel),
        ]
        env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        peak = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, tree_rss_kib(proc.pid))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, err = proc.communicate()
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
        if proc.returncode != 0:
            raise SystemExit(f"synth of {n} models failed:\n{err.decode()[-2000:]}")
        resources = 0
        for doc_path in (out / "stacks").glob("*/cdk.tf.json"):
            doc = json.loads(doc_path.read_text())
            resources += sum(len(v) for v in doc.get("resource", {}).values())
        return {
            "models": n,
            "resources": resources,
            "wall_s": wall,
            "peak_mib": peak / 1024,
            "ms_per_resource": 1000 * wall / resources,
        }


def build_wheel(dest: Path) -> Path:
    env = {**os.environ, "SOURCE_DATE_EPOCH": "315532800"}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(dest),
            ".",
        ],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
    )
    return next(dest.glob("*.whl"))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 50, 200])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = build_wheel(Path(tmp))
        rows = [run_size(n, wheel) for n in args.sizes]
    print(f"{'models x 3 envs':>16} {'resources':>10} {'wall s':>8} {'peak MiB':>9} {'ms/resource':>12}")
    for r in rows:
        print(
            f"{r['models']:>16} {r['resources']:>10} {r['wall_s']:>8.1f} {r['peak_mib']:>9.0f} "
            f"{r['ms_per_resource']:>12.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
