"""Run ML jobs as real processes, kill them with SIGKILL, and read back the world they leave.

What it proves: for each job (``python -m ml_jobs.<job>``, exactly as a job cluster runs it, on
MLflow over SQLite and Delta tables through deltalake), a kill at any declared step boundary or at
a random moment, followed by a plain re-run, leaves the world satisfying the invariants below and
equal to the world a fault-free run leaves; two copies of a job started at once do too.
What it does not prove: Databricks' own behaviour (Unity Catalog registry, Spark MERGE, job
queueing); those paths follow the documented rules cited in ``ml_jobs.runtime`` and
``ml_jobs.registry.promotion`` but run here only on the local stores.

Boundaries: ``ml_jobs.faults`` marks every world-changing call; a fault-free run with
``MLOPS_FAULT_TRACE`` lists them, and ``MLOPS_FAULT_AT=<name>@<n>`` kills the job at one.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
MODEL = "marketing_churn_gbm"
NAME = f"mlops_dev.models.{MODEL}"
# Small and fast, the same in every run of a scenario: the reference and the re-runs must agree.
COMMON = (
    "--set", "training.n_trials=1",
    "--set", "validation.max_latency_ms=60000",
    "--set", "data.min_training_rows=200",
    "--set", "promotion.min_improvement=0",
    "--set", "monitoring.consecutive_windows=2",
    "--set", "monitoring.min_samples=300",
    "--set", "data.training_window_days=30",
    "--set", "retraining.holdout_days=1",
    "--set", "retraining.min_holdout_rows=100",
)  # fmt: skip
FAST_PARAMS = ("--param", "max_iter=30", "--param", "max_leaf_nodes=8")
VOLATILE = {
    "at", "identity", "report", "token", "recorded_at", "decided_at", "mlflow_run_id", "source_run_id",
    "raw", "last_retrain_at",
}  # fmt: skip
"""Fields that differ between two clean runs (clocks, ids, who ran it): not part of 'the world'."""


@dataclass
class Run:
    job: str
    code: int | None
    """Exit code; None when we killed it."""
    out: str
    err: str
    seconds: float

    @property
    def killed(self) -> bool:
        return self.code is None or self.code == -signal.SIGKILL

    def result(self) -> dict[str, Any]:
        lines = [line for line in self.out.strip().splitlines() if line.startswith("{")]
        return json.loads(lines[-1]) if lines else {}


def job_env(root: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLOPS_", "MLFLOW_", "DATABRICKS_", "PYTEST_"))
    }
    env.update(
        {
            "MLOPS_LOCAL_ROOT": str(root),
            "MLOPS_TRACKING_RETRIES": "2",
            "MLOPS_TRACKING_BACKOFF_SECONDS": "0.05",
            "MLOPS_LOG_LEVEL": "WARNING",
            # One code version for the whole session: a commit made while it runs must not change keys.
            "MLOPS_GIT_COMMIT": "chaos-session",
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
            "OMP_NUM_THREADS": "1",
            "PYTHONWARNINGS": "ignore",
            "PYTHONPATH": str(REPO),
            "DATABRICKS_CONFIG_FILE": str(root / "no-databrickscfg"),
        }
    )
    env.update(extra or {})
    return env


def command(job: str, args: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", f"ml_jobs.{job}", "--model", MODEL, "--env", "dev", *COMMON, *args]


class Proc:
    """A running job: a child of the launcher (fork) or of this process (spawn)."""

    def __init__(self, job: str, pid: int, wait: Any, out: Path, err: Path) -> None:
        self.job, self.pid, self._wait, self.out, self.err = job, pid, wait, out, err
        self.started = time.monotonic()

    def wait(self, timeout: float | None = None) -> int:
        return self._wait(timeout)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    def finish(self, timeout: float = 900) -> Run:
        returncode = self.wait(timeout)
        code = None if returncode == -signal.SIGKILL else returncode
        out, err = self.out.read_text(errors="replace"), self.err.read_text(errors="replace")
        return Run(self.job, code, out, err, time.monotonic() - self.started)


class Launcher:
    """The fork server of ``launcher.py``: one Python with the jobs imported, forking per run."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("launcher.py"))], cwd=REPO, env=job_env(REPO),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
        )  # fmt: skip
        self.lock = threading.Lock()
        self.pids: dict[str, queue.Queue] = {}
        self.exits: dict[str, queue.Queue] = {}
        ready = json.loads(self.proc.stdout.readline())
        assert ready == {"ready": True}, ready
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            message = json.loads(line)
            target = self.pids if "pid" in message else self.exits
            target[message["id"]].put(message.get("pid", message.get("exit")))

    def start(self, job: str, argv: list[str], env: dict[str, str], out: Path, err: Path) -> Proc:
        request_id = uuid.uuid4().hex
        self.pids[request_id], self.exits[request_id] = queue.Queue(), queue.Queue()
        request = {"id": request_id, "job": job, "argv": argv, "env": env, "cwd": str(REPO), "out": str(out),
                   "err": str(err)}  # fmt: skip
        with self.lock:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
        pid = self.pids[request_id].get(timeout=60)
        exits = self.exits[request_id]

        def wait(timeout: float | None) -> int:
            try:
                code = exits.get(timeout=timeout)
            except queue.Empty:
                raise subprocess.TimeoutExpired(job, timeout) from None
            exits.put(code)  # a second wait() answers the same
            return code

        return Proc(job, pid, wait, out, err)


