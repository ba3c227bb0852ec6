"""Jobs: run controls every scheduled workload needs."""

from __future__ import annotations

from collections.abc import Iterator

from infra.guardrails.params import EnvParams
from infra.guardrails.rules import Violation, rule
from infra.guardrails.stack import StackIndex, as_number, block


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
