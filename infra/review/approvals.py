"""Who must approve: ownership rules matched against the review, and CODEOWNERS path owners."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING

import pathspec

from infra.review.params import Ownership

if TYPE_CHECKING:
    from infra.review.model import Approval, Review


def path_owners(path: str, ownership: Ownership) -> tuple[str, ...]:
    """CODEOWNERS semantics: the last matching pattern wins."""
    owners: tuple[str, ...] = ()
    for entry in ownership.paths:
        if codeowners_match(entry.pattern, path):
            owners = entry.owners
    return owners


@lru_cache(maxsize=256)
def _spec(pattern: str) -> pathspec.PathSpec:
    return pathspec.PathSpec.from_lines("gitwildmatch", [pattern])


def codeowners_match(pattern: str, path: str) -> bool:
    """GitHub matches CODEOWNERS patterns with gitignore rules (``/infra/*.py`` is not recursive)."""
    return _spec(pattern).match_file(path.lstrip("/"))


def approvals(review: Review, ownership: Ownership, changed_files: Iterable[str] = ()) -> list[Approval]:
    from infra.review.model import Approval

    out: list[Approval] = []
    for rule in ownership.rules:
        envs = tuple(
            e.env
            for e in review.envs
            if (not rule.when.envs or e.env in rule.when.envs) and e.kinds & set(rule.when.changes)
        )
        if envs:
            out.append(Approval(rule.approvers, rule.reason, envs))
    by_owners: dict[tuple[str, ...], list[str]] = {}
    for path in sorted(set(changed_files)):
        owners = path_owners(path, ownership)
        if owners:
            by_owners.setdefault(owners, []).append(path)
    for owners, paths in by_owners.items():
        shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
        out.append(Approval(owners, f"CODEOWNERS of changed files: {shown}", ()))
    return out
