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
def _spec(pattern: str) -> pathspec.PathSpec[pathspec.Pattern]:
    return pathspec.PathSpec.from_lines("gitwildmatch", [pattern])


def codeowners_match(pattern: str, path: str) -> bool:
    """GitHub matches CODEOWNERS patterns with gitignore rules (``/infra/*.py`` is not recursive)."""
    return _spec(pattern).match_file(path.lstrip("/"))


def approvals(review: Review, ownership: Ownership, changed_files: Iterable[str] = ()) -> list[Approval]:
    """One entry per team, in the order the ownership map first names it, with all its reasons."""
    from infra.review.model import Approval

    reasons: dict[str, list[str]] = {}
    envs: dict[str, list[str]] = {}

    def need(team: str, reason: str, where: Iterable[str]) -> None:
        if reason not in reasons.setdefault(team, []):
            reasons[team].append(reason)
        envs.setdefault(team, []).extend(e for e in where if e not in envs[team])

    for rule in ownership.rules:
        matched = [
            e.env
            for e in review.envs
            if (not rule.when.envs or e.env in rule.when.envs) and e.kinds & set(rule.when.changes)
        ]
        for team in rule.approvers if matched else ():
            need(team, rule.reason, matched)
    for e in review.envs:
        for ack in e.acknowledged.values():
            need(ack.owner, f"owner of the acknowledged destroy ({ack.entry}): {ack.reason}", [e.env])
    by_owners: dict[tuple[str, ...], list[str]] = {}
    for path in sorted(set(changed_files)):
        owners = path_owners(path, ownership)
        if owners:
            by_owners.setdefault(owners, []).append(path)
    for owners, paths in by_owners.items():
        shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
        for team in owners:
            need(team, f"CODEOWNERS of changed files: {shown}", [])
    order = {e: i for i, e in enumerate(x.env for x in review.envs)}
    return [
        Approval(team, tuple(found), tuple(sorted(envs[team], key=order.__getitem__)))
        for team, found in reasons.items()
    ]
