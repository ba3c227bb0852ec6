"""Account-level settings (``stacks/account.yaml``): workspaces, metastores and identities.

The account stack creates what lives at ``accounts.cloud.databricks.com``. Only AWS is implemented;
the ``cloud`` key exists so Azure and GCP can be added without changing the file's shape, and a
config asking for them fails with "not supported yet" before anything else is checked.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Iterator
from itertools import combinations
from typing import Annotated, Literal

from pydantic import Field, model_validator

from mlops_spec.config.base import Spec
from mlops_spec.config.environment import Backend, EnvironmentConfig, EnvName, LocalBackend
from mlops_spec.config.errors import Problem, allowed

CLOUDS: tuple[str, ...] = ("aws", "azure", "gcp")
SUPPORTED_CLOUDS: tuple[str, ...] = ("aws",)
UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
DEPLOYMENT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,28}[a-z0-9]$")
"""A workspace URL's subdomain label: lower-case letters, digits and inner hyphens, 3-30 characters.

Databricks allows "the set of characters allowed in a subdomain" and puts the account's deployment
prefix and a hyphen in front (``<prefix>-<name>.cloud.databricks.com``); 30 characters keeps the
whole label well inside DNS's 63.
"""
DEPLOYMENT_NAME_RULE = (
    "3-30 lower-case letters, digits or hyphens, starting and ending with a letter or digit"
)
SUBNET_PREFIXES = (17, 26)
"""Databricks requires customer-managed VPC subnets with a netmask between /17 and /26."""
ENV_PLACEHOLDER = "{env}"
IAM_ROLE = r"^arn:aws:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]+$"


class AccountSettings(Spec):
    host: str = Field(
        "https://accounts.cloud.databricks.com",
        pattern=r"^https://[A-Za-z0-9.-]+$",
        description="Account console URL (AWS: accounts.cloud.databricks.com).",
    )
    account_id: str = Field(pattern=UUID, description="Databricks account id (account console, bottom left).")
    cloud: Literal["aws", "azure", "gcp"] = Field("aws", description="Only aws is implemented.")
    deployment_prefix: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9-]*[a-z0-9]$",
        description="Deployment name prefix Databricks set for the account; None = URLs known after apply.",
    )
    admin_application_id: str = Field(
        pattern=UUID,
        description=(
            "Application id of the account-admin service principal that applies this stack (OAuth M2M). "
            "It is assigned to one workspace per region to grant metastore privileges (Unity Catalog grants "
            "are a workspace API)."
        ),
    )


class MetastoreConfig(Spec):
    """One Unity Catalog metastore per region: created here, or an existing one by id."""

    name: str | None = Field(None, min_length=3, description="Name of a metastore this stack creates.")
    storage_root: str | None = Field(
        None, pattern=r"^s3://[a-z0-9.-]{3,63}(/.*)?$", description="Managed storage; None = per catalog."
    )
    existing_id: str | None = Field(
        None, pattern=UUID, description="Use this metastore instead of creating one."
    )
    admin_group: str = Field(description="Key of identities.groups that owns the metastore (never a person).")
    grants_workspace: str | None = Field(
        None,
        description=(
            "Environment whose workspace the account stack uses to grant metastore privileges to each "
            "deployer; None = the first non-prod workspace of the region (the prod one may be private)."
        ),
    )

    @model_validator(mode="after")
    def _create_or_reuse(self) -> MetastoreConfig:
        if self.existing_id and (self.name or self.storage_root):
            raise ValueError("set either existing_id (reuse) or name/storage_root (create), not both")
        if not self.existing_id and not self.name:
            raise ValueError("set name (to create a metastore) or existing_id (to use an existing one)")
        return self


class IdentitiesConfig(Spec):
    """Account-level principals, created once and assigned to workspaces (identity federation)."""

    groups: dict[str, str] = Field(
        description="Role key -> account group display name; '{env}' in it makes one group per workspace."
    )
    service_principals: dict[str, str] = Field(
        default_factory=dict,
        description="Role key -> display name; '{env}' in it makes one principal per workspace.",
    )
    workspace_admins: tuple[str, ...] = Field(
        min_length=1, description="Role keys assigned ADMIN in every workspace; everyone else gets USER."
    )


class PrivateLinkConfig(Spec):
    enabled: bool = Field(False, description="Back-end and front-end PrivateLink (Enterprise tier).")
    rest_vpce_id: str | None = Field(
        None, pattern=r"^vpce-[0-9a-f]{8,17}$", description="Workspace REST API."
    )
    relay_vpce_id: str | None = Field(
        None, pattern=r"^vpce-[0-9a-f]{8,17}$", description="Secure cluster relay."
    )
    public_access_enabled: bool = Field(
        False, description="Also reachable from the internet (off by default)."
    )


class CmkConfig(Spec):
    key_arn: str = Field(
        pattern=r"^arn:aws:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]+$", description="ARN of the KMS key."
    )
    alias: str | None = Field(None, pattern=r"^alias/[A-Za-z0-9/_-]+$", description="Alias of the key.")
    use_cases: tuple[Literal["MANAGED_SERVICES", "STORAGE"], ...] = Field(
        ("MANAGED_SERVICES", "STORAGE"), min_length=1, description="What the key encrypts."
    )


class GreenfieldWorkspace(Spec):
    """A workspace this stack creates; the cloud-side prerequisites already exist (README)."""

    mode: Literal["greenfield"] = Field(description="This stack creates the workspace.")
    deployment_name: str = Field(description=f"Subdomain of the workspace URL: {DEPLOYMENT_NAME_RULE}.")
    workspace_name: str | None = Field(None, description="Name shown in the UI; None = mlops-<env>.")
    region: str = Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$", description="AWS region.")
    pricing_tier: Literal["PREMIUM", "ENTERPRISE"] = Field(
        "PREMIUM", description="ENTERPRISE for PrivateLink or a customer-managed key."
    )
    credentials_role_arn: str = Field(
        pattern=IAM_ROLE, description="Cross-account IAM role Databricks assumes to run clusters."
    )
    catalog_storage_role_arn: str = Field(
        pattern=IAM_ROLE,
        description=(
            "IAM role Unity Catalog assumes for the environment's catalog storage (catalog.storage_root): "
            "the account stack registers it as a storage credential owned by the environment's deployer."
        ),
    )
    root_bucket: str = Field(
        pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", description="S3 bucket of the root storage."
    )
    vpc_id: str = Field(pattern=r"^vpc-[0-9a-f]{8,17}$", description="Customer-managed VPC.")
    subnet_ids: tuple[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")], ...] = Field(
        min_length=2, description="Subnets of the VPC, in two availability zones at least."
    )
    subnet_cidrs: tuple[str, ...] = Field(min_length=2, description="CIDR of each subnet, same order.")
    security_group_ids: tuple[Annotated[str, Field(pattern=r"^sg-[0-9a-f]{8,17}$")], ...] = Field(
        min_length=1, max_length=5, description="Security groups of the cluster nodes."
    )
    private_link: PrivateLinkConfig = Field(PrivateLinkConfig(), description="PrivateLink settings.")
    cmk: CmkConfig | None = Field(None, description="Customer-managed key; None = Databricks-managed keys.")


class BrownfieldWorkspace(Spec):
    """A workspace that already exists: the stack only assigns its metastore and identities."""

    mode: Literal["brownfield"] = Field(description="The workspace exists; the stack only assigns to it.")
    workspace_url: str | None = Field(None, pattern=r"^https://[A-Za-z0-9.-]+$", description="Its URL.")
    workspace_id: str | None = Field(None, pattern=r"^\d+$", description="Its numeric id.")
    region: str = Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$", description="Its AWS region.")
    catalog_storage_role_arn: str | None = Field(
        None,
        pattern=IAM_ROLE,
        description="IAM role of the storage credential for the environment's catalog; None = bring "
        "your own.",
    )


Workspace = Annotated[GreenfieldWorkspace | BrownfieldWorkspace, Field(discriminator="mode")]
WORKSPACE_MODES: tuple[str, ...] = ("greenfield", "brownfield")


class AccountConfig(Spec):
    account: AccountSettings = Field(description="The Databricks account.")
    state_backend: Backend = Field(
        LocalBackend(), discriminator="type", description="Where Terraform keeps the account stack's state."
    )
    tags: dict[str, str] = Field(
        default_factory=dict, description="Tags on the cloud resources of workspaces."
    )
    metastores: dict[str, MetastoreConfig] = Field(min_length=1, description="AWS region -> metastore.")
    identities: IdentitiesConfig = Field(description="Account groups and service principals.")
    workspaces: dict[EnvName, Workspace] = Field(
        min_length=1, description="Environment -> its workspace (mode: greenfield or brownfield)."
    )

    def workspace_url(self, env: EnvName) -> str | None:
        """The URL a workspace has (brownfield) or will have (greenfield, when the prefix is known)."""
        ws = self.workspaces[env]
        if isinstance(ws, BrownfieldWorkspace):
            return ws.workspace_url
        if self.account.deployment_prefix is None:
            return None
        return f"https://{self.account.deployment_prefix}-{ws.deployment_name}.cloud.databricks.com"

    def service_principal_name(self, role: str, env: str) -> str:
        return self.identities.service_principals[role].replace(ENV_PLACEHOLDER, env)

    def group_name(self, role: str, env: str) -> str:
        return self.identities.groups[role].replace(ENV_PLACEHOLDER, env)

    def grants_workspace(self, region: str, production: Collection[str]) -> str | None:
        """The environment whose workspace grants metastore privileges in ``region`` (the one helper);
        ``production``: the production environments (``loader.production_envs``), chosen last."""
        configured = self.metastores[region].grants_workspace
        if configured is not None:
            return configured
        envs = [env for env, ws in self.workspaces.items() if ws.region == region]
        non_prod = [env for env in envs if env not in production]
        return next(iter(non_prod or envs), None)


# -- checks across fields -------------------------------------------------------------------------


def check_account(cfg: AccountConfig, file: str) -> Iterator[Problem]:
    yield from _check_identities(cfg, file)
    yield from _check_metastores(cfg, file)
    names: dict[str, str] = {}
    for env, ws in cfg.workspaces.items():
        path = ("workspaces", env)
        if ws.region not in cfg.metastores:
            yield Problem(
                file,
                (*path, "region"),
                "no metastore for this region",
                ws.region,
                allowed(cfg.metastores, "none configured"),
            )
        if isinstance(ws, BrownfieldWorkspace):
            yield from _check_brownfield(ws, file, path)
            continue
        if not DEPLOYMENT_NAME.match(ws.deployment_name):
            yield Problem(
                file,
                (*path, "deployment_name"),
                "not a valid deployment name",
                ws.deployment_name,
                DEPLOYMENT_NAME_RULE,
            )
        elif ws.deployment_name in names:
            yield Problem(
                file,
                (*path, "deployment_name"),
                f"already used by workspaces.{names[ws.deployment_name]}",
                ws.deployment_name,
            )
        names.setdefault(ws.deployment_name, env)
        yield from _check_greenfield(ws, file, path)
    yield from _check_shared_vpcs(cfg, file)


def _check_identities(cfg: AccountConfig, file: str) -> Iterator[Problem]:
    ids = cfg.identities
    for key in sorted(set(ids.groups) & set(ids.service_principals)):
        yield Problem(
            file,
            ("identities", "service_principals", key),
            "already a group key",
            key,
            "distinct role keys for groups and service principals",
        )
    for section, names in (("groups", ids.groups), ("service_principals", ids.service_principals)):
        for key, name in names.items():
            rest = name.replace(ENV_PLACEHOLDER, "")
            if "{" in rest or "}" in rest:
                yield Problem(file, ("identities", section, key), "bad placeholder", name, "{env}")
    for i, key in enumerate(ids.workspace_admins):
        if key not in ids.groups and key not in ids.service_principals:
            yield Problem(
                file,
                ("identities", "workspace_admins", i),
                "unknown identity",
                key,
                allowed({*ids.groups, *ids.service_principals}, "none configured"),
            )


def _check_metastores(cfg: AccountConfig, file: str) -> Iterator[Problem]:
    for region, ms in cfg.metastores.items():
        path = ("metastores", region, "admin_group")
        if "@" in ms.admin_group:
            yield Problem(
                file,
                path,
                "the metastore admin must be an account group, never a person",
                ms.admin_group,
                allowed(cfg.identities.groups, "none configured"),
            )
        elif ms.admin_group not in cfg.identities.groups:
            yield Problem(
                file, path, "unknown group", ms.admin_group, allowed(cfg.identities.groups, "none configured")
            )
        elif ENV_PLACEHOLDER in cfg.identities.groups[ms.admin_group]:
            yield Problem(
                file, path, "a per-environment group cannot own the region's metastore", ms.admin_group
            )
        chosen = ms.grants_workspace
        if chosen is not None and (chosen not in cfg.workspaces or cfg.workspaces[chosen].region != region):
            yield Problem(
                file,
                ("metastores", region, "grants_workspace"),
                "not a workspace of this region",
                ms.grants_workspace,
                allowed({e for e, w in cfg.workspaces.items() if w.region == region}, "none configured"),
            )


def _check_brownfield(ws: BrownfieldWorkspace, file: str, path: tuple[str, ...]) -> Iterator[Problem]:
    if not ws.workspace_url:
        yield Problem(
            file,
            (*path, "workspace_url"),
            "a brownfield workspace needs its URL (the stack does not create it)",
            None,
            "https://<deployment>.cloud.databricks.com",
        )
    if not ws.workspace_id:
        yield Problem(
            file,
            (*path, "workspace_id"),
            "a brownfield workspace needs its numeric id (metastore and identity assignments use it)",
            None,
            "the number in the workspace URL's ?o= parameter",
        )


def _check_greenfield(ws: GreenfieldWorkspace, file: str, path: tuple[str, ...]) -> Iterator[Problem]:
    if len(ws.subnet_cidrs) != len(ws.subnet_ids):
        yield Problem(
            file,
            (*path, "subnet_cidrs"),
            f"needs one CIDR per subnet id ({len(ws.subnet_ids)})",
            list(ws.subnet_cidrs),
        )
    networks = list(_networks(ws, file, path))
    for _, net in networks:
        if isinstance(net, Problem):
            yield net
    valid = [(i, n) for i, n in networks if not isinstance(n, Problem)]
    for (i, a), (j, b) in combinations(valid, 2):
        if a.overlaps(b):
            yield Problem(
                file,
                (*path, "subnet_cidrs", j),
                f"overlaps subnet_cidrs[{i}] ({a})",
                str(b),
                "non-overlapping subnets",
            )
    for i, sid in enumerate(ws.subnet_ids):
        if sid in ws.subnet_ids[:i]:
            yield Problem(file, (*path, "subnet_ids", i), "duplicate subnet", sid)
    pl = ws.private_link
    if pl.enabled:
        for key in ("rest_vpce_id", "relay_vpce_id"):
            if getattr(pl, key) is None:
                yield Problem(
                    file,
                    (*path, "private_link", key),
                    "PrivateLink needs both VPC endpoints",
                    None,
                    "vpce-<id> of the endpoint created in your VPC",
                )
    if (pl.enabled or ws.cmk) and ws.pricing_tier != "ENTERPRISE":
        yield Problem(
            file,
            (*path, "pricing_tier"),
            "PrivateLink and customer-managed keys need the Enterprise tier",
            ws.pricing_tier,
            "ENTERPRISE",
        )


def _networks(
    ws: GreenfieldWorkspace, file: str, path: tuple[str, ...]
) -> Iterator[tuple[int, ipaddress.IPv4Network | Problem]]:
    low, high = SUBNET_PREFIXES
    for i, cidr in enumerate(ws.subnet_cidrs):
        where: tuple[str | int, ...] = (*path, "subnet_cidrs", i)
        try:
            net = ipaddress.IPv4Network(cidr, strict=True)
        except ValueError as exc:
            yield i, Problem(file, where, f"not an IPv4 network ({exc})", cidr, "e.g. 10.20.0.0/24")
            continue
        if not low <= net.prefixlen <= high:
            yield i, Problem(file, where, "netmask out of range", cidr, f"/{low} to /{high}")
            continue
        yield i, net


def _check_shared_vpcs(cfg: AccountConfig, file: str) -> Iterator[Problem]:
    """Workspaces may share a VPC, never a subnet or an address range."""
    greenfield = [(env, ws) for env, ws in cfg.workspaces.items() if isinstance(ws, GreenfieldWorkspace)]
    for (env_a, a), (env_b, b) in combinations(greenfield, 2):
        path = ("workspaces", env_b)
        for j, sid in enumerate(b.subnet_ids):
            if sid in a.subnet_ids:
                yield Problem(
                    file,
                    (*path, "subnet_ids", j),
                    f"already used by workspaces.{env_a}",
                    sid,
                    "one subnet per workspace",
                )
        if a.vpc_id != b.vpc_id:
            continue
        nets_a = [(i, n) for i, n in _networks(a, file, ("workspaces", env_a)) if not isinstance(n, Problem)]
        nets_b = [(j, n) for j, n in _networks(b, file, path) if not isinstance(n, Problem)]
        for j, nb in nets_b:
            for i, na in nets_a:
                if na.overlaps(nb):
                    yield Problem(
                        file,
                        (*path, "subnet_cidrs", j),
                        f"overlaps workspaces.{env_a}.subnet_cidrs[{i}] ({na}) in the shared {a.vpc_id}",
                        str(nb),
                        "non-overlapping subnets",
                    )


def check_account_against_env(
    cfg: AccountConfig, env: EnvironmentConfig, account_file: str, env_file: str
) -> Iterator[Problem]:
    """The environment stack looks up the account's principals by name: the names must agree."""
    name = env.environment
    ws = cfg.workspaces.get(name)
    if ws is None:
        if env.workspace.host is None:
            yield Problem(
                account_file,
                ("workspaces", name),
                "no workspace for this environment",
                None,
                f"a workspaces.{name} entry, or workspace.host in {env_file}",
            )
        return
    expected = cfg.workspace_url(name)
    if env.workspace.host is not None and env.workspace.host != expected:
        where = f"workspaces.{name} in {account_file}"
        why = (
            f"does not match {where}: {expected}"
            if expected
            else f"the account stack creates this workspace ({where}); remove it (known after apply)"
        )
        yield Problem(env_file, ("workspace", "host"), why, env.workspace.host, expected)
    for key, display in env.groups.items():
        account_name = cfg.group_name(key, name) if key in cfg.identities.groups else None
        if account_name != display:
            yield Problem(
                env_file,
                ("groups", key),
                f"differs from identities.groups.{key} in {account_file}",
                display,
                account_name or f"add {key} to identities.groups",
            )
    for key, sp in env.service_principals.items():
        if key not in cfg.identities.service_principals:
            yield Problem(
                env_file,
                ("service_principals", key),
                f"not an account service principal (identities.service_principals in {account_file})",
                key,
                allowed(cfg.identities.service_principals, "none configured"),
            )
            continue
        account_name = cfg.service_principal_name(key, name)
        if sp.display_name != account_name:
            yield Problem(
                env_file,
                ("service_principals", key, "display_name"),
                f"differs from identities.service_principals.{key} in {account_file}",
                sp.display_name,
                account_name,
            )
    yield from _check_catalog_storage(cfg, env, ws, account_file, env_file)


def _check_catalog_storage(
    cfg: AccountConfig, env: EnvironmentConfig, ws: Workspace, account_file: str, env_file: str
) -> Iterator[Problem]:
    """A metastore without root storage needs one per catalog, and a credential to reach it."""
    ms = cfg.metastores.get(ws.region)
    if not env.catalog.create or ms is None or ms.storage_root:
        return
    if env.catalog.storage_root is None:
        yield Problem(
            env_file,
            ("catalog", "storage_root"),
            f"metastore {ws.region} in {account_file} has no storage root, so the catalog needs one",
            None,
            "s3://<bucket>/<prefix> (terraform-provider-databricks docs/resources/catalog.md)",
        )
    if ws.catalog_storage_role_arn is None and env.catalog.storage_credential is None:
        yield Problem(
            env_file,
            ("catalog", "storage_credential"),
            f"no storage credential: set workspaces.{env.environment}.catalog_storage_role_arn in "
            f"{account_file} (the account stack creates one) or name an existing credential here",
        )
