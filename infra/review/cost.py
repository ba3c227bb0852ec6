"""Worst-case list cost per cluster policy and per scheduled job, from ``policies/pricing.yaml``.

Worst case = the DBU/hour cap the policy enforces (``dbus_per_hour`` maxValue) x $/DBU of the
compute kind (the policy's ``cluster_type``). Monthly: interactive policies run business hours;
scheduled jobs run as often as their Quartz cron fires, each run as long as the job's timeout.
Every assumption is stated in the pricing file and printed in the report.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from infra.review.params import Pricing
from infra.review.resources import Side
from infra.tfdoc import block, blocks
from mlops_spec.config.cron import parse as parse_cron


@dataclass(frozen=True, slots=True)
class CostLine:
    kind: str  # policy | job | warehouse
    address: str
    name: str
    dbus_per_hour: float | None
    usd_per_hour: float | None
    hours_per_month: float | None
    usd_per_month: float | None
    note: str = ""
    policies: tuple[str, ...] = ()  # job: the policies its clusters use

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def runs_per_month(cron: str, days_per_month: float) -> float:
    """How often a Quartz cron fires in an average month; raises CronError (a ValueError) if invalid."""
    return parse_cron(cron).runs_per_month(days_per_month)


def _definition(side: Side, policy: Any) -> tuple[str | None, dict[str, Any]]:
    """The policy a cluster names (``${ref}`` in a stack, the policy's id in a plan) and its rules."""
    res = side.resolve(policy, ("databricks_cluster_policy",))
    if res is None:
        return None, {}
    try:
        data = json.loads(res.values.get("definition") or "{}")
    except (TypeError, ValueError):
        data = {}
    return res.address, data if isinstance(data, dict) else {}


def _cap(definition: dict[str, Any]) -> float | None:
    rule = definition.get("dbus_per_hour") or {}
    cap = rule.get("maxValue") if rule.get("type") == "range" else rule.get("value")
    return float(cap) if isinstance(cap, int | float) else None


def _compute_kind(definition: dict[str, Any]) -> str:
    rule = definition.get("cluster_type") or {}
    values = [rule.get("value")] if rule.get("type") == "fixed" else rule.get("values") or []
    return "jobs_compute" if values and all(v in ("job", "dlt") for v in values) else "all_purpose"


def policy_costs(side: Side, pricing: Pricing, job_lines: list[CostLine]) -> list[CostLine]:
    a = pricing.assumptions
    out = []
    for res in sorted(side.resources.values(), key=lambda r: r.address):
        if res.type != "databricks_cluster_policy":
            continue
        _, definition = _definition(side, f"${{{res.address}.id}}")
        cap, kind = _cap(definition), _compute_kind(definition)
        price = pricing.price(kind)
        per_hour = cap * price if cap is not None and price is not None else None
        if kind == "all_purpose":
            hours = a.interactive_hours_per_month * a.interactive_clusters_per_policy
            monthly = per_hour * hours if per_hour is not None else None
            note = (
                f"{kind}; {a.interactive_clusters_per_policy} cluster x {a.interactive_hours_per_month:g} h"
            )
        else:
            mine = [j for j in job_lines if res.address in j.policies and j.usd_per_month is not None]
            hours = sum(j.hours_per_month or 0 for j in mine)
            monthly = sum(j.usd_per_month or 0 for j in mine)
            note = f"{kind}; sum of {len(mine)} scheduled job(s) on this policy"
        if cap is None:
            note += "; no dbus_per_hour cap: unbounded"
        name = str(side.label(res.values.get("name", res.name)))
        out.append(CostLine("policy", res.address, name, cap, per_hour, hours, monthly, note))
    return out


def _run_hours(job: dict[str, Any], default: float) -> float:
    timeout = job.get("timeout_seconds")
    return float(timeout) / 3600 if isinstance(timeout, int | float) and timeout > 0 else default


def _clusters(job: dict[str, Any]) -> list[dict[str, Any]]:
    """Each job cluster's ``new_cluster`` (an object in a stack, a one-item list in a plan)."""
    return [block(c, "new_cluster") for c in blocks(job, "job_cluster")]


def job_costs(side: Side, pricing: Pricing) -> list[CostLine]:
    a = pricing.assumptions
    out = []
    for res in sorted(side.resources.values(), key=lambda r: r.address):
        if res.type != "databricks_job":
            continue
        schedule = block(res.values, "schedule")
        if not schedule.get("quartz_cron_expression"):
            continue  # triggered by other jobs or by hand: no schedule to price
        name = str(res.values.get("name", res.name))
        paused = schedule.get("pause_status") == "PAUSED"
        try:
            runs = 0.0 if paused else runs_per_month(schedule["quartz_cron_expression"], a.days_per_month)
        except ValueError as exc:
            out.append(CostLine("job", res.address, name, None, None, None, None, f"not priced: {exc}"))
            continue
        dbus, policies, unpriced = 0.0, [], []
        for cluster in _clusters(res.values):
            policy_address, definition = _definition(side, cluster.get("policy_id"))
            cap = _cap(definition)
            if cap is None:
                node_rate = pricing.node_dbus_per_hour.get(str(cluster.get("node_type_id")))
                workers = block(cluster, "autoscale").get("max_workers", cluster.get("num_workers"))
                if node_rate is None or not isinstance(workers, int):
                    unpriced.append(str(cluster.get("node_type_id")))
                    continue
                cap = node_rate * (workers + 1)
            dbus += cap
            if policy_address:
                policies.append(policy_address)
        hours = runs * _run_hours(res.values, a.default_run_hours)
        price = pricing.price("jobs_compute") or 0.0
        note = (
            "paused schedule; " if paused else ""
        ) + f"{runs:.1f} runs/month x {_run_hours(res.values, a.default_run_hours):g} h"
        if unpriced or not _clusters(res.values):
            note += "; not priced: no job cluster with a policy cap or a node DBU rate"
            out.append(CostLine("job", res.address, name, None, None, hours, None, note, tuple(policies)))
            continue
        out.append(
            CostLine(
                "job",
                res.address,
                name,
                dbus,
                dbus * price,
                hours,
                dbus * price * hours,
                note,
                tuple(policies),
            )
        )
    return out


def warehouse_costs(side: Side, pricing: Pricing) -> list[CostLine]:
    """SQL warehouses: every cluster at its size's DBU/h for the assumed hours (kind sql_*)."""
    hours = pricing.assumptions.warehouse_hours_per_month
    out = []
    for res in sorted(side.resources.values(), key=lambda r: r.address):
        if res.type != "databricks_sql_endpoint":
            continue
        v = res.values
        kind = (
            "sql_serverless"
            if v.get("enable_serverless_compute") in (True, "true")
            else ("sql_pro" if v.get("warehouse_type") == "PRO" else "sql_classic")
        )
        clusters = v.get("max_num_clusters") or v.get("min_num_clusters") or 1
        rate, price = pricing.warehouse_dbus_per_hour.get(str(v.get("cluster_size"))), pricing.price(kind)
        name = str(side.label(v.get("name", res.name)))
        if rate is None or price is None or not isinstance(clusters, int | float):
            note = f"{kind}; not priced: no DBU/h for size {v.get('cluster_size')!r} or no $/DBU for {kind}"
            out.append(CostLine("warehouse", res.address, name, None, None, hours, None, note))
            continue
        dbus = rate * clusters
        note = f"{kind}; {clusters:g} cluster(s) x {rate:g} DBU/h ({v.get('cluster_size')}) x {hours:g} h"
        out.append(
            CostLine("warehouse", res.address, name, dbus, dbus * price, hours, dbus * price * hours, note)
        )
    return out


def costs(side: Side, pricing: Pricing) -> tuple[list[CostLine], list[CostLine]]:
    """(policy and warehouse lines, job lines) for one side of one environment."""
    jobs = job_costs(side, pricing)
    return policy_costs(side, pricing, jobs) + warehouse_costs(side, pricing), jobs


def monthly_total(policies: list[CostLine], jobs: list[CostLine]) -> float:
    """All-purpose policies, warehouses and scheduled jobs (job policies are the sum of their jobs)."""
    interactive = sum(
        p.usd_per_month or 0 for p in policies if p.note.startswith("all_purpose") or p.kind == "warehouse"
    )
    return interactive + sum(j.usd_per_month or 0 for j in jobs)
