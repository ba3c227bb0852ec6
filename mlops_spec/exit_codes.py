"""One exit-code table for every command-line tool of the platform.

``ml_jobs`` entry points, the guardrails, the review and the stacks' synth all exit with these codes,
so a CI step or a Databricks job can branch on them the same way everywhere:

* 0 ok
* 1 refused: a gate failed, guardrail findings, a promotion/approval/rollback said no (the system
  worked, the answer is no)
* 2 bad input or config: the file, key path, value and what is allowed are on stderr; nothing was
  changed
* 3 infrastructure: a service (tracking server, registry, metastore, workspace API) did not answer
  after bounded retries
* 4 a bug: an unexpected exception, traceback on stderr (Python's own 1 would read as "refused")
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2
EXIT_INFRA = 3
EXIT_BUG = 4

# Outcomes of the ``monitor`` job beyond the five above (its JSON line says which and why).
EXIT_DRIFT = 5
"""Drift was found and ``--fail-on-drift`` was given."""
EXIT_ALERT_FAILED = 6
"""The webhook stayed unreachable after its retries; state and retraining went ahead without it."""
EXIT_RETRAIN_PENDING = 7
"""Retraining was decided but could not start (refused or failed); it stays pending for the next run."""


class ToolError(Exception):
    """Raised on purpose by a tool: its entry point prints the message and returns ``exit_code``.

    ``ml_jobs`` (``JobError``) and ``infra.deploy`` raise the kinds below; one hierarchy, so a kind
    means the same exit code in every tool.
    """

    exit_code = EXIT_BUG  # a kind says which code it means; the base alone is not one of them


class Refused(ToolError):
    """The tool worked and the answer is no: a gate failed, a registry action is not allowed right now,
    a plan is from another commit, too old or tampered with."""

    exit_code = EXIT_REFUSED


class BadInput(ToolError):
    """The data, the arguments or the files do not fit (missing synth output or table, schema
    mismatch, an unreadable plan bundle): nothing was changed."""

    exit_code = EXIT_BAD_INPUT


class InfraError(ToolError):
    """A service (tracking server, registry, metastore, Terraform's backend, provider registry,
    workspace API) did not answer or failed: nothing to trust."""

    exit_code = EXIT_INFRA
