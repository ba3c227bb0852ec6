"""One hierarchy of tool errors: a kind means the same exit code in every tool that raises it.

Proves that ``infra.deploy`` and ``ml_jobs`` raise the very classes of ``mlops_spec.exit_codes`` (so
a CI step reads 1/2/3 the same way from both) and that each kind carries its code of the table.
Does not prove that every entry point maps them: the CLI tests of each tool do that.
"""

from __future__ import annotations

import infra.deploy as deploy
from ml_jobs import errors as jobs
from mlops_spec.exit_codes import (
    EXIT_BAD_INPUT,
    EXIT_INFRA,
    EXIT_REFUSED,
    BadInput,
    InfraError,
    Refused,
    ToolError,
)


def test_the_jobs_and_the_deploy_tool_raise_the_same_kinds() -> None:
    assert (jobs.Refused, jobs.BadInput, jobs.InfraError) == (Refused, BadInput, InfraError)
    assert (deploy.Refused, deploy.BadInput, deploy.InfraError) == (Refused, BadInput, InfraError)
    assert jobs.JobError is ToolError


def test_each_kind_carries_its_code_of_the_table() -> None:
    codes = [kind.exit_code for kind in (Refused, BadInput, InfraError)]
    assert codes == [EXIT_REFUSED, EXIT_BAD_INPUT, EXIT_INFRA]
    assert jobs.NoCandidate("no challenger").exit_code == EXIT_BAD_INPUT
