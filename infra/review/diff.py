"""The review core: two sets of synthesized documents (base, head) per environment -> Review.

Pure: no git, no subprocess, no file reads. ``infra.review.cli`` gathers the inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from infra.guardrails import GuardrailsError, Policies, Severity, evaluate
from infra.review.access import access_changes
from infra.review.approvals import approvals
from infra.review.attrs import attr_diffs
from infra.review.cost import costs, monthly_total
from infra.review.decommissions import Decommission, check_dates
from infra.review.guardrail_policy import guardrail_policy_changes
from infra.review.model import Acknowledged, Cost, EnvReview, FindingDelta, ResourceChange, Review
from infra.review.params import ReviewParams
from infra.review.policy_rules import policy_diff
from infra.review.resources import Res, Side, side_from_doc, sides_from_plan
from infra.review.workspace_impact import touches, workspace_impacts
from infra.tfdoc import resources_from_doc
from mlops_spec.config import ENV_NAMES, production_envs

# Attributes whose change makes Terraform destroy and recreate the resource (provider ForceNew).
# The synthesized diff can only guess from this table; a supplied plan says for sure.
FORCE_NEW = {
    "databricks_catalog": ("name", "storage_root", "provider_name", "share_name", "connection_name"),
    "databricks_schema": ("name", "catalog_name", "storage_root"),
    "databricks_volume": ("catalog_name", "schema_name", "volume_type", "storage_location"),
    "databricks_registered_model": ("name", "catalog_name", "schema_name"),
    # catalog/resource_sql_table.go, SqlTableInfo's tf:"force_new" tags (a rename is an ALTER)
    "databricks_sql_table": (
        "catalog_name",
        "schema_name",
        "table_type",
        "data_source_format",
        "partitions",
        "storage_credential_name",
        "options",
    ),
    "databricks_model_serving": ("name",),
    "databricks_secret_scope": ("name", "backend_type"),
    "databricks_secret_acl": ("scope", "principal"),
    "databricks_file": ("path",),
    "databricks_directory": ("path",),
    "databricks_service_principal": ("application_id",),
    "databricks_grants": ("catalog", "schema", "volume", "model", "table", "function"),
    "databricks_permissions": (
        "job_id",
        "cluster_policy_id",
        "experiment_id",
        "serving_endpoint_id",
        "directory_path",
        "registered_model_id",
    ),
}


@dataclass(frozen=True)
class Inputs:
    """Everything the core needs besides the documents."""

    params: ReviewParams
    base_policies: Policies | None = None  # guardrail policies of each side (None: skip guardrails)
    head_policies: Policies | None = None
    plans: Mapping[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # env -> (file, plan)
    budgets: Mapping[str, float] = field(default_factory=dict)  # env -> monthly_budget_usd
    changed_files: tuple[str, ...] = ()
    today: date | None = None
    # The production environments (``production: true`` in stacks/<env>.yaml); default: the shipped ones.
    production: tuple[str, ...] = field(default_factory=production_envs)


# Terraform docs, resource block, lifecycle: prevent_destroy "rejects operations to destroy the
# resource and returns an error", but "doesn't prevent Terraform from destroying the resource if you
# remove the resource configuration": the setting lives in the block that is removed.
REMOVED_BLOCK = (
    "prevent_destroy does not protect it: the resource block is removed, and the setting with it, so "
    "Terraform destroys the object. To keep the object, replace the block with a `removed` block "
    "(`lifecycle {{ destroy = false }}`){moved}."
)
REFUSED = (
    "prevent_destroy is set: Terraform refuses this plan (Instance cannot be destroyed), so the "
    "apply fails until the replacement is avoided or the protection is lifted."
)
UNGUARDED = "no prevent_destroy on it: nothing in Terraform stops the destroy."


def protection(action: str, before: Res | None, after: Res | None, renamed: bool) -> str:
    """What prevent_destroy does for a destroy or replace of this resource."""
    if action == "delete" or renamed:
        if before is not None and before.lifecycle.get("prevent_destroy") is True:
            return REMOVED_BLOCK.format(moved=", or a `moved` block for a rename" if renamed else "")
        return UNGUARDED
    if action == "replace":
        if after is not None and after.lifecycle.get("prevent_destroy") is True:
            return REFUSED
        return UNGUARDED
    return ""


def _identity(side: Side, res: Res) -> tuple[str, str]:
    return res.type, side.display(res)


def _change(
    address: str,
    base: Side,
    head: Side,
    action: str,
    protected: tuple[str, ...],
    reason: str = "",
    old: str | None = None,
) -> ResourceChange:
    b = base.resources.get(old or address)
    a = head.resources.get(address)
    res = a or b
    assert res is not None
    side = head if a else base
    # New and deleted resources show no attribute list: their values are in the stacks.
    attrs = (
        ()
        if action in ("create", "delete")
        else attr_diffs(res.type, b.values if b else None, a.values if a else None, base, head, address)
    )
    destructive = action in ("replace", "delete")
    return ResourceChange(
        address,
        res.type,
        str(side.display(res)),
        action,
        destructive,
        res.type in protected,
        reason,
        attrs if action != "delete" else (),
        old,
        protection(action, b, a, old is not None) if destructive else "",
    )


def synth_changes(base: Side, head: Side, protected: tuple[str, ...]) -> list[ResourceChange]:
    removed = sorted(set(base.resources) - set(head.resources))
    added = sorted(set(head.resources) - set(base.resources))
    # cdktf logical ids come from construct paths: a renamed construct is a new address for the
    # same object. Terraform destroys and recreates it unless someone writes a `moved` block.
    added_by_identity = {_identity(head, head.resources[a]): a for a in added}
    out: list[ResourceChange] = []
    renamed: set[str] = set()
    for old in removed:
        new = added_by_identity.get(_identity(base, base.resources[old]))
        if new and new not in renamed:
            renamed.add(new)
            out.append(
                _change(
                    new,
                    base,
                    head,
                    "replace",
                    protected,
                    f"address change: destroys and recreates (was {old})",
                    old,
                )
            )
        else:
            out.append(_change(old, base, head, "delete", protected))
    out += [_change(a, base, head, "create", protected) for a in added if a not in renamed]
    for address in sorted(set(base.resources) & set(head.resources)):
        b, a = base.resources[address], head.resources[address]
        if b.values == a.values:
            continue
        forced = [k for k in FORCE_NEW.get(a.type, ()) if b.values.get(k) != a.values.get(k)]
        if forced:
            out.append(
                _change(
                    address,
                    base,
                    head,
                    "replace",
                    protected,
                    f"{', '.join(forced)} changed: forces replacement (check the plan)",
                )
            )
        else:
            out.append(_change(address, base, head, "update", protected))
    return sorted(out, key=lambda c: (not (c.destructive and c.protected), c.type, c.address))


def plan_changes(base: Side, head: Side, protected: tuple[str, ...]) -> list[ResourceChange]:
    out = []
    for address, actions in sorted(head.actions.items()):
        if actions in ((), ("no-op",), ("read",)):
            continue
        if "delete" in actions and "create" in actions:
            action, reason = "replace", "plan: " + " then ".join(actions)
        elif "delete" in actions:
            action, reason = "delete", ""
        elif "create" in actions:
            action, reason = "create", ""
        else:
            action, reason = "update", ""
        out.append(_change(address, base, head, action, protected, reason))
    return sorted(out, key=lambda c: (not (c.destructive and c.protected), c.type, c.address))


def _finding_key(f: Any) -> tuple[str, str, str, str]:
    return (f.env, f.rule.id, f.address, f.message)


def guardrail_deltas(
    base_docs: Mapping[str, dict[str, Any]],
    head_docs: Mapping[str, dict[str, Any]],
    inputs: Inputs,
    notes: list[str],
) -> dict[str, list[FindingDelta]] | None:
    """Findings the change introduces and resolves, per env; None when the head is not checkable."""
    if inputs.head_policies is None:
        return {}

    def run(docs: Mapping[str, dict[str, Any]], policies: Policies) -> dict[tuple[str, str, str, str], Any]:
        resources = [
            r for env, doc in docs.items() for r in resources_from_doc(doc, env, f"{env}/cdk.tf.json")
        ]
        return {_finding_key(f): f for f in evaluate(resources, policies, inputs.today).findings}

    try:
        head = run(head_docs, inputs.head_policies)
    except GuardrailsError as exc:
        notes.append(f"guardrails cannot evaluate the head: {exc}")
        return None
    base: dict[tuple[str, str, str, str], Any] = {}
    if inputs.base_policies is not None and base_docs:
        try:
            base = run(base_docs, inputs.base_policies)
        except GuardrailsError as exc:
            notes.append(
                f"guardrails cannot evaluate the base (every head finding counts as introduced): {exc}"
            )
    out: dict[str, list[FindingDelta]] = {}
    for key in sorted(set(head) - set(base)):
        f = head[key]
        out.setdefault(f.env, []).append(
            FindingDelta("introduced", f.rule.id, f.rule.severity.name, f.address, f.message, f.waived)
        )
    for key in sorted(set(base) - set(head)):
        f = base[key]
        out.setdefault(f.env, []).append(
            FindingDelta("resolved", f.rule.id, f.rule.severity.name, f.address, f.message, f.waived)
        )
    return out


def _cost(base: Side, head: Side, params: ReviewParams, budget: float | None) -> Cost:
    pb, jb = costs(base, params.pricing)
    pa, ja = costs(head, params.pricing)
    return Cost(
        tuple(pb), tuple(pa), tuple(jb), tuple(ja), monthly_total(pb, jb), monthly_total(pa, ja), budget
    )


def _waiver_days(inputs: Inputs) -> dict[str, int]:
    """Each environment's ``max_waiver_days``: acknowledgements expire as guardrail waivers do."""
    head = inputs.head_policies
    return {env: p.max_waiver_days for env, p in head.params.items()} if head is not None else {}


