"""What exists before the deploy, who applies each stack, and the model specs the jobs run.

* Greenfield (``stacks/account.yaml`` present): only the account and its admin service principal exist;
  the account stack creates everything else.
* Brownfield: a description (YAML, see ``stacks/existing.example.yaml``) of the principals,
  memberships, metastores, workspaces, credentials, locations, catalogs and roles that already exist;
  used for environment stacks applied without the account stack, or beside a brownfield account.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TypedDict, Unpack

from pydantic import Field, ValidationError

from infra.simulate.world import GROUP, SP, Grant, Key, Principal, Securable, Workspace, World
from mlops_spec.config import ConfigError, ModelSpec, Problem, load_environment, load_models
from mlops_spec.config.account import AccountConfig
from mlops_spec.config.base import Spec
from mlops_spec.config.errors import allowed
from mlops_spec.config.kernel import display_path, problems_from, read_yaml
from mlops_spec.config.loader import PlatformConfig

DEFAULT_ACCOUNT_ADMIN = "account-admin"
"""The account admin's name when ``account.admin_application_id`` is not configured."""


@dataclass
class SpecContext:
    """Model specs and catalogs per environment, read from the config the stacks came from."""

    config_dir: Path

    def models(self, env: str) -> dict[str, ModelSpec]:
        return _models(self.config_dir, env)

    def catalog(self, env: str) -> str | None:
        try:
            return load_environment(env, self.config_dir).catalog.name
        except ConfigError:
            return None


@cache
def _models(config_dir: Path, env: str) -> dict[str, ModelSpec]:
    try:
        return {m.name: m for m in load_models(env, config_dir)}
    except ConfigError:
        return {}


def account_admin(account: AccountConfig | None) -> Key:
    app_id = getattr(account.account, "admin_application_id", None) if account else None
    return Key(SP, app_id or DEFAULT_ACCOUNT_ADMIN)


def greenfield(account: AccountConfig | None) -> World:
    """A new account: only its admin service principal (the account stack's identity) exists."""
    world = World()
    admin = account_admin(account)
    world.principals[admin] = Principal(admin, True, application_id=admin.name)
    world.account_admins.add(admin)
    return world


def deployer(platform: PlatformConfig) -> Key:
    role = platform.roles.deployer_role
    sp = platform.env.service_principals[role]
    return Key(SP, sp.display_name)


# --- the brownfield description ------------------------------------------------------------------


class ExistingGroup(Spec):
    name: str
    members: tuple[str, ...] = Field((), description="Names of member groups or service principals.")
    workspace_local: bool = Field(False, description="Created in a workspace: not a Unity Catalog principal.")


class ExistingServicePrincipal(Spec):
    name: str = Field(description="Display name.")
    application_id: str | None = None


class ExistingSecurable(Spec):
    name: str
    owner: str
    grants: dict[str, tuple[str, ...]] = Field(default_factory=dict, description="Principal -> privileges.")


class ExistingMetastore(ExistingSecurable):
    id: str | None = Field(None, description="Metastore id, as the stacks reference it.")
    storage_root: str | None = None


class ExistingCredential(ExistingSecurable):
    metastore: str


class ExistingLocation(ExistingSecurable):
    metastore: str
    url: str
    credential: str


class ExistingCatalog(ExistingSecurable):
    metastore: str
    storage_root: str | None = None
    isolated: bool = False
    schemas: dict[str, ExistingSecurable] = Field(default_factory=dict)


class ExistingWorkspace(Spec):
    env: str
    url: str
    id: str | None = None
    metastore: str | None = None
    assignments: dict[str, str] = Field(default_factory=dict, description="Principal -> USER | ADMIN.")


class Existing(Spec):
    """A description of what exists before the deploy (every name refers to a principal listed here)."""

    account_admins: tuple[str, ...] = ()
    groups: tuple[ExistingGroup, ...] = ()
    service_principals: tuple[ExistingServicePrincipal, ...] = ()
    service_principal_roles: dict[str, dict[str, tuple[str, ...]]] = Field(
        default_factory=dict,
        description="Service principal -> role (roles/servicePrincipal.user) -> principals.",
    )
    metastores: tuple[ExistingMetastore, ...] = ()
    workspaces: tuple[ExistingWorkspace, ...] = ()
    storage_credentials: tuple[ExistingCredential, ...] = ()
    external_locations: tuple[ExistingLocation, ...] = ()
    catalogs: tuple[ExistingCatalog, ...] = ()


