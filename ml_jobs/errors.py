"""Exceptions the jobs raise on purpose, each tied to one exit code of ``mlops_spec.exit_codes``.

Exit codes (the Databricks job UI and the CLI show them; scripts branch on them):

* 0 ok
* 1 a gate failed or a promotion/approval/rollback was refused (the system worked, the answer is no)
* 2 bad input or config: missing table or version, schema mismatch, empty or single-class data
* 3 infrastructure: tracking server or registry unreachable after bounded retries (also mid-job)
* 4 unexpected error, i.e. a bug: the traceback is on stderr (Python's own 1 would read as "refused")
"""

from __future__ import annotations

from mlops_spec.exit_codes import EXIT_BAD_INPUT, EXIT_BUG, EXIT_INFRA, EXIT_OK, EXIT_REFUSED

__all__ = ["EXIT_BAD_INPUT", "EXIT_BUG", "EXIT_INFRA", "EXIT_OK", "EXIT_REFUSED"]


class JobError(Exception):
    """Base class: ``exit_code`` is what the entry point returns."""

    exit_code = EXIT_REFUSED


class Refused(JobError):
    """A gate failed or a registry action is not allowed right now."""

    exit_code = EXIT_REFUSED


class BadInput(JobError):
    """The data or the arguments do not fit the spec; nothing in the registry was touched."""

    exit_code = EXIT_BAD_INPUT


class InfraError(JobError):
    """A service (tracking server, registry, metastore) did not answer."""

    exit_code = EXIT_INFRA


class NoCandidate(BadInput):
    """No ``challenger`` to validate or promote: in a scheduled job that is a quiet week, not an error."""
