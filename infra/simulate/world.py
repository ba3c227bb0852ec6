"""The in-memory Databricks account and its workspaces that the simulator applies stacks to.

Every fact carries the resource that created it (``Origin``), or None when it existed before the
deploy (the brownfield description). A resource sees a fact only when the fact existed before, came
from an earlier stack, or came from a resource Terraform finishes first (one of its ancestors in the
dependency graph): two resources with no path between them may be created in either order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GROUP, SP, USER = "group", "service_principal", "user"
WORKSPACE_LOCAL_SYSTEM_GROUPS = frozenset({"users", "admins"})
"""System groups of every workspace: workspace-local (sql-ref-principal), never UC principals."""


@dataclass(frozen=True, slots=True)
class Key:
    """A principal: its kind and its display name (a user's e-mail)."""

    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind.replace('_', ' ')} '{self.name}'"


@dataclass(frozen=True, slots=True)
class Origin:
    stack: str
    address: str

    def __str__(self) -> str:
        return f"{self.stack}:{self.address}"


@dataclass
class Principal:
    key: Key
    account_level: bool = True
    application_id: str | None = None
    origin: Origin | None = None


@dataclass
class Grant:
    principal: Key
    privilege: str
    origin: Origin | None


@dataclass
class Securable:
    """A Unity Catalog securable, the metastore included."""

    type: str
    """metastore, storage_credential, external_location, catalog, schema, volume, registered_model, table"""
    name: str  # full name (``cat.schema.model``); a metastore's name
    owner: Key | None
    parent: str | None = None  # full name of the catalog/schema that contains it
    origin: Origin | None = None
    grants: list[Grant] = field(default_factory=list)
    storage_root: str | None = None  # catalogs, metastores; external locations: their url
    credential: str | None = None  # external locations
    isolated: bool = False
    bindings: set[str] = field(default_factory=set)  # workspace ids (ISOLATED catalogs)
    metastore: str | None = None


@dataclass
class Acl:
    """An object ACL (jobs, folders, experiments, endpoints, policies) with its origin per entry."""

    entries: dict[Key, tuple[str, Origin | None]] = field(default_factory=dict)


@dataclass
class WorkspaceObject:
    kind: str  # directory | experiment | job | serving_endpoint | cluster_policy | secret_scope
    name: str  # path (directories, experiments), name (jobs, endpoints, policies, scopes)
    owner: Key | None
    origin: Origin | None
    acl: Acl = field(default_factory=Acl)
    settings: dict[str, object] = field(default_factory=dict)


@dataclass
class Workspace:
    id: str  # account resource address (created here) or the configured URL (existing)
    env: str | None
    origin: Origin | None
    aliases: set[str] = field(default_factory=set)  # URL, numeric id, "<stack>:<address>" of its resource
    metastore: str | None = None
    metastore_origin: Origin | None = None
    assignments: dict[Key, tuple[str, Origin | None]] = field(default_factory=dict)  # USER | ADMIN
    objects: dict[tuple[str, str], WorkspaceObject] = field(default_factory=dict)

    def obj(self, kind: str, name: str) -> WorkspaceObject | None:
        return self.objects.get((kind, name))


@dataclass
class World:
    principals: dict[Key, Principal] = field(default_factory=dict)
    account_admins: set[Key] = field(default_factory=set)
    members: dict[Key, dict[Key, Origin | None]] = field(default_factory=dict)  # group -> member -> origin
    sp_roles: dict[Key, dict[str, dict[Key, Origin | None]]] = field(
        default_factory=dict
    )  # sp -> role -> who
    securables: dict[tuple[str, str], Securable] = field(default_factory=dict)
    workspaces: dict[str, Workspace] = field(default_factory=dict)

    def principal_by_application_id(self, application_id: str) -> Principal | None:
        for principal in self.principals.values():
            if principal.application_id == application_id:
                return principal
        return None

    def securable(self, type_: str, name: str) -> Securable | None:
        return self.securables.get((type_, name))

    def find_workspace(self, token: str) -> Workspace | None:
        for workspace in self.workspaces.values():
            if token == workspace.id or token in workspace.aliases:
                return workspace
        return None

    def workspace_for_env(self, env: str) -> Workspace | None:
        for workspace in self.workspaces.values():
            if workspace.env == env:
                return workspace
        return None