_launcher: list[Launcher] = []
_files = itertools.count()


def launcher() -> Launcher | None:
    """The shared fork server, unless ``CHAOS_LAUNCH=spawn`` asks for a fresh interpreter per run."""
    if os.environ.get("CHAOS_LAUNCH") == "spawn":
        return None
    if not _launcher:
        _launcher.append(Launcher())
    return _launcher[0]


def start(job: str, args: Sequence[str], root: Path, env: Mapping[str, str] | None = None) -> Proc:
    """Start ``python -m ml_jobs.<job>`` (forked from the launcher, or spawned) on the world ``root``."""
    argv = command(job, args)[3:]
    n = next(_files)
    out, err = root.parent / f".{root.name}-{job}-{n}.out", root.parent / f".{root.name}-{job}-{n}.err"
    fork = launcher()
    if fork is not None:
        return fork.start(job, argv, job_env(root, env), out, err)
    with out.open("w") as o, err.open("w") as e:
        proc = subprocess.Popen(command(job, args), cwd=REPO, env=job_env(root, env), stdout=o, stderr=e)

    def wait(timeout: float | None) -> int:
        return proc.wait(timeout=timeout)

    return Proc(job, proc.pid, wait, out, err)


def run_job(
    job: str,
    args: Sequence[str],
    root: Path,
    *,
    fault_at: str | None = None,
    trace: Path | None = None,
    kill_after: float | None = None,
    env: Mapping[str, str] | None = None,
) -> Run:
    """Run a job to its end, or kill it at ``fault_at`` (a boundary) or after ``kill_after`` seconds."""
    extra = dict(env or {})
    if fault_at:
        extra["MLOPS_FAULT_AT"] = fault_at
    if trace:
        extra["MLOPS_FAULT_TRACE"] = str(trace)
    proc = start(job, args, root, extra)
    if kill_after is not None:
        try:
            proc.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.finish()


def boundaries(trace: Path) -> list[str]:
    """``name@n`` of every boundary a traced run passed, in order."""
    seen: Counter[str] = Counter()
    out = []
    for name in trace.read_text().splitlines():
        seen[name] += 1
        out.append(f"{name}@{seen[name]}")
    return out


def expect_ok(run: Run, codes: Sequence[int] = (0,)) -> Run:
    assert run.code in codes, f"{run.job} exited {run.code}:\n{run.err[-4000:]}"
    return run


# -- the world ----------------------------------------------------------------------------------------
def _client(root: Path) -> Any:
    from mlflow import MlflowClient

    uri = f"sqlite:///{root / 'mlflow.db'}?timeout=60"
    return MlflowClient(uri, uri)


def _tables(root: Path) -> dict[str, Any]:
    from deltalake import DeltaTable

    out = {}
    for log in sorted((root / "tables").glob("*/*/_delta_log")):
        table = log.parent
        out[f"{table.parent.name}.{table.name}"] = DeltaTable(str(table)).to_pandas()
    return out


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, float):
        return "nan" if value != value else round(value, 6)  # NaN != NaN would make equal worlds differ
    return value


def _record(text: str) -> Any:
    try:
        return _clean(json.loads(text))
    except (json.JSONDecodeError, TypeError):
        return text


def registry(root: Path) -> dict[str, Any]:
    """Versions (tags, records without clocks), aliases and which version is described as champion."""
    from ml_jobs.registry import client as reg

    client = _client(root)
    out: dict[str, Any] = {}
    for model in client.search_registered_models():
        versions = {}
        for mv in client.search_model_versions(f"name='{model.name}'"):
            mv = client.get_model_version(model.name, mv.version)
            tags = {
                k: (_record(v) if k in reg.RECORDS else v) for k, v in mv.tags.items() if k not in VOLATILE
            }
            card = (mv.description or "").splitlines()
            status = re.sub(r"\d{4}-\d\d-\d\dT[\d:+.]+", "<time>", card[2]) if len(card) > 2 else ""
            versions[str(mv.version)] = {"tags": tags, "card_status": status}
        out[model.name] = {"versions": versions, "aliases": reg.aliases(client, model.name)}
    return out


