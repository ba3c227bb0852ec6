"""Exceptions the jobs raise on purpose, each tied to one exit code of ``mlops_spec.exit_codes``.

Exit codes (the Databricks job UI and the CLI show them; scripts branch on them):

* 0 ok
* 1 a gate failed or a promotion/approval/rollback was refused (the system worked, the answer is no)
* 2 bad input or config: missing table or version, schema mismatch, empty or single-class data
* 3 infrastructure: tracking server or registry unreachable after bounded retries (also mid-job)
* 4 unexpected error, i.e. a bug: the traceback is on stderr (Python's own 1 would read as "refused")

The kinds (``Refused``, ``BadInput``, ``InfraError``) are the platform's one hierarchy, shared with
``infra.deploy``; ``JobError`` is its base under the name the jobs use.
"""

from __future__ import annotations

from mlops_spec.exit_codes import (
    EXIT_BAD_INPUT,
    EXIT_BUG,
    EXIT_INFRA,
    EXIT_OK,
    EXIT_REFUSED,
    BadInput,
    InfraError,
    Refused,
)
from mlops_spec.exit_codes import ToolError as JobError

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_BUG",
    "EXIT_INFRA",
    "EXIT_OK",
    "EXIT_REFUSED",
    "BadInput",
    "InfraError",
    "JobError",
    "NoCandidate",
    "Refused",
]


class NoCandidate(BadInput):
    """No ``challenger`` to validate or promote: in a scheduled job that is a quiet week, not an error."""