def _guardrail_reasons(er: EnvReview, inputs: Inputs, block: list[str], warn: list[str]) -> None:
    owner = ", ".join(inputs.params.ownership.approvers_for("guardrail_loosened"))
    floors = list(inputs.head_policies.floor_problems) if inputs.head_policies else []
    below = [c.key for c in er.guardrails_loosened if c.below_floor]
    if below or floors:
        keys = ", ".join(below) or f"{len(floors)} parameter(s) past their floors (see notes)"
        block.append(f"guardrail policy loosened below its floors: {keys}; needs {owner}")
    elif er.guardrails_loosened:
        keys = ", ".join(c.key for c in er.guardrails_loosened)
        warn.append(f"guardrail policy loosened: {keys}; needs {owner}")


def _verdict(er: EnvReview, inputs: Inputs, findings_ok: bool) -> None:
    params = inputs.params
    t = params.ownership.thresholds
    fail_on = Severity.parse(t.guardrails_fail_on)
    block: list[str] = []
    warn: list[str] = []
    if not findings_ok:
        block.append("guardrails could not evaluate the head (see notes)")
    _guardrail_reasons(er, inputs, block, warn)
    introduced = [f for f in er.findings if f.change == "introduced" and not f.waived]
    failing = [f for f in introduced if Severity.parse(f.severity) >= fail_on]
    if failing:
        block.append(f"{len(failing)} guardrail finding(s) at or above {fail_on.name} introduced")
    elif introduced:
        warn.append(f"{len(introduced)} guardrail finding(s) below {fail_on.name} introduced")
    if er.unacknowledged:
        text = f"{len(er.unacknowledged)} protected resource(s) destroyed or replaced"
        (block if er.env in inputs.production else warn).append(text)
    for entry, acks in _by_entry(er).items():
        ack = acks[0]
        warn.append(
            f"{len(acks)} protected resource(s) destroyed as acknowledged in {entry} "
            f"({ack.owner}, until {ack.expires}): {ack.reason}"
        )
    hit = [w.workspace for w in er.workspaces if w.destructive]
    if hit:
        warn.append(f"workspace(s) lose something they are or run on: {', '.join(hit)} (see Workspaces)")
    if er.escalations:
        warn.append(f"{len(er.escalations)} access escalation(s)")
    loosened = [p.name for p in er.policies if p.loosened]
    if loosened:
        warn.append(f"cluster policy loosened: {', '.join(loosened)}")
    if er.cost:
        c = er.cost
        over_ratio = c.monthly_before > 0 and c.delta > t.cost_increase_ratio * c.monthly_before
        if c.delta > t.cost_increase_usd_month or (over_ratio and c.delta > 0):
            warn.append(
                f"worst-case monthly cost +${c.delta:,.0f} (threshold ${t.cost_increase_usd_month:,.0f} "
                f"or {t.cost_increase_ratio:.0%})"
            )
            er.kinds.add("cost_increase")
        if c.budget_usd_month and c.monthly_after > c.budget_usd_month:
            warn.append(
                f"worst case ${c.monthly_after:,.0f}/month exceeds the budget ${c.budget_usd_month:,.0f}"
            )
    er.reasons = block + warn
    er.verdict = "block" if block else "warn" if warn else "pass"


