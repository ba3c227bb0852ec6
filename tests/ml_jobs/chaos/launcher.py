"""A launcher that imports the jobs once and forks one process per job run (a zygote).

Starting Python and importing MLflow, scikit-learn, pyarrow and deltalake costs seconds per run;
the chaos tests start hundreds of runs. Each forked child is a separate process with its own
environment, working directory, stdout and stderr, killed with SIGKILL like any other; it runs the
entry point's ``main`` exactly as ``python -m ml_jobs.<job>`` would. Nothing is used before the
fork (no store, no thread pool, no Delta runtime), so the child starts from a clean state.

Protocol (JSON lines): stdin ``{"id", "job", "argv", "env", "cwd", "out", "err"}``; stdout
``{"id", "pid"}`` once forked, ``{"id", "exit"}`` when the child ended (negative: killed by that
signal).
"""

from __future__ import annotations

import importlib
import io
import json
import os
import sys
import threading

JOBS = (
    "train",
    "validate",
    "promote",
    "approve",
    "rollback",
    "monitor",
    "retrain",
    "deploy",
    "generate_data",
)
_lock = threading.Lock()


def _say(message: dict) -> None:
    with _lock:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


def _child(request: dict, main) -> None:  # never returns
    code = 4
    try:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        for fd, path in ((1, request["out"]), (2, request["err"])):
            target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(target, fd)
            os.close(target)
        # Fresh streams: the launcher's own may hold half a line written when it forked.
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), line_buffering=True)
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), line_buffering=True)
        sys.argv = [f"ml_jobs.{request['job']}", *request["argv"]]
        code = main(request["argv"])
    except SystemExit as exc:  # argparse
        code = exc.code if isinstance(exc.code, int) else 2
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code if isinstance(code, int) else 4)


def _wait(request_id: str, pid: int) -> None:
    _, status = os.waitpid(pid, 0)
    _say({"id": request_id, "exit": os.waitstatus_to_exitcode(status)})


def serve() -> None:
    mains = {job: importlib.import_module(f"ml_jobs.{job}").main for job in JOBS}
    for module in ("ml_jobs.training.train", "ml_jobs.validation.validate", "ml_jobs.monitoring.job",
                   "ml_jobs.retraining.retrain", "ml_jobs.registry.promotion", "ml_jobs.serving.job",
                   "ml_jobs.serving.model", "optuna", "deltalake", "sklearn.ensemble"):  # fmt: skip
        importlib.import_module(module)
    _say({"ready": True})
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request, mains[request["job"]])
        _say({"id": request["id"], "pid": pid})
        threading.Thread(target=_wait, args=(request["id"], pid), daemon=True).start()


if __name__ == "__main__":
    serve()
