"""The fleet dashboard on one machine: the template's SQL run on the local fleet tables, as an HTML page.

``python -m infra.dashboards.local --root .local/dev`` renders the same template the stacks deploy
(``infra.dashboards.template``) with local table names, runs every dataset's SQL with Apache
DataFusion (``deltalake.QueryBuilder``) on the Delta tables the demo's inventory job wrote under
``<root>/tables/monitoring/``, and writes ``<root>/dashboard/index.html``: the widgets drawn in the
browser from the dashboard's own encodings (``page.js``), each with its rows, or the query's error.
A dataset that fails is shown as an error on its widgets, never dropped; ``make dashboard-check``
fails on it. Exit codes: 0 written, 1 a query failed (the page is still written), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from infra.dashboards.template import datasets, local_tables, render
from mlops_spec.exit_codes import EXIT_BAD_INPUT, EXIT_OK, EXIT_REFUSED
from mlops_spec.naming import FLEET_TABLES, MONITORING_SCHEMA

HERE = Path(__file__).parent


@dataclass
class QueryResult:
    columns: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # NaN: JSON has no such number
        return None
    return value


def run_queries(sql: Mapping[str, str], root: Path) -> dict[str, QueryResult]:
    """Each dataset's SQL on the local fleet tables (a missing table is that query's error)."""
    import pyarrow as pa  # type: ignore[import-untyped]  # ships no type information
    from deltalake import DeltaTable, QueryBuilder

    builder = QueryBuilder()
    for table in FLEET_TABLES:
        path = root / "tables" / MONITORING_SCHEMA / table
        if (path / "_delta_log").is_dir():
            builder.register(table, DeltaTable(str(path)))
    results = {}
    for name, text in sql.items():
        try:
            table = pa.table(builder.execute(text).read_all())
        except Exception as exc:  # DataFusion planning or execution error: shown on the page
            results[name] = QueryResult(error=f"{type(exc).__name__}: {exc}")
            continue
        rows = [{k: _plain(v) for k, v in row.items()} for row in table.to_pylist()]
        results[name] = QueryResult(list(table.column_names), rows)
    return results


def page(dashboard: Mapping[str, Any], results: Mapping[str, QueryResult], title: str) -> str:
    data = {
        "title": title,
        "dashboard": dashboard,
        "results": {k: {"columns": r.columns, "rows": r.rows, "error": r.error} for k, r in results.items()},
    }
    payload = json.dumps(data, sort_keys=True).replace("</", "<\\/")  # never closes the script element
    html = (HERE / "page.html").read_text(encoding="utf-8")
    script = (HERE / "page.js").read_text(encoding="utf-8")
    return html.replace("/*DATA*/", payload).replace("/*SCRIPT*/", script).replace("{{title}}", title)


def render_local(root: Path, out: Path | None = None, title: str = "Model fleet (local)") -> tuple[Path, int]:
    """Write the page; returns it and the number of failed queries."""
    dashboard = render(local_tables)
    results = run_queries(datasets(dashboard), root)
    out = out or root / "dashboard" / "index.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page(dashboard, results, title), encoding="utf-8")
    return out, sum(1 for r in results.values() if r.error)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.dashboards.local", description=__doc__)
    parser.add_argument("--root", type=Path, default=Path(".local") / "dev", help="Local project folder.")
    parser.add_argument("--out", type=Path, help="HTML file (default: <root>/dashboard/index.html).")
    args = parser.parse_args(argv)
    if not (args.root / "tables").is_dir():
        print(f"error: {args.root}/tables: no local tables; run `make demo` first", file=sys.stderr)
        return EXIT_BAD_INPUT
    out, failed = render_local(args.root, args.out, f"Model fleet ({args.root.name}, local)")
    print(f"dashboard: {out} ({failed} failed queries)")
    return EXIT_REFUSED if failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