def _by_entry(er: EnvReview) -> dict[str, list[Acknowledged]]:
    out: dict[str, list[Acknowledged]] = {}
    for ack in er.acknowledged.values():
        out.setdefault(ack.entry, []).append(ack)
    return out


def acknowledge(er: EnvReview, base: Side, head: Side, entries: tuple[Decommission, ...]) -> None:
    """Mark each protected destroy that an acknowledgement covers (by address or construct path)."""
    for change in er.destructive:
        res = base.resources.get(change.old_address or change.address) or head.resources.get(change.address)
        path = res.construct_path if res is not None else None
        entry = next((d for d in entries if d.covers(er.env, change.address, path)), None)
        if entry is None and change.old_address:
            entry = next((d for d in entries if d.covers(er.env, change.old_address, path)), None)
        if entry is not None:
            er.acknowledged[change.address] = Acknowledged(
                change.address, entry.where, entry.owner, entry.reason, entry.expires.isoformat()
            )


def _kinds(er: EnvReview) -> set[str]:
    kinds = set()
    if er.changes:
        kinds.add("any")
    if er.access:
        kinds.add("access")
    if er.escalations:
        kinds.add("escalation")
    if er.destructive or any(w.destructive for w in er.workspaces):
        kinds.add("destructive")
    if er.policies:
        kinds.add("policy_change")
    if any(p.loosened for p in er.policies):
        kinds.add("policy_loosened")
    if any(f.change == "introduced" and not f.waived for f in er.findings):
        kinds.add("guardrail_introduced")
    if er.guardrails_loosened:
        kinds.add("guardrail_loosened")
    return kinds


