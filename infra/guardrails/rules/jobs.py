"""Jobs: run controls every scheduled workload needs, and how often GPU jobs may fire."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from infra.guardrails.params import EnvParams
from infra.guardrails.rules import Violation, rule
from infra.guardrails.rules.compute import effective, is_gpu_policy
from infra.guardrails.stack import StackIndex, as_number, block, job_clusters
from infra.tfdoc import Resource
from mlops_spec.config.cron import CronError
from mlops_spec.config.cron import parse as parse_cron

PERIODIC_UNITS = {"HOURS": 3600, "DAYS": 86_400, "WEEKS": 604_800}
# File-arrival and table-update triggers fire at most once per min_time_between_triggers_seconds;
# unset, they fire as often as the trigger polls (about once a minute).
TRIGGER_POLL_SECONDS = 60


@rule("DBX018", "job_max_timeout_seconds", "job_max_concurrent_runs")
def run_controls(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    for job in index.of("databricks_job"):
        timeout = as_number(job.values.get("timeout_seconds"))
        if timeout is None or not 0 < timeout <= params.job_max_timeout_seconds:
            yield Violation(
                job,
                f"timeout_seconds {job.values.get('timeout_seconds')!r}; "
                f"allowed 1..{params.job_max_timeout_seconds}",
            )
        runs = as_number(job.values.get("max_concurrent_runs"))
        if runs is None or not 1 <= runs <= params.job_max_concurrent_runs:
            yield Violation(
                job,
                f"max_concurrent_runs {job.values.get('max_concurrent_runs')!r}; "
                f"allowed 1..{params.job_max_concurrent_runs}",
            )
        emails = block(job.values, "email_notifications").get("on_failure")
        hooks = block(job.values, "webhook_notifications").get("on_failure")
        if not emails and not hooks:
            yield Violation(job, "nobody is notified on failure (email_notifications.on_failure)")


def _gpu(index: StackIndex, job: Resource, params: EnvParams) -> str | None:
    """Why a job runs on GPUs (a cluster under the GPU policy or on a GPU node type), or None."""
    for cluster in job_clusters(job):
        policy = index.policy_of(cluster)
        if policy is not None and is_gpu_policy(index, policy, params):
            return f"{cluster.label} uses the GPU policy '{policy.name}'"
        node = effective(cluster, policy, "node_type_id")
        if node in params.gpu_node_types:
            return f"{cluster.label} runs on GPU node type {node!r}"
    return None


def _paused(spec: dict[str, Any]) -> bool:
    return str(spec.get("pause_status", "")).upper() == "PAUSED"


def fastest_firing(job: Resource) -> tuple[float | None, str]:
    """(shortest seconds between two runs the job's triggers allow, how it is triggered).

    None when nothing starts it on its own (run by hand or by another job). Paused triggers do not
    fire. Raises CronError for a schedule that is not a Quartz cron.
    """
    found: list[tuple[float, str]] = []
    continuous = block(job.values, "continuous")
    if job.values.get("continuous") is not None and not _paused(continuous):
        found.append((0, "continuous: a new run starts as soon as one ends"))
    schedule = block(job.values, "schedule")
    cron = schedule.get("quartz_cron_expression")
    if isinstance(cron, str) and not _paused(schedule):
        found.append((parse_cron(cron).min_interval_seconds(), f"schedule {cron!r}"))
    trigger = block(job.values, "trigger")
    if trigger and not _paused(trigger):
        periodic = block(trigger, "periodic")
        if periodic:
            unit = PERIODIC_UNITS.get(str(periodic.get("unit", "")).upper(), 0)
            seconds = (as_number(periodic.get("interval")) or 0) * unit
            found.append(
                (seconds, f"trigger.periodic every {periodic.get('interval')} {periodic.get('unit')}")
            )
        for kind in ("file_arrival", "table_update"):
            spec = block(trigger, kind)
            if spec:
                seconds = as_number(spec.get("min_time_between_triggers_seconds")) or TRIGGER_POLL_SECONDS
                found.append((seconds, f"trigger.{kind} (at most every {seconds:g} s)"))
    return min(found) if found else (None, "")


@rule("DBX111", "gpu_job_min_interval_minutes", "gpu_policy_name_pattern", "gpu_node_types")
def gpu_schedule(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    limit = params.gpu_job_min_interval_minutes * 60
    for job in index.of("databricks_job"):
        gpu = _gpu(index, job, params)
        if gpu is None:
            continue
        try:
            seconds, how = fastest_firing(job)
        except CronError as exc:
            yield Violation(job, f"GPU job ({gpu}) with a schedule that is not a Quartz cron: {exc}")
            continue
        if seconds is not None and seconds < limit:
            yield Violation(
                job,
                f"GPU job ({gpu}) may start every {seconds / 60:g} min ({how}); "
                f"at most once per {params.gpu_job_min_interval_minutes} min",
            )
