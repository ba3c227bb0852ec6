"""Render the fleet dashboard template (``fleet.lvdash.json.j2``) to Lakeview's serialized JSON.

``table`` decides how a fleet table is named: three-level Unity Catalog names for the stacks, the
local engine's names for the demo. Everything else (SQL, widgets, layout) is the same text, so the
queries the demo runs on real data are the queries the deployed dashboard runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jinja2

from mlops_spec.naming import FLEET_TABLES, MONITORING_SCHEMA

TEMPLATE = Path(__file__).with_name("fleet.lvdash.json.j2")


class DashboardTemplateError(ValueError):
    """The dashboard template does not render to a Lakeview dashboard."""


def uc_tables(catalog: str) -> Callable[[str], str]:
    """Fleet tables as Unity Catalog names: ``<catalog>.monitoring.<table>``."""
    return lambda name: f"{catalog}.{MONITORING_SCHEMA}.{_known(name)}"


def local_tables(name: str) -> str:
    """Fleet tables as the local engine registers them (the bare table name)."""
    return _known(name)


def _known(name: str) -> str:
    if name not in FLEET_TABLES:
        raise DashboardTemplateError(
            f"{TEMPLATE.name}: unknown table {name!r}; allowed: {', '.join(FLEET_TABLES)}"
        )
    return name


def _query_lines(sql: str) -> str:
    """Lakeview concatenates queryLines without a separator: every line keeps its newline."""
    lines = [line + "\n" for line in sql.strip().splitlines()]
    if lines:
        lines[-1] = lines[-1].rstrip("\n")
    return json.dumps(lines)


def render(table: Callable[[str], str], template: Path = TEMPLATE) -> dict[str, Any]:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template.parent),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # JSON and SQL, not HTML; values go through |tojson
        keep_trailing_newline=True,
    )
    env.filters["query_lines"] = _query_lines
    try:
        text = env.get_template(template.name).render(table=table)
        dashboard: dict[str, Any] = json.loads(text)
    except (jinja2.TemplateError, json.JSONDecodeError) as exc:
        raise DashboardTemplateError(f"{template}: does not render to JSON: {exc}") from exc
    check(dashboard, template)
    return dashboard


def serialized(dashboard: Mapping[str, Any]) -> str:
    """Stable text for ``serialized_dashboard`` (a diff shows only real changes)."""
    return json.dumps(dashboard, sort_keys=True, separators=(",", ":"))


def datasets(dashboard: Mapping[str, Any]) -> dict[str, str]:
    """Dataset name -> SQL text."""
    return {d["name"]: "".join(d["queryLines"]) for d in dashboard["datasets"]}


def widgets(dashboard: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [item["widget"] for page in dashboard["pages"] for item in page.get("layout", [])]


def check(dashboard: Mapping[str, Any], source: Path = TEMPLATE) -> None:
    """Every widget reads a dataset that exists and asks only for fields its query names."""
    names = datasets(dashboard)
    problems = []
    for widget in widgets(dashboard):
        for q in widget.get("queries", []):
            dataset = q["query"]["datasetName"]
            if dataset not in names:
                problems.append(f"widget {widget['name']!r} reads unknown dataset {dataset!r}")
        fields = {f["name"] for q in widget.get("queries", []) for f in q["query"]["fields"]}
        for used in _encoded_fields(widget["spec"].get("encodings", {})):
            if used not in fields:
                problems.append(
                    f"widget {widget['name']!r} encodes {used!r}, which its query does not select"
                )
    if problems:
        raise DashboardTemplateError(f"{source}: " + "; ".join(problems))


def _encoded_fields(encodings: Mapping[str, Any]) -> list[str]:
    out = []
    for value in encodings.values():
        entries = value if isinstance(value, list) else [value]
        for entry in entries:
            if isinstance(entry, dict):
                if "fieldName" in entry:
                    out.append(entry["fieldName"])
                out += [f["fieldName"] for f in entry.get("fields", []) if "fieldName" in f]
    return out
