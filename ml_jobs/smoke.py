"""``make smoke ENV=staging``: after a deploy, run the deployed jobs once and say how each task ended.

For every model of the environment it starts, through databricks-sdk, the ``train`` job's ``train`` task
on a small sample (job parameter ``sample_rows``: the version it registers never becomes the
challenger, see ``ml_jobs.training.train``) and the whole ``monitor`` job (predictions, monitor,
retention). Then it polls the runs, printing one progress line per poll, until every run has ended or
the time limit passes (the runs still going are then cancelled), and reports each task's result.

A model without a ``champion`` has nothing to monitor yet: its monitor job is not started, and the
report says so. The monitor may start the retraining job, as its scheduled runs do; that run is not
waited for.

``run-now`` carries an idempotency token made from ``--run-key`` (the workflow passes its run id and
attempt): a call retried after a server error, or a re-run of the step with the same key, starts no
second run (databricks-sdk ``jobs.run_now`` docstring). Server errors (5xx) are retried a bounded
number of times; the SDK retries what it considers transient itself.

Exit codes: 0 every started task succeeded, 1 a task did not succeed or a job is missing, 2 bad input,
3 infrastructure (the API kept failing, or the time limit passed), 4 a bug.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from databricks.sdk.errors import DatabricksError

from ml_jobs.errors import EXIT_BAD_INPUT, EXIT_BUG, EXIT_INFRA, EXIT_OK, EXIT_REFUSED
from mlops_spec.config import ENV_NAMES, ConfigError
from mlops_spec.naming import job_name

DEFAULT_SAMPLE_ROWS = 2000
TERMINAL = frozenset({"TERMINATED", "SKIPPED", "INTERNAL_ERROR"})
"""Run life-cycle states after which nothing changes (databricks-sdk ``jobs.RunLifeCycleState``)."""
MAX_TOKEN = 64
"""``run_now`` idempotency tokens are at most 64 characters (databricks-sdk ``jobs.run_now``)."""


class InfraFailure(RuntimeError):
    """The Jobs API kept failing after bounded retries."""


@dataclass(frozen=True)
class SmokeJob:
    model: str
    purpose: str
    job_name: str
    job_parameters: dict[str, str] | None = None
    only: list[str] | None = None
    """Task keys to run (``run_now``'s ``only``); None runs the whole job."""


@dataclass
class TaskState:
    key: str
    life_cycle: str
    result: str | None
    message: str = ""


@dataclass
class RunState:
    life_cycle: str
    result: str | None
    message: str = ""
    url: str | None = None
    tasks: list[TaskState] = field(default_factory=list)

    @property
    def ended(self) -> bool:
        return self.life_cycle in TERMINAL

    def succeeded(self) -> bool:
        ran = [t for t in self.tasks if t.result != "EXCLUDED"]
        return self.result == "SUCCESS" and all(t.result == "SUCCESS" for t in ran)


@dataclass
class Smoked:
    job: SmokeJob
    run_id: int | None = None
    state: RunState | None = None
    note: str = ""
    """Why the job was not started, or what happened to it besides its state (cancelled)."""
    skipped: bool = False
    """Not started on purpose (no champion to monitor): not a failure."""


# -- what to run ------------------------------------------------------------------------------------
def plan(env: str, models: Sequence[str], sample_rows: int) -> list[SmokeJob]:
    jobs = []
    for model in models:
        jobs.append(
            SmokeJob(
                model, "train", job_name(env, model, "train"), {"sample_rows": str(sample_rows)}, ["train"]
            )
        )
        jobs.append(SmokeJob(model, "monitor", job_name(env, model, "monitor")))
    return jobs


def token(run_key: str, env: str, job: SmokeJob) -> str:
    """One token per (smoke run, environment, model, job): a retried start is the same run."""
    digest = hashlib.sha256(f"{run_key}|{env}|{job.model}|{job.purpose}".encode()).hexdigest()[:20]
    return f"smoke-{env}-{job.purpose}-{digest}"[:MAX_TOKEN]


# -- the Jobs API with bounded retries --------------------------------------------------------------
@dataclass
class Api:
    workspace: Any
    attempts: int = 4
    backoff_seconds: float = 2.0
    sleep: Callable[[float], None] = time.sleep

    def call(self, what: str, fn: Callable[[], Any]) -> Any:
        """``fn()``, retried on server errors (5xx); client errors go to the caller at once."""
        from databricks.sdk.errors import DeadlineExceeded, InternalError, TemporarilyUnavailable

        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except (InternalError, TemporarilyUnavailable, DeadlineExceeded) as err:
                if attempt == self.attempts:
                    raise InfraFailure(f"{what}: failed {attempt} times, last: {err}") from err
                print(f"[smoke] {what}: {err}; retrying", file=sys.stderr, flush=True)
                self.sleep(self.backoff_seconds * attempt)
            except TimeoutError as err:  # the SDK's own retries of connection errors ran out
                raise InfraFailure(f"{what}: {err}") from err
        raise AssertionError("unreachable")

    def job_id(self, name: str) -> int | None:
        found = self.call(
            f"list jobs named {name!r}",
            lambda: [
                j for j in self.workspace.jobs.list(name=name) if j.settings and j.settings.name == name
            ],
        )
        if len(found) > 1:
            raise InfraFailure(f"job name {name!r} is ambiguous: job ids {[j.job_id for j in found]}")
        return int(found[0].job_id) if found else None

    def has_champion(self, full_name: str) -> bool:
        from databricks.sdk.errors import NotFound

        try:
            info = self.call(
                f"read {full_name}",
                lambda: self.workspace.registered_models.get(full_name, include_aliases=True),
            )
        except NotFound:
            return False
        return any(a.alias_name == "champion" for a in info.aliases or [])

    def start(self, job_id: int, job: SmokeJob, idempotency_token: str) -> int:
        waiter = self.call(
            f"run-now {job.job_name!r}",
            lambda: self.workspace.jobs.run_now(
                job_id=job_id,
                idempotency_token=idempotency_token,
                job_parameters=job.job_parameters,
                only=job.only,
            ),
        )
        return int(waiter.response.run_id)

    def state(self, run_id: int) -> RunState:
        run = self.call(f"get run {run_id}", lambda: self.workspace.jobs.get_run(run_id))
        return RunState(
            *_state(run.state),
            url=run.run_page_url,
            tasks=[TaskState(t.task_key, *_state(t.state)) for t in run.tasks or []],
        )

    def cancel(self, run_id: int) -> None:
        self.call(f"cancel run {run_id}", lambda: self.workspace.jobs.cancel_run(run_id))


def _state(state: Any) -> tuple[str, str | None, str]:
    if state is None:
        return "PENDING", None, ""
    life = state.life_cycle_state.value if state.life_cycle_state else "PENDING"
    result = state.result_state.value if state.result_state else None
    return life, result, state.state_message or ""


# -- start, wait, report ----------------------------------------------------------------------------
def start_all(api: Api, env: str, catalog: str, jobs: Sequence[SmokeJob], run_key: str) -> list[Smoked]:
    out = []
    for job in jobs:
        smoked = Smoked(job)
        out.append(smoked)
        if job.purpose == "monitor" and not api.has_champion(f"{catalog}.models.{job.model}"):
            smoked.note = "not started: the model has no champion yet, so there is nothing to monitor"
            smoked.skipped = True
            continue
        try:
            job_id = api.job_id(job.job_name)
            if job_id is None:
                smoked.note = "job not found in the workspace (was the stack applied?)"
                continue
            smoked.run_id = api.start(job_id, job, token(run_key, env, job))
        except DatabricksError as err:  # refused (permission, bad parameter): a finding about the deploy
            smoked.note = f"could not start: {type(err).__name__}: {err}"
    return out


def progress(elapsed: float, runs: Sequence[Smoked]) -> str:
    parts = []
    for s in runs:
        if s.run_id is None:
            continue
        st = s.state
        if st is None:
            parts.append(f"{s.job.model}/{s.job.purpose} starting")
            continue
        tasks = ", ".join(f"{t.key} {t.result or t.life_cycle}" for t in st.tasks)
        parts.append(f"{s.job.model}/{s.job.purpose} {st.result or st.life_cycle} ({tasks})")
    minutes, seconds = divmod(int(elapsed), 60)
    return f"[smoke {minutes}m{seconds:02d}s] " + "; ".join(parts)


def wait(
    api: Api,
    runs: Sequence[Smoked],
    timeout_seconds: float,
    poll_seconds: float,
    clock: Callable[[], float] = time.monotonic,
    out: Callable[[str], None] = print,
) -> bool:
    """Poll until every started run has ended; False when the time limit passed (the rest cancelled)."""
    started = clock()
    while True:
        for s in runs:
            if s.run_id is not None and not (s.state and s.state.ended):
                s.state = api.state(s.run_id)
        out(progress(clock() - started, runs))
        if all(s.run_id is None or (s.state and s.state.ended) for s in runs):
            return True
        if clock() - started + poll_seconds > timeout_seconds:
            break
        api.sleep(poll_seconds)
    for s in runs:
        if s.run_id is not None and not (s.state and s.state.ended):
            api.cancel(s.run_id)
            still = s.state.life_cycle if s.state else "PENDING"
            s.note = f"cancelled: still {still} after {timeout_seconds:.0f} s"
    return False


def report(runs: Sequence[Smoked], in_time: bool) -> tuple[int, str]:
    lines, failed = [], False
    for s in runs:
        head = f"{s.job.model}/{s.job.purpose} ({s.job.job_name})"
        if s.run_id is None:
            failed |= not s.skipped
            lines.append(f"{'SKIP' if s.skipped else 'FAIL'} {head}: {s.note}")
            continue
        st = s.state
        ok = bool(st and st.ended and st.succeeded())
        failed |= not ok
        outcome = (st.result or st.life_cycle) if st else "unknown"
        lines.append(
            f"{'ok  ' if ok else 'FAIL'} {head}: run {s.run_id} {outcome}"
            + (f" {st.url}" if st and st.url else "")
        )
        for t in st.tasks if st else []:
            message = f": {t.message}" if t.message and t.result != "SUCCESS" else ""
            lines.append(f"       task {t.key}: {t.result or t.life_cycle}{message}")
        if s.note:
            lines.append(f"       {s.note}")
    code = EXIT_INFRA if not in_time else (EXIT_REFUSED if failed else EXIT_OK)
    return code, "\n".join(lines)


def smoke(
    api: Api,
    env: str,
    catalog: str,
    models: Sequence[str],
    *,
    sample_rows: int,
    timeout_seconds: float,
    poll_seconds: float,
    run_key: str,
    clock: Callable[[], float] = time.monotonic,
    out: Callable[[str], None] = print,
) -> int:
    runs = start_all(api, env, catalog, plan(env, models, sample_rows), run_key)
    try:
        in_time = wait(api, runs, timeout_seconds, poll_seconds, clock, out)
    except InfraFailure:
        out(report(runs, in_time=False)[1])  # what was started, and its last known state
        raise
    code, text = report(runs, in_time)
    out(text)
    if not in_time:
        out(f"[smoke] time limit of {timeout_seconds:.0f} s passed: the runs still going were cancelled")
    return code


# -- command line -----------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="smoke", description=__doc__.split("\n\n")[0])
    p.add_argument("--env", required=True, choices=ENV_NAMES)
    p.add_argument("--model", action="append", default=[], help="Only this model (repeatable; default: all).")
    p.add_argument("--config-dir", help="Folder with models.yaml and <env>.yaml (default: see ml_jobs.spec).")
    p.add_argument("--host", help="Workspace URL (default: DATABRICKS_HOST, else the env's workspace.host).")
    p.add_argument("--sample-rows", type=int, default=DEFAULT_SAMPLE_ROWS, help="Rows the train task uses.")
    p.add_argument("--timeout-minutes", type=float, default=60.0, help="Time limit for all runs (60).")
    p.add_argument("--poll-seconds", type=float, default=30.0, help="Seconds between progress lines (30).")
    p.add_argument("--run-key", default=None, help="Makes the idempotency tokens (default: random).")
    p.add_argument("--api-retry-seconds", type=int, default=120, help="How long the SDK retries (120).")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from ml_jobs.spec import config_dir
    from mlops_spec.config import load_environment, load_models

    try:
        if args.sample_rows <= 0:
            raise ConfigError.single("--sample-rows", (), "must be > 0", args.sample_rows)
        directory = config_dir(args.config_dir)
        env_cfg = load_environment(args.env, directory)
        known = [m.name for m in load_models(args.env, directory)]
        unknown = sorted(set(args.model) - set(known))
        if unknown:
            raise ConfigError.single("--model", (), "unknown model", unknown[0], ", ".join(known))
    except ConfigError as exc:
        print(f"config error:\n{exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    host = args.host or (None if os.environ.get("DATABRICKS_HOST") else env_cfg.workspace.host)
    try:
        from ml_jobs.errors import BadInput
        from ml_jobs.serving.job import workspace_client

        api = Api(workspace_client(host, args.api_retry_seconds))
        return smoke(
            api,
            args.env,
            env_cfg.catalog.name,
            args.model or known,
            sample_rows=args.sample_rows,
            timeout_seconds=args.timeout_minutes * 60,
            poll_seconds=args.poll_seconds,
            run_key=args.run_key or uuid.uuid4().hex,
            out=lambda line: print(line, flush=True),
        )
    except BadInput as exc:
        print(f"bad input: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (InfraFailure, DatabricksError) as exc:
        print(f"infrastructure: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INFRA
    except Exception:  # the API answered something this code did not expect
        import traceback

        traceback.print_exc()
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
