"""Markdown (a PR comment) and JSON (the full artifact) renderings of a Review.

GitHub rejects comments over 65,536 characters. The markdown shrinks in steps (attribute diffs
first, then long tables) and, as a last resort, is cut with a pointer to the full artifact.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from infra.review.cost import CostLine
from infra.review.model import EnvReview, ResourceChange, Review

GITHUB_COMMENT_LIMIT = 65_536
MARKER = "<!-- infra-review -->"  # the workflow finds and updates the comment by this marker
ICON = {"pass": "✅", "warn": "⚠️", "block": "⛔"}
_DEFAULT_POINTER = "the `review` workflow artifact (review.md, review.json)"


def render_json(review: Review) -> str:
    return json.dumps(review.to_dict(), indent=2, sort_keys=False, default=str) + "\n"


def _cell(value: Any, limit: int = 120) -> str:
    if value is None:
        return "—"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = text.replace("\n", " ").replace("|", "\\|").replace("`", "'")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _code(value: Any, limit: int = 120) -> str:
    return f"`{_cell(value, limit)}`" if value is not None else "—"


def _table(header: Iterable[str], rows: list[list[str]], max_rows: int | None, what: str) -> list[str]:
    header = list(header)
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    shown = rows if max_rows is None else rows[:max_rows]
    out += ["| " + " | ".join(r) + " |" for r in shown]
    if len(rows) > len(shown):
        out.append(f"\n_… {len(rows) - len(shown)} more {what} in the full report._")
    return out


def _money(value: float | None) -> str:
    return "—" if value is None else f"${value:,.0f}"


def _summary(review: Review) -> list[str]:
    rows = []
    for e in review.envs:
        n = {a: sum(c[a] for c in e.counts().values()) for a in ("create", "update", "replace", "delete")}
        gained = sum(a.change == "gained" for a in e.access)
        lost = len(e.access) - gained
        intro = sum(f.change == "introduced" for f in e.findings)
        resolved = len(e.findings) - intro
        cost = e.cost
        money = f"{_money(cost.monthly_before)} → {_money(cost.monthly_after)}" if cost else "—"
        rows.append(
            [
                f"**{e.env}**",
                f"{ICON[e.verdict]} {e.verdict}",
                str(n["create"]),
                str(n["update"]),
                str(n["replace"]),
                str(n["delete"]),
                f"+{gained} / -{lost}",
                str(len(e.escalations)),
                str(sum(len(p.changes) for p in e.policies) + len(e.guardrail_policy)),
                f"+{intro} / -{resolved}",
                money,
            ]
        )
    header = [
        "env",
        "verdict",
        "add",
        "change",
        "replace",
        "destroy",
        "access",
        "escalations",
        "policy rules",
        "findings",
        "worst case / month",
    ]
    return _table(header, rows, None, "environments")


def _banner(review: Review) -> list[str]:
    items = [(e, c) for e in review.envs for c in e.destructive]
    if not items:
        return []
    out = ["> [!CAUTION]", "> **Destructive changes**: Terraform will destroy these protected resources."]
    for e, c in items:
        env = e.env
        why = f" ({c.reason})" if c.reason else ""
        ack = e.acknowledged.get(c.address)
        why += f" — acknowledged in {ack.entry}, until {ack.expires}" if ack else ""
        out.append(
            f"> - **{env}**: {c.action} {c.type.removeprefix('databricks_')} `{_cell(c.name, 80)}` "
            f"— `{c.address}`{why}"
        )
        if c.protection:
            out.append(f">   {c.protection}")
    return out


def _changes(e: EnvReview, attrs: bool, max_rows: int | None) -> list[str]:
    counts = e.counts()
    rows = [
        [f"`{t}`", *(str(v[a]) if v[a] else "" for a in ("create", "update", "replace", "delete"))]
        for t, v in counts.items()
    ]
    out = _table(["type", "add", "change", "replace", "destroy"], rows, None, "types")
    if attrs:
        out += ["", *_attr_details(e.changes, max_rows)]
    else:
        listed = [
            [f"{c.action}", f"`{c.address}`", _cell(c.name, 80), _cell(c.reason, 80)] for c in e.changes
        ]
        out += ["", *_table(["action", "address", "name", "note"], listed, max_rows, "resources")]
    return out


def _attr_details(changes: list[ResourceChange], max_rows: int | None) -> list[str]:
    out = []
    shown = changes if max_rows is None else changes[:max_rows]
    for c in shown:
        head = f"- **{c.action}** `{c.address}` ({_cell(c.name, 80)})"
        out.append(head + (f" — {c.reason}" if c.reason else ""))
        for a in c.attrs[: max_rows or len(c.attrs)]:
            out.append(f"  - `{_cell(a.path, 80)}`: {_code(a.before)} → {_code(a.after)}")
        if max_rows and len(c.attrs) > max_rows:
            out.append(f"  - _… {len(c.attrs) - max_rows} more attributes in the full report_")
    if len(changes) > len(shown):
        out.append(f"\n_… {len(changes) - len(shown)} more resources in the full report._")
    return out


def _access(e: EnvReview, max_rows: int | None) -> list[str]:
    rows = [
        [
            ("🔺 " if a.escalation else "") + a.change,
            f"{_cell(a.principal, 60)} ({a.principal_kind})",
            _cell(a.securable, 90),
            f"`{a.privilege}`",
            f"**{a.escalation}**" if a.escalation else "",
        ]
        for a in e.access
    ]
    return _table(["", "principal", "securable", "privilege", "escalation"], rows, max_rows, "access changes")


def _policies(e: EnvReview, max_rows: int | None) -> list[str]:
    rows = []
    for p in e.policies:
        if p.unparsable:
            rows.append([_cell(p.name, 60), "—", "—", "—", p.unparsable])
        for c in p.changes:
            mark = "🔺 " if c.direction == "loosened" else ""
            rows.append(
                [
                    _cell(p.name, 60),
                    f"`{c.attribute}`",
                    _cell(c.before, 70),
                    _cell(c.after, 70),
                    mark + c.direction,
                ]
            )
    return _table(["policy", "attribute", "before", "after", "direction"], rows, max_rows, "rule changes")


def _guardrail_policy(e: EnvReview, max_rows: int | None) -> list[str]:
    rows = []
    for c in e.guardrail_policy:
        mark = "⛔ below floor, " if c.below_floor else "🔺 " if c.direction == "loosened" else ""
        rows.append(
            [
                f"`{_cell(c.file, 40)}`",
                f"`{_cell(c.key, 70)}`",
                _cell(c.before, 70),
                _cell(c.after, 70),
                mark + c.direction,
            ]
        )
    header = ["file", "setting", "before", "after", "direction"]
    return _table(header, rows, max_rows, "guardrail policy changes")


def _findings(e: EnvReview, max_rows: int | None) -> list[str]:
    rows = [
        [
            f.change,
            f"{f.rule_id} ({f.severity})",
            f"`{_cell(f.address, 80)}`",
            _cell(f.message, 140) + (" _(waived)_" if f.waived else ""),
        ]
        for f in e.findings
    ]
    return _table(["", "rule", "resource", "finding"], rows, max_rows, "findings")


def _cost_rows(before: tuple[CostLine, ...], after: tuple[CostLine, ...]) -> list[list[str]]:
    b = {c.address: c for c in before}
    a = {c.address: c for c in after}
    rows = []
    for addr in sorted(set(a) | set(b)):
        x, y = b.get(addr), a.get(addr)
        if x and y and (x.dbus_per_hour, x.usd_per_month) == (y.dbus_per_hour, y.usd_per_month):
            continue  # unchanged lines are in the JSON artifact
        line = y or x
        assert line is not None

        def dbu(c: CostLine | None) -> str:
            return "—" if c is None or c.dbus_per_hour is None else f"{c.dbus_per_hour:g}"

        rows.append(
            [
                line.kind,
                _cell(line.name, 60),
                f"{dbu(x)} → {dbu(y)}",
                f"{_money(x.usd_per_month if x else None)} → {_money(y.usd_per_month if y else None)}",
                _cell(line.note, 90),
            ]
        )
    return rows


def _cost(e: EnvReview, max_rows: int | None) -> list[str]:
    c = e.cost
    if c is None:
        return []
    sign = "+" if c.delta >= 0 else "-"
    out = [
        f"Worst-case list cost: **{_money(c.monthly_before)} → {_money(c.monthly_after)}** per month "
        f"({sign}{_money(abs(c.delta))})"
        + (f"; budget {_money(c.budget_usd_month)}" if c.budget_usd_month else "")
    ]
    if c.unpriced:
        names = ", ".join(_cell(j.name, 60) for j in c.unpriced[:5])
        more = f" and {len(c.unpriced) - 5} more" if len(c.unpriced) > 5 else ""
        out += ["", f"⚠️ {len(c.unpriced)} scheduled job(s) not priced, so not in the total: {names}{more}."]
    rows = _cost_rows(c.policies_before, c.policies_after) + _cost_rows(c.jobs_before, c.jobs_after)
    if rows:
        out += ["", *_table(["", "name", "DBU/h cap", "$/month", "basis"], rows, max_rows, "cost lines")]
    return out


def _workspaces(e: EnvReview, max_rows: int | None) -> list[str]:
    out: list[str] = []
    for w in e.workspaces:
        mark = "⛔ " if w.destructive else ""
        out += [f"**{mark}{_cell(w.workspace, 80)}**", ""]
        rows = [[e.part, e.action, _cell(e.what, 160), f"`{_cell(e.address, 90)}`"] for e in w.effects]
        out += [
            *_table(["part", "action", "what it does to the workspace", "address"], rows, max_rows, "changes")
        ]
        out.append("")
    return out


def _details(summary: str, body: list[str], open_: bool = False) -> list[str]:
    return [
        f"<details{' open' if open_ else ''}><summary>{summary}</summary>",
        "",
        *body,
        "",
        "</details>",
        "",
    ]


def _env(e: EnvReview, attrs: bool, max_rows: int | None) -> list[str]:
    out = [f"### {ICON[e.verdict]} {e.env}: {e.verdict}", ""]
    out += [f"- {r}" for r in e.reasons] or ["- no blocking or risky change found"]
    out += [f"- _source: {e.source}_", ""]
    n = len(e.changes)
    if e.workspaces:
        hit = sum(w.destructive for w in e.workspaces)
        names = ", ".join(_cell(w.workspace, 40) for w in e.workspaces)
        out += _details(
            f"Workspaces: {len(e.workspaces)} touched ({names}), {hit} with a destroy",
            _workspaces(e, max_rows),
            True,
        )
    if n:
        out += _details(f"Resources: {n} change(s)", _changes(e, attrs, max_rows))
    if e.access:
        esc = len(e.escalations)
        out += _details(
            f"Access: {len(e.access)} change(s), {esc} escalation(s)", _access(e, max_rows), esc > 0
        )
    if e.policies:
        loose = sum(p.loosened for p in e.policies)
        out += _details(
            f"Cluster policies: {len(e.policies)} changed, {loose} loosened",
            _policies(e, max_rows),
            loose > 0,
        )
    if e.guardrail_policy:
        loose = len(e.guardrails_loosened)
        out += _details(
            f"Guardrail policy: {len(e.guardrail_policy)} changed, {loose} loosened",
            _guardrail_policy(e, max_rows),
            loose > 0,
        )
    if e.findings:
        intro = sum(f.change == "introduced" for f in e.findings)
        out += _details(
            f"Guardrails: {intro} introduced, {len(e.findings) - intro} resolved",
            _findings(e, max_rows),
            intro > 0,
        )
    if e.cost and (
        e.cost.delta or e.cost.unpriced or _cost_rows(e.cost.policies_before, e.cost.policies_after)
    ):
        out += _details(
            f"Cost: {'+' if e.cost.delta >= 0 else '-'}{_money(abs(e.cost.delta))} per month worst case",
            _cost(e, max_rows),
        )
    out += [f"> {n}" for n in e.notes]
    return out


def _render(review: Review, attrs: bool, max_rows: int | None, pointer: str) -> str:
    out = [
        MARKER,
        f"## {ICON[review.verdict]} Infra review: {review.verdict.upper()}",
        "",
        f"`{_cell(review.base, 60)}` → `{_cell(review.head, 60)}`",
        "",
    ]
    out += _banner(review)
    out += ["", *_summary(review), ""]
    if review.approvals:
        out += ["#### Approvals required", ""]
        for a in review.approvals:
            where = f" ({', '.join(a.envs)})" if a.envs else ""
            out.append(f"- **{a.team}**{where}: " + "; ".join(_cell(r, 200) for r in a.reasons))
        out.append("")
    for e in review.envs:
        out += _env(e, attrs, max_rows)
    out += _details("Assumptions", [f"- {a}" for a in review.assumptions])
    out += [f"> {n}" for n in review.notes]
    out += ["", f"_Full report: {pointer}._", ""]
    return "\n".join(out)


def render_markdown(
    review: Review, limit: int = GITHUB_COMMENT_LIMIT, pointer: str = _DEFAULT_POINTER
) -> str:
    """The PR comment, at most ``limit`` characters; shrinks detail before it cuts."""
    for attrs, max_rows in ((True, None), (True, 40), (False, 40), (False, 10), (False, 3)):
        text = _render(review, attrs, max_rows, pointer)
        if len(text) <= limit:
            return text
    tail = f"\n\n_… truncated to fit a GitHub comment. Full report: {pointer}._\n"
    return text[: limit - len(tail)].rsplit("\n", 1)[0] + tail