def tables_state(root: Path) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows without clock columns, sorted: a multiset, comparable across runs."""
    out = {}
    for name, frame in _tables(root).items():
        frame = frame.drop(columns=[c for c in frame.columns if c in VOLATILE])
        if "state" in frame.columns:  # the monitor state: its JSON without clocks
            frame = frame.assign(state=[json.dumps(_record(s), sort_keys=True) for s in frame["state"]])
            frame = frame.drop(columns=["state_id"])
        rows = [_clean({k: _plain(v) for k, v in r.items()}) for r in frame.to_dict("records")]
        out[name] = sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))
    return out


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def world(root: Path) -> dict[str, Any]:
    return {"registry": registry(root), "tables": tables_state(root)}


# -- invariants ---------------------------------------------------------------------------------------
KEYS = {
    "features.churn_training": ("customer_id", "event_ts"),
    "features.churn_events": ("customer_id", "event_ts"),
    "features.customer_features": ("customer_id", "event_ts"),
    "features.churn_labels": ("customer_id", "event_ts"),
    f"inference_logs.{MODEL}_predictions": ("request_id",),
    f"inference_logs.{MODEL}_labels": ("request_id", "label_timestamp"),
    f"monitoring.{MODEL}_drift_metrics": (
        "window_start", "granularity", "drift_type", "column", "metric", "model_version",
    ),
    f"monitoring.{MODEL}_monitor_state": ("state_id",),
    f"monitoring.{MODEL}_retrain_decisions": ("retrain_id",),
    f"monitoring.{MODEL}_champion_moves": ("seq",),
}  # fmt: skip


def violations(root: Path) -> list[str]:
    """What is wrong with the world under ``root`` (empty: every invariant holds)."""
    from ml_jobs.registry import client as reg

    found: list[str] = []
    tables = _tables(root)
    for name, frame in tables.items():
        keys = KEYS.get(name)
        if keys is None:
            found.append(f"table {name} has no declared natural key")
            continue
        dupes = frame[frame.duplicated(list(keys), keep=False)]
        if len(dupes):
            found.append(f"{name}: {len(dupes)} rows share a natural key {keys}")
    moves = tables.get(f"monitoring.{MODEL}_champion_moves")
    if moves is not None and len(moves):
        if moves["decision"].duplicated().any():
            found.append("a decision was claimed twice in the champion ledger")
        seqs = sorted(moves["seq"].tolist())
        if seqs != list(range(1, len(seqs) + 1)):
            found.append(f"champion ledger sequence is not 1..n: {seqs}")
    decisions = tables.get(f"monitoring.{MODEL}_retrain_decisions")
    if decisions is not None and moves is not None:
        promoted = set(decisions.loc[decisions["decision"] == "promoted", "retrain_id"])
        claimed = {d.removeprefix("retrain:") for d in moves["decision"] if d.startswith("retrain:")}
        if promoted - claimed:
            found.append(
                f"retrainings recorded as promoted without a claimed promotion: {promoted - claimed}"
            )
    found += _registry_violations(root, moves, reg)
    found += _state_violations(tables)
    found += _running_runs(root)
    return found


def _registry_violations(root: Path, moves: Any, reg: Any) -> list[str]:
    client = _client(root)
    found = []
    claims = set()
    if moves is not None:
        claims = {(int(r["seq"]), str(r["to_version"])) for r in moves.to_dict("records")}
    for model in client.search_registered_models():
        aliases = reg.aliases(client, model.name)
        for alias in (reg.CHAMPION, reg.PREVIOUS_CHAMPION):
            if alias in aliases:
                mv = client.get_model_version(model.name, aliases[alias])
                status = (reg.record(mv, reg.TAG_VALIDATION) or {}).get("status")
                if status != "passed":
                    found.append(f"{alias} -> v{mv.version} whose recorded validation is {status}")
        keys: Counter[str] = Counter()
        for mv in client.search_model_versions(f"name='{model.name}'"):
            mv = client.get_model_version(model.name, mv.version)
            keys[(mv.tags or {}).get(reg.TAG_IDEMPOTENCY, f"none-{mv.version}")] += 1
            promo = reg.record(mv, reg.TAG_PROMOTION)
            if promo and (int(promo.get("seq", -1)), str(mv.version)) not in claims:
                found.append(f"v{mv.version} carries a promotion record no ledger claim backs: {promo}")
        found += [f"{n} versions share idempotency key {k}" for k, n in keys.items() if n > 1]
    return found


def _state_violations(tables: Mapping[str, Any]) -> list[str]:
    states = tables.get(f"monitoring.{MODEL}_monitor_state")
    if states is None or not len(states):
        return []
    decisions = tables.get(f"monitoring.{MODEL}_retrain_decisions")
    ran = set(decisions["retrain_id"]) if decisions is not None else set()
    parsed = [json.loads(s) for s in states.sort_values("recorded_at")["state"]]
    latest_pending = parsed[-1].get("pending_request")
    found = []
    for state in parsed:
        if state.get("last_request") and state["last_request"] not in ran:
            found.append(
                f"state says retraining {state['last_request']} started, but it has no decision record"
            )
        pending = state.get("pending_request")
        if pending and pending not in ran and pending != latest_pending:
            found.append(f"retraining {pending} was pending and is now neither run nor pending")
    return found


def _running_runs(root: Path) -> list[str]:
    client = _client(root)
    found = []
    for exp in client.search_experiments():
        for run in client.search_runs([exp.experiment_id], "attributes.status = 'RUNNING'"):
            found.append(f"run {run.info.run_id} ({run.info.run_name}) is RUNNING with no live process")
    return found
