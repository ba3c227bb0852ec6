"""The account stack: workspaces, their metastore assignments, and what must never be lost or exposed.

A workspace belongs to the environment its ``custom_tags.<env_tag>`` names (the platform tags every
workspace it creates). A prod workspace is one whose tag says so, or whose workspace name, deployment
name or construct path mentions a ``prod_workspace_envs`` entry as a word (``mlops-prod``): either
signal is enough, so dropping the tag does not make a prod workspace exempt.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from infra.guardrails.params import EnvParams
from infra.guardrails.rules import Violation, rule
from infra.guardrails.rules.workspace import ip_restriction_gaps
from infra.guardrails.stack import StackIndex, as_bool, blocks, is_interpolation
from infra.tfdoc import Resource

WORKSPACE = "databricks_mws_workspaces"
PRIVATE_ACCESS = "databricks_mws_private_access_settings"
METASTORE = "databricks_metastore"
METASTORE_ASSIGNMENT = "databricks_metastore_assignment"
PERMISSION_ASSIGNMENT = "databricks_mws_permission_assignment"
_WORD = re.compile(r"[^a-z0-9]+")


def workspace_env(ws: Resource, params: EnvParams) -> tuple[str | None, bool]:
    """(environment, whether a literal env tag says so). Prod wins when tag and names disagree."""
    tags = ws.values.get("custom_tags")
    tag = tags.get(params.env_tag) if params.env_tag and isinstance(tags, dict) else None
    tagged = isinstance(tag, str) and not is_interpolation(tag)
    names = [ws.values.get("workspace_name"), ws.values.get("deployment_name"), ws.construct_path]
    words = {w for n in names if isinstance(n, str) for w in _WORD.split(n.lower())}
    if tagged and tag in params.prod_workspace_envs:
        return tag, True
    named = next((env for env in params.prod_workspace_envs if env in words), None)
    if named:
        return named, tagged
    return (tag if tagged else None), tagged


def is_prod_workspace(ws: Resource, params: EnvParams) -> bool:
    return workspace_env(ws, params)[0] in params.prod_workspace_envs


def workspace_key(index: StackIndex, value: Any) -> str | None:
    """What identifies a workspace in a ``workspace_id``: the workspace's address, or the literal id."""
    if value is None or value == "":
        return None
    res, _ = index.target(value)
    if res is not None:
        return res.address
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return str(int(value))
    text = str(value).strip()
    return text if text else None


def _label(key: str) -> str:
    return key if key.startswith(WORKSPACE) else f"workspace {key}"


# --- DBX021 ------------------------------------------------------------------------------------


def _private_access(index: StackIndex, ws: Resource) -> str | None:
    """None when the workspace is private, else why it is reachable from the internet."""
    value = ws.values.get("private_access_settings_id")
    if value in (None, ""):
        return "no private_access_settings_id"
    settings, _ = index.target(value)
    if settings is None or settings.type != PRIVATE_ACCESS:
        return f"private_access_settings_id {value!r} is not a {PRIVATE_ACCESS} of this stack"
    public = settings.values.get("public_access_enabled")
    if as_bool(public) is False:
        return None
    return f"{settings.address} has public_access_enabled {public!r}"