def review_env(env: str, base: Side, head: Side, inputs: Inputs, source: str) -> EnvReview:
    protected = inputs.params.ownership.protected_types
    er = EnvReview(env, source)
    er.changes = plan_changes(base, head, protected) if head.actions else synth_changes(base, head, protected)
    er.access = access_changes(env, base, head, inputs.production)
    # A deleted policy is listed as destroyed; its rules are not "loosened".
    for address, a in sorted(head.resources.items()):
        b = base.resources.get(address)
        if a.type != "databricks_cluster_policy" or (b and b.values == a.values):
            continue
        before = b.values.get("definition") if b else None
        diff = policy_diff(env, address, str(head.display(a)), before, a.values.get("definition"))
        if diff:
            er.policies.append(diff)
    er.cost = _cost(base, head, inputs.params, inputs.budgets.get(env))
    return er


def with_lifecycle(side: Side, synthesized: Side) -> Side:
    """``side`` with each resource's lifecycle and construct path taken from the synthesized stack."""
    for address, res in side.resources.items():
        known = synthesized.resources.get(address)
        if known is not None:
            side.resources[address] = replace(
                res, lifecycle=res.lifecycle or known.lifecycle, construct_path=known.construct_path
            )
    return side


def diff(
    base_docs: Mapping[str, dict[str, Any]],
    head_docs: Mapping[str, dict[str, Any]],
    inputs: Inputs,
    base_label: str = "base",
    head_label: str = "head",
) -> Review:
    """Compare per-environment documents. An env missing on one side is all-create or all-delete."""
    notes: list[str] = []
    envs_seen = sorted(set(base_docs) | set(head_docs), key=_env_order)
    check_dates(inputs.params.decommissions, envs_seen, inputs.today or date.today(), _waiver_days(inputs))
    deltas = guardrail_deltas(base_docs, head_docs, inputs, notes)
    policy_changes = guardrail_policy_changes(inputs.base_policies, inputs.head_policies)
    if inputs.head_policies is not None:
        notes += list(inputs.head_policies.floor_problems)
    envs = []
    for env in envs_seen:
        base = side_from_doc(base_docs.get(env, {}), env, f"{base_label}:{env}")
        head = side_from_doc(head_docs.get(env, {}), env, f"{head_label}:{env}")
        # Which workspace each resource touches: the synthesized graph (a plan's addresses are its).
        base_touches, head_touches = (
            touches(base_docs.get(env, {}), base),
            touches(head_docs.get(env, {}), head),
        )
        source = "synthesized diff"
        if env in inputs.plans:
            file, plan = inputs.plans[env]
            # Plan JSON carries no lifecycle settings; the synthesized stacks of each side do.
            synth_base, synth_head = base, head
            base, head = sides_from_plan(plan, env, file)
            base, head = with_lifecycle(base, synth_base), with_lifecycle(head, synth_head)
            source = f"plan {file}"
        er = review_env(env, base, head, inputs, source)
        acknowledge(er, base, head, inputs.params.decommissions)
        er.findings = (deltas or {}).get(env, [])
        er.workspaces = workspace_impacts(er.changes, base_touches, head_touches)  # before kinds, verdict
        er.guardrail_policy = [c for c in policy_changes if env in c.envs]
        er.kinds = _kinds(er)
        _verdict(er, inputs, deltas is not None)
        envs.append(er)
    used = {ack.entry for e in envs for ack in e.acknowledged.values()}
    notes += [
        f"{d.where} ({d.resource} in {d.env}) covers no destroy in this change; remove it once applied"
        for d in inputs.params.decommissions
        if d.where not in used
    ]
    review = Review(base_label, head_label, envs, notes=notes)
    review.approvals = approvals(review, inputs.params.ownership, inputs.changed_files)
    review.assumptions = inputs.params.pricing.assumption_lines()
    return review


def _env_order(env: str) -> tuple[int, str]:
    return (ENV_NAMES.index(env) if env in ENV_NAMES else len(ENV_NAMES), env)
