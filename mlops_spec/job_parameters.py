"""The job parameters the stacks declare, and what every wheel task must therefore accept.

Databricks pushes every job parameter down to each task that takes key-value parameters, Python wheel
tasks with keyword arguments (``named_parameters``) included, where it becomes ``--<name>=<value>`` on
the entry point's command line; a job parameter also wins over a task parameter with the same key
(Databricks docs, "Configure task parameters" and "Configure job parameters: job parameter pushdown",
https://docs.databricks.com/aws/en/jobs/job-parameters; the ``named_parameters`` form is the
databricks-sdk ``jobs.PythonWheelTask`` docstring). So a task whose entry point does not accept a
parameter of its job stops at argument parsing with exit 2, and every entry point that runs in a job
accepts all of them: the ones it uses as options, the others hidden and ignored.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable

JOB_PARAMETERS: dict[str, dict[str, str]] = {
    # A run with sample_rows > 0 trains on that many rows and registers a version that never becomes
    # the challenger (make smoke); 0, the default, trains on the whole table.
    "train": {"sample_rows": "0"},
    # Set by the monitor's run_now (ml_jobs.trigger); a run started by hand keeps the defaults. The
    # request id is the monitor's pending request (its run_now token); empty = retrain derives one.
    "retrain": {"reason": "manual", "trigger": "manual", "request_id": ""},
}
"""Job purpose (``infra.constructs.ml_model``) -> parameter name -> default."""


def pushed_down() -> list[str]:
    """Every job parameter of every job, sorted."""
    return sorted({name for params in JOB_PARAMETERS.values() for name in params})


def accept_job_parameters(parser: argparse.ArgumentParser, own: Iterable[str] = ()) -> None:
    """Accept the job parameters this entry point does not define itself (``own``) and ignore them."""
    mine = set(own)
    for name in pushed_down():
        if name not in mine:
            parser.add_argument(f"--{name}", dest=f"_pushed_down_{name}", help=argparse.SUPPRESS)
