"""Benchmark: the guardrails gate vs Checkov 3.3.30 on the same ~10,000-resource platform.

    .venv/bin/python tests/benchmarks/bench_guardrails.py [--resources 10000] [--skip-checkov]

Generates three synthesized stacks (dev/staging/prod) with a few planted violations, times the
engine in-process (load + evaluate, best of 5) and as the CLI `make check` runs (best of 3), then
times Checkov scanning the same directory. Checkov is installed only here, pinned, in its own
virtualenv (.bench/checkov-venv), never as a project dependency. Prints the figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from infra.guardrails import evaluate, load_policies  # noqa: E402
from infra.tfdoc import discover, load_paths  # noqa: E402
from tests.benchmarks.guardrails_platform import generate  # noqa: E402

CHECKOV_VERSION = "3.3.30"
CHECKOV_VENV = REPO / ".bench" / "checkov-venv"


def ensure_checkov() -> Path:
    exe = CHECKOV_VENV / "bin" / "checkov"
    if not exe.exists():
        print(f"installing checkov=={CHECKOV_VERSION} into {CHECKOV_VENV} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(CHECKOV_VENV)], check=True)
        pip = [str(CHECKOV_VENV / "bin" / "pip"), "install", "--quiet", f"checkov=={CHECKOV_VERSION}"]
        subprocess.run(pip, check=True)
    version = subprocess.run(
        [str(exe), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if version != CHECKOV_VERSION:
        raise SystemExit(f"{exe}: expected checkov {CHECKOV_VERSION}, found {version}; delete {CHECKOV_VENV}")
    return exe


def time_engine(root: Path, runs: int) -> tuple[float, object]:
    policies = load_policies(REPO / "policies")
    best, report = float("inf"), None
    for _ in range(runs):
        gc.collect()
        gc.disable()  # as the CLI does
        start = time.perf_counter()
        report = evaluate(load_paths(discover(root)), policies)
        best = min(best, time.perf_counter() - start)
        gc.enable()
    return best, report


def time_cli(root: Path, runs: int) -> tuple[float, int]:
    best, code = float("inf"), -1
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "infra.guardrails", "--root", str(root), "--format", "json"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        best, code = min(best, time.perf_counter() - start), proc.returncode
    return best, code


def time_checkov(exe: Path, root: Path) -> tuple[float, int, dict]:
    cmd = [str(exe), "-d", str(root / "cdktf.out"), "-o", "json", "--quiet", "--compact", "--skip-download"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=root)
    elapsed = time.perf_counter() - start
    try:
        doc = json.loads(proc.stdout)
    except json.JSONDecodeError:
        doc = {}
    reports = doc if isinstance(doc, list) else [doc]
    failed = [c for r in reports for c in r.get("results", {}).get("failed_checks", [])]
    summary = {
        "failed_checks": len(failed),
        "databricks_findings": sum(c.get("resource", "").startswith("databricks_") for c in failed),
        "passed_checks": sum(r.get("summary", {}).get("passed", 0) for r in reports),
        "parsing_errors": sum(r.get("summary", {}).get("parsing_errors", 0) for r in reports),
    }
    return elapsed, proc.returncode, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=10_000)
    parser.add_argument("--skip-checkov", action="store_true")
    args = parser.parse_args()

    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="guardrails-bench-") as tmp:
        root = Path(tmp)
        count, planted = generate(root, args.resources)
        size_mb = sum(p.stat().st_size for p in discover(root)) / 1e6
        engine_s, report = time_engine(root, 5)
        cli_s, cli_code = time_cli(root, 3)
        found = {(f.rule.id, f.env, f.address) for f in report.findings}
        caught = sum(p in found for p in planted)
        print(
            f"platform: {count} resources in 3 stacks, {size_mb:.1f} MB of cdk.tf.json, "
            f"{len(planted)} planted violations"
        )
        print(
            f"guardrails engine (load + evaluate, best of 5): {engine_s:.3f} s "
            f"({count / engine_s:,.0f} resources/s)"
        )
        print(
            f"guardrails CLI incl. interpreter start and imports (best of 3): {cli_s:.3f} s, exit {cli_code}"
        )
        print(
            f"guardrails findings: {len(report.findings)} ({caught}/{len(planted)} planted caught), "
            f"rules: {len(report.rules)}"
        )
        if args.skip_checkov:
            print(f"load average (1 min): {load_at_start:.1f} at the start, {os.getloadavg()[0]:.1f} now")
            return
        exe = ensure_checkov()
        ck_s, ck_code, ck = time_checkov(exe, root)
        print(
            f"checkov {CHECKOV_VERSION} (-d cdktf.out, same files): {ck_s:.1f} s, exit {ck_code}, "
            f"{ck['failed_checks']} failed / {ck['passed_checks']} passed checks, "
            f"{ck['databricks_findings']} Databricks findings, {ck['parsing_errors']} parsing errors"
        )
        print(f"speed-up vs checkov: {ck_s / cli_s:.0f}x (CLI wall), {ck_s / engine_s:.0f}x (engine)")
        verdict = {True: "met", False: "NOT met"}
        print(
            f"target < 1 s for 10k resources: engine {verdict[engine_s < 1]}, CLI {verdict[cli_s < 1]}; "
            f">= 20x checkov: {verdict[ck_s / cli_s >= 20]}"
        )
        print(
            f"load average (1 min): {load_at_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, "
            f"on {os.cpu_count()} cores"
        )


if __name__ == "__main__":
    main()
