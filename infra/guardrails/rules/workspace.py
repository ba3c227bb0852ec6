"""Workspace settings: token lifetime, IP access lists, Security Reference Architecture toggles."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from infra.guardrails.params import EnvParams
from infra.guardrails.rules import Violation, rule
from infra.guardrails.stack import StackIndex, as_bool, as_number, listing
from infra.tfdoc import Resource

CONF = "databricks_workspace_conf"


def workspace_config(index: StackIndex) -> dict[str, str] | None:
    """All ``custom_config`` maps of the stack merged, values as lower-case strings; None if absent."""
    confs = list(index.of(CONF))
    if not confs:
        return None
    merged: dict[str, str] = {}
    for conf in confs:
        config = conf.values.get("custom_config")
        if isinstance(config, dict):
            merged.update({str(k): str(v).lower() for k, v in config.items()})
    return merged


def _missing(index: StackIndex) -> Violation:
    return Violation(None, f"stack {index.env} has no {CONF}", address=f"{CONF} (missing)")


def _at(index: StackIndex) -> Resource:
    return next(iter(index.of(CONF)))


@rule("DBX007", "max_token_lifetime_days")
def token_lifetime_cap(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    config = workspace_config(index)
    if config is None:
        yield _missing(index)
        return
    conf = _at(index)
    if config.get("enableTokensConfig") != "true":
        yield Violation(
            conf, 'custom_config.enableTokensConfig is not "true": token settings are not enforced'
        )
    days = as_number(config.get("maxTokenLifetimeDays"))
    if days is None or not 0 < days <= params.max_token_lifetime_days:
        yield Violation(
            conf,
            f"custom_config.maxTokenLifetimeDays {config.get('maxTokenLifetimeDays')!r}; "
            f"allowed 1..{params.max_token_lifetime_days}",
        )


def allow_lists(index: StackIndex) -> list[Resource]:
    return [
        r
        for r in index.of("databricks_ip_access_list")
        if str(r.values.get("list_type", "")).upper() == "ALLOW"
    ]


def active_allow_lists(index: StackIndex) -> list[Resource]:
    """ALLOW lists that are enabled and name at least one range."""
    return [
        r
        for r in allow_lists(index)
        if as_bool(r.values.get("enabled", True)) is not False and r.values.get("ip_addresses")
    ]


def open_ranges(res: Resource) -> list[str]:
    """CIDRs of an ALLOW list that admit the whole internet."""
    found = []
    for cidr in listing(res.values.get("ip_addresses")):
        try:
            network = ipaddress.ip_network(str(cidr), strict=False)
        except ValueError:
            continue  # interpolations and typos: Databricks validates the format
        if network.prefixlen == 0:
            found.append(str(cidr))
    return found


def ip_restriction_gaps(index: StackIndex) -> list[str]:
    """Why the stack's workspace is not restricted by IP access lists (empty: it is)."""
    config = workspace_config(index)
    gaps = []
    if config is None:
        gaps.append(f"it has no {CONF}")
    elif config.get("enableIpAccessLists") != "true":
        gaps.append('custom_config.enableIpAccessLists is not "true"')
    if not active_allow_lists(index):
        gaps.append("it has no enabled ALLOW databricks_ip_access_list")
    gaps += [f"{res.address} allows {cidr}" for res in allow_lists(index) for cidr in open_ranges(res)]
    return gaps


@rule("DBX010")
def ip_access_lists(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    config = workspace_config(index)
    if config is None:
        yield _missing(index)
    elif config.get("enableIpAccessLists") != "true":
        yield Violation(_at(index), 'custom_config.enableIpAccessLists is not "true"')
    if not active_allow_lists(index):
        yield Violation(
            None,
            f"stack {index.env} has no enabled ALLOW databricks_ip_access_list",
            "databricks_ip_access_list (missing)",
        )
    for res in allow_lists(index):
        for cidr in open_ranges(res):
            yield Violation(res, f"ALLOW list contains {cidr}: open to the internet")


@rule("DBX016", "workspace_settings")
def sra_settings(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    config = workspace_config(index)
    if config is None:
        yield _missing(index)
        return
    for key, wanted in params.workspace_settings.items():
        actual = config.get(key)
        if actual != str(wanted).lower():
            yield Violation(
                _at(index), f"custom_config.{key} is {actual!r}; required {str(wanted).lower()!r}"
            )
