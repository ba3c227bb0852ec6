"""Every wheel task accepts the command line Databricks builds for it.

Databricks passes a Python wheel task's ``named_parameters`` as ``--<key>=<value>`` and pushes every
job parameter of the job down to it the same way, a job parameter winning over a task parameter with
the same key (``mlops_spec.job_parameters`` cites the rule).

What it proves: for every job of every synthesized environment, each task's entry point parses that
command line (job parameters at their defaults) and reaches its own code, where the test stops it.
What it does not prove: how a real cluster quotes values, or what the job then does.
"""

from __future__ import annotations

import importlib
import json
import tomllib
from pathlib import Path

import pytest

from mlops_spec.job_parameters import JOB_PARAMETERS, accept_job_parameters, pushed_down


class Parsed(BaseException):
    """Raised where a job starts its work (``cli.run``): the command line was accepted."""


def wheel_tasks(synth_dir: Path) -> list[tuple[str, str, str, list[str]]]:
    """(env, job name, entry point, argv) of every wheel task of every environment."""
    out = []
    for stack in sorted((synth_dir / "stacks").iterdir()):
        doc = json.loads((stack / "cdk.tf.json").read_text())
        for job in doc.get("resource", {}).get("databricks_job", {}).values():
            job_params = {p["name"]: p["default"] for p in job.get("parameter", [])}
            for task in job["task"]:
                named = {**task["python_wheel_task"].get("named_parameters", {}), **job_params}
                argv = [f"--{k}={v}" for k, v in named.items()]
                out.append((stack.name, job["name"], task["python_wheel_task"]["entry_point"], argv))
    return out


def entry_points(repo_root: Path) -> dict[str, tuple[str, str]]:
    """Entry point name -> (module, function) of the wheel's console scripts."""
    scripts = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]["scripts"]
    return {name: (target.partition(":")[0], target.partition(":")[2]) for name, target in scripts.items()}


def test_every_task_accepts_its_named_and_pushed_down_parameters(
    synth_dir: Path, repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ml_jobs import cli

    def stop(job: object) -> None:
        raise Parsed(job)

    # Every entry point parses its command line, then hands its job to cli.run: stopped there, no job
    # runs (the per-environment inventory builds no cli.context).
    monkeypatch.setattr(cli, "run", stop)
    modules = entry_points(repo_root)
    tasks = wheel_tasks(synth_dir)
    assert {job for _, job, _, _ in tasks if "retrain" in job}, "no retraining job synthesized"
    for env, job, entry_point, argv in tasks:
        module, function = modules[entry_point]
        main = getattr(importlib.import_module(module), function)
        with pytest.raises(Parsed):
            main(argv)
        assert env in job


def test_the_jobs_declare_the_parameters_of_the_registry(synth_dir: Path) -> None:
    declared = {}
    for stack in (synth_dir / "stacks").iterdir():
        doc = json.loads((stack / "cdk.tf.json").read_text())
        for job in doc.get("resource", {}).get("databricks_job", {}).values():
            purpose = job["name"].rsplit(": ", 1)[1]
            declared[purpose] = {p["name"]: p["default"] for p in job.get("parameter", [])}
    assert {k: v for k, v in declared.items() if v} == JOB_PARAMETERS


def test_a_parameter_the_entry_point_does_not_use_is_accepted_and_ignored() -> None:
    import argparse

    p = argparse.ArgumentParser()
    p.add_argument("--reason")
    accept_job_parameters(p, own=("reason",))
    args = p.parse_args(["--reason=drift", "--sample_rows=5", "--trigger=drift"])
    assert args.reason == "drift"
    assert not {name for name in vars(args) if name in pushed_down() and name != "reason"}

