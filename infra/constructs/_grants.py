"""One helper behind every ``grant*`` method: Unity Catalog privileges on one securable.

On a securable the platform owns, one authoritative ``databricks_grants`` lists every grant, so a
privilege added by hand is removed on the next deploy. On a securable someone else owns (an
existing catalog), ``databricks_grant`` per principal adds ours and leaves theirs alone; its
construct ID is keyed by the role (``<id>-<role>``), so adding a role never renames another grant's
Terraform address (a rename would destroy and recreate it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypedDict

from infra.cdk import Construct, Grant, Grants, GrantsGrant


class Securable(TypedDict, total=False):
    """What a ``databricks_grants``/``databricks_grant`` applies to: exactly one of these keys is given."""

    catalog: str
    schema: str
    model: str
    table: str


class GrantSet:
    def __init__(self, scope: Construct, id_: str, securable: Securable, authoritative: bool = True) -> None:
        self._scope, self._id, self._securable = scope, id_, securable
        self._authoritative = authoritative
        self._privileges: dict[str, set[str]] = {}
        self._keys: dict[str, str] = {}
        self._resource: Grants | None = None
        self._per_principal: dict[str, Grant] = {}

    def add(self, principal: str, privileges: Iterable[str], key: str) -> None:
        """Grant ``privileges`` to ``principal`` (a name or reference); ``key`` names it in IDs (a role)."""
        wanted = set(privileges)
        if not wanted:
            return
        self._privileges.setdefault(principal, set()).update(wanted)
        self._keys.setdefault(principal, key)
        if self._authoritative:
            self._render_authoritative()
        else:
            self._render_additive(principal)

    def _blocks(self) -> list[GrantsGrant]:
        ordered = sorted(self._privileges.items(), key=lambda item: self._keys[item[0]])
        return [GrantsGrant(principal=p, privileges=sorted(v)) for p, v in ordered]

    def _render_authoritative(self) -> None:
        if self._resource is None:
            self._resource = Grants(self._scope, self._id, grant=self._blocks(), **self._securable)
        else:
            self._resource.put_grant(self._blocks())

    def _render_additive(self, principal: str) -> None:
        privileges = sorted(self._privileges[principal])
        existing = self._per_principal.get(principal)
        if existing is None:
            self._per_principal[principal] = Grant(
                self._scope,
                f"{self._id}-{self._keys[principal]}",
                principal=principal,
                privileges=privileges,
                **self._securable,
            )
        else:
            existing.privileges = privileges
