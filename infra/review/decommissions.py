"""Destroying a protected resource on purpose: ``policies/decommissions.yaml``.

A model is decommissioned by removing it from ``stacks/models.yaml``; its registered model,
experiment and endpoint are protected, so the review blocks the destroy in production. An entry
here acknowledges that destroy: reviewed like code (CODEOWNERS of the file), owned by a team of the
ownership map, expiring like a guardrail waiver (at most the environment's ``max_waiver_days``
ahead). While it holds, the destroys it covers warn instead of block, and the review still asks for
the approvals a destructive change needs plus the acknowledgement's owner. An expired or malformed
entry is unusable input (exit 2), never a silent pass; one that covers nothing is a note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from pydantic import Field

from infra.guardrails.ownership import Ownership
from infra.review.errors import ReviewError, problem
from mlops_spec.config.base import Spec
from mlops_spec.config.errors import ConfigError
from mlops_spec.config.kernel import display_path, load

DECOMMISSIONS_FILE = "decommissions.yaml"
_ADDRESS = re.compile(r"^[a-z][a-z0-9_]*\.[A-Za-z0-9_-]+$")


class _Entry(Spec):
    env: str = Field(min_length=1, description="The environment whose stack destroys the resource.")
    resource: str = Field(
        min_length=1,
        description="A Terraform address, or a construct path covering that construct and all below it.",
    )
    reason: str = Field(min_length=10, description="Why the destroy is intended.")
    owner: str = Field(min_length=1, description="A team handle from policies/ownership.yaml `teams`.")
    expires: date = Field(description="Last day the acknowledgement holds (YYYY-MM-DD).")


class _File(Spec):
    decommissions: list[_Entry] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Decommission:
    env: str
    resource: str
    reason: str
    owner: str
    expires: date
    index: int  # position in the file, for messages
    file: str = f"policies/{DECOMMISSIONS_FILE}"

    @property
    def where(self) -> str:
        return f"{self.file}: decommissions[{self.index}]"

    def covers(self, env: str, address: str, construct_path: str | None) -> bool:
        if env != self.env:
            return False
        if self.resource == address:
            return True
        return construct_path is not None and (
            construct_path == self.resource or construct_path.startswith(self.resource + "/")
        )


def load_decommissions(policies_dir: Path, ownership: Ownership) -> tuple[Decommission, ...]:
    """The acknowledgements, checked for what needs no stack: owner, resource form. Missing file: none."""
    path = policies_dir / DECOMMISSIONS_FILE
    file = display_path(path)
    try:
        raw = load(path, _File, optional=True)
    except ConfigError as exc:
        raise ReviewError([str(p) for p in exc.problems]) from None
    problems, out = [], []
    for i, entry in enumerate(raw.decommissions):
        if entry.owner not in ownership.teams:
            allowed = ", ".join(ownership.teams)
            problems.append(problem(file, f"decommissions[{i}].owner", "not a team", entry.owner, allowed))
        if "/" in entry.resource:
            parts = entry.resource.split("/")
            if parts[0] != entry.env or len(parts) < 2 or "" in parts:
                problems.append(
                    problem(
                        file,
                        f"decommissions[{i}].resource",
                        "a construct path below the environment's stack (never a whole stack)",
                        entry.resource,
                        f"e.g. {entry.env}/model-<name>",
                    )
                )
        elif not _ADDRESS.match(entry.resource):
            problems.append(
                problem(
                    file,
                    f"decommissions[{i}].resource",
                    "neither a Terraform address nor a construct path",
                    entry.resource,
                    "type.name (e.g. databricks_registered_model.x) or <env>/<construct>",
                )
            )
        out.append(Decommission(entry.env, entry.resource, entry.reason, entry.owner, entry.expires, i, file))
    if problems:
        raise ReviewError(problems)
    return tuple(out)


def check_dates(
    decommissions: tuple[Decommission, ...], envs: list[str], today: date, max_days: dict[str, int]
) -> None:
    """Refuse an entry for an unknown environment, an expired one, or one expiring too far ahead."""
    problems = []
    for d in decommissions:
        if d.env not in envs:
            where, allowed = f"decommissions[{d.index}].env", ", ".join(envs)
            problems.append(problem(d.file, where, "unknown environment", d.env, allowed))
            continue
        if d.expires < today:
            problems.append(
                problem(
                    d.file,
                    f"decommissions[{d.index}].expires",
                    f"the acknowledgement for {d.resource} expired; remove it (or renew it, reviewed)",
                    d.expires.isoformat(),
                )
            )
        limit = max_days.get(d.env)
        if limit is not None and d.expires > today + timedelta(days=limit):
            problems.append(
                problem(
                    d.file,
                    f"decommissions[{d.index}].expires",
                    f"more than {limit} days ahead (max_waiver_days of {d.env}, guardrails/params.yaml)",
                    d.expires.isoformat(),
                    f"until {(today + timedelta(days=limit)).isoformat()}",
                )
            )
    if problems:
        raise ReviewError(problems)