@rule("DBX021", "prod_workspace_envs", "env_tag")
def private_prod_workspace(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    for ws in index.of(WORKSPACE):
        env, tagged = workspace_env(ws, params)
        if env is None:
            if params.env_tag and not tagged:
                yield Violation(
                    ws,
                    f"no literal custom_tags.{params.env_tag}: cannot tell whether it is one of the "
                    f"{params.prod_workspace_envs} workspaces that must be private",
                )
            continue
        if env not in params.prod_workspace_envs:
            continue
        public = _private_access(index, ws)
        if public is None:
            continue
        peer = index.peer(env)
        if peer is None:
            yield Violation(
                ws,
                f"{env} workspace is reachable from the internet ({public}) and the {env} stack is not "
                "part of this run, so its IP access lists cannot vouch for it",
            )
            continue
        gaps = ip_restriction_gaps(peer)
        if gaps:
            yield Violation(
                ws,
                f"{env} workspace is reachable from the internet ({public}) and the {env} stack does "
                f"not restrict it: {'; '.join(gaps)}",
            )


# --- DBX022 ------------------------------------------------------------------------------------


@rule("DBX022")
def workspace_metastore_assignment(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    assigned: dict[str, list[Resource]] = defaultdict(list)
    for assignment in index.of(METASTORE_ASSIGNMENT):
        key = workspace_key(index, assignment.values.get("workspace_id"))
        if key is None:
            yield Violation(assignment, "no workspace_id: it assigns the metastore to nothing")
        else:
            assigned[key].append(assignment)
    for key, found in sorted(assigned.items()):
        if len(found) > 1:
            names = ", ".join(a.address for a in found)
            yield Violation(found[1], f"{_label(key)} is assigned more than one metastore ({names})")
    for ws in index.of(WORKSPACE):
        if ws.address not in assigned:
            yield Violation(
                ws,
                f"no {METASTORE_ASSIGNMENT} with workspace_id = ${{{ws.address}.workspace_id}}: "
                "the workspace has no Unity Catalog",
            )
    workspaces = {ws.address for ws in index.of(WORKSPACE)}
    reported: set[str] = set()
    for perm in index.of(PERMISSION_ASSIGNMENT):
        key = workspace_key(index, perm.values.get("workspace_id"))
        if key is None or (key in workspaces and key not in assigned):
            continue  # a missing workspace_id is the provider's error; the workspace is reported above
        if key not in assigned:
            if key not in reported:  # once per brownfield workspace, on its first identity assignment
                reported.add(key)
                yield Violation(
                    perm,
                    f"{_label(key)} gets identities but has no {METASTORE_ASSIGNMENT} with the same "
                    "workspace_id: without a metastore there is no identity federation",
                )
            continue
        if perm.lifecycle is None or len(assigned[key]) > 1:
            continue  # plans carry no depends_on (the engine notes it); two metastores are reported above
        depends = perm.depends_on
        missing = [a.address for a in assigned[key] if a.address not in depends]
        if missing:
            yield Violation(
                perm,
                f"does not depend on {missing[0]}: Terraform may assign identities before the metastore "
                "assignment turns identity federation on",
            )


# --- DBX023 ------------------------------------------------------------------------------------


def _kept(res: Resource, why: str) -> Iterator[Violation]:
    # Plans carry no lifecycle settings; there the planned actions are what counts (as in DBX019).
    if res.lifecycle is not None and as_bool(res.lifecycle.get("prevent_destroy")) is not True:
        yield Violation(res, f"lifecycle.prevent_destroy is not true: {why}")
    if "delete" in res.actions:
        yield Violation(res, f"the plan replaces it ({'/'.join(res.actions)}): {why}")


METASTORE_WHY = "destroying the metastore loses every catalog's metadata and grants in the region"
WORKSPACE_WHY = "destroying the prod workspace deletes its jobs, endpoints and workspace files"


@rule("DBX023", "prod_workspace_envs")
def account_destroy_protection(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    for metastore in index.of(METASTORE):
        force = metastore.values.get("force_destroy")
        if as_bool(force) is True or is_interpolation(force):
            yield Violation(metastore, f"force_destroy is {force!r}: {METASTORE_WHY}")
        yield from _kept(metastore, METASTORE_WHY)
    for ws in index.of(WORKSPACE):
        if is_prod_workspace(ws, params):
            yield from _kept(ws, WORKSPACE_WHY)
    for res in index.deleted:
        if res.type == METASTORE:
            yield Violation(res, f"the plan destroys it: {METASTORE_WHY}")
        elif res.type == WORKSPACE and is_prod_workspace(res, params):
            yield Violation(res, f"the plan destroys it: {WORKSPACE_WHY}")


# --- DBX024 ------------------------------------------------------------------------------------


@rule("DBX024")
def no_workspace_token(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    for ws in index.of(WORKSPACE):
        if blocks(ws.values, "token") or ws.values.get("token"):
            yield Violation(
                ws,
                "token block: Terraform creates a personal access token and keeps it in state; "
                "authenticate the workspace provider with OAuth (a service principal) instead",
            )