@dataclass
class _Names:
    """Principal names of the description; an unknown one is reported with its key path."""

    file: str
    keys: dict[str, Key] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def key(self, name: str, *path: str | int) -> Key:
        if name not in self.keys:
            self.problems.append(Problem(self.file, path, "unknown principal", name, allowed(self.keys)))
            return Key(GROUP, name)
        return self.keys[name]


def load_existing(path: Path) -> World:
    """The world a brownfield deploy starts from; ConfigError (exit 2) names the file and key path."""
    file = display_path(path)
    try:
        desc = Existing.model_validate(read_yaml(path))
    except ValidationError as exc:
        raise ConfigError(problems_from(exc, file, Existing, ())) from exc
    world, names = World(), _Names(file)
    for sp in desc.service_principals:
        key = Key(SP, sp.name)
        names.keys[sp.name] = key
        world.principals[key] = Principal(key, True, application_id=sp.application_id)
    for group in desc.groups:
        key = Key(GROUP, group.name)
        names.keys[group.name] = key
        world.principals[key] = Principal(key, not group.workspace_local)
    for group in desc.groups:
        for member in group.members:
            world.members.setdefault(Key(GROUP, group.name), {})[
                names.key(member, "groups", group.name, "members")
            ] = None
    world.account_admins = {names.key(n, "account_admins") for n in desc.account_admins}
    for sp_name, roles in desc.service_principal_roles.items():
        sp_key = names.key(sp_name, "service_principal_roles", sp_name)
        for role, who in roles.items():
            world.sp_roles.setdefault(sp_key, {})[role] = {
                names.key(w, "service_principal_roles", sp_name, role): None for w in who
            }
    for ms in desc.metastores:
        sec = _securable(names, "metastores", ms, storage_root=ms.storage_root)
        world.securables[("metastore", ms.name)] = sec
        if ms.id:
            world.securables[("metastore", ms.id)] = sec
    for ws in desc.workspaces:
        workspace = Workspace(
            ws.url, ws.env, None, aliases={ws.url, *([ws.id] if ws.id else [])}, metastore=ws.metastore
        )
        for principal, level in ws.assignments.items():
            workspace.assignments[names.key(principal, "workspaces", ws.env, "assignments")] = (level, None)
        world.workspaces[ws.url] = workspace
    for cred in desc.storage_credentials:
        world.securables[("storage_credential", cred.name)] = _securable(
            names, "storage_credentials", cred, metastore=cred.metastore
        )
    for loc in desc.external_locations:
        world.securables[("external_location", loc.name)] = _securable(
            names, "external_locations", loc, storage_root=loc.url, credential=loc.credential
        )
    for cat in desc.catalogs:
        world.securables[("catalog", cat.name)] = _securable(
            names,
            "catalogs",
            cat,
            metastore=cat.metastore,
            storage_root=cat.storage_root,
            isolated=cat.isolated,
        )
        for schema_name, schema in cat.schemas.items():
            full = f"{cat.name}.{schema_name}"
            world.securables[("schema", full)] = _securable(
                names, "schemas", schema, parent=cat.name, name=full
            )
    if names.problems:
        raise ConfigError(names.problems)
    return world


_TYPES = {
    "metastores": "metastore",
    "storage_credentials": "storage_credential",
    "external_locations": "external_location",
    "catalogs": "catalog",
    "schemas": "schema",
}


class _SecurableFields(TypedDict, total=False):
    """The Securable fields a described securable sets beyond its type, name and owner."""

    parent: str
    storage_root: str | None
    credential: str
    isolated: bool
    metastore: str | None


def _securable(
    names: _Names,
    section: str,
    spec: ExistingSecurable,
    name: str | None = None,
    **extra: Unpack[_SecurableFields],
) -> Securable:
    name = spec.name if name is None else name
    sec = Securable(_TYPES[section], name, names.key(spec.owner, section, name, "owner"), **extra)
    for who, privileges in spec.grants.items():
        key = names.key(who, section, name, "grants", who)
        sec.grants.extend(Grant(key, p, None) for p in privileges)
    return sec
