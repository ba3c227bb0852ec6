"""The fleet dashboard: one template, deployed with Unity Catalog names and run locally on real tables.

Proves: the template renders to a Lakeview dashboard whose widgets read datasets and fields that
exist; the deployed and the local rendering differ only in table names; every dataset's SQL runs
on fleet tables written by the inventory's own schema, locally (Apache DataFusion) and on Spark SQL
(the engine behind Databricks SQL), with the same rows; the alerts' SQL runs on Spark and fires on
the planted conditions; the local page carries each query's rows or its error; the browser check
reads empty charts, query errors and a page that never finished from the DOM. Does not prove: that
Databricks renders the widgets as the local page does (the page draws them from the same encodings),
or Databricks SQL features Spark lacks.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from infra.constructs.fleet import alert_queries
from infra.dashboards import check as browser_check
from infra.dashboards.local import main as local_main
from infra.dashboards.local import render_local, run_queries
from infra.dashboards.template import (
    TEMPLATE,
    DashboardTemplateError,
    datasets,
    local_tables,
    render,
    uc_tables,
    widgets,
)
from ml_jobs.fleet.inventory import DECISION_COLUMNS, INVENTORY_COLUMNS, METRIC_COLUMNS, typed
from mlops_spec.naming import FLEET_DECISIONS_TABLE, FLEET_METRICS_TABLE, INVENTORY_TABLE, MONITORING_SCHEMA

START = datetime(2025, 3, 1, tzinfo=UTC)


def _metric(base: dict, column: str, metric: str, value: float, drifted: bool = False) -> dict:
    return {**base, "column": column, "metric": metric, "value": value, "threshold": None, "drifted": drifted}


def _inventory_row(model: str, flag: str, status: str, floor: float | None = None) -> dict:
    return {
        "inventory_time": START + timedelta(days=3),
        "env": "dev",
        "model": model,
        "full_name": f"mlops_dev.models.{model}",
        "flag": flag,
        "versions": 1 if flag == "ok" else 0,
        "champion_version": "1" if flag == "ok" else None,
        "roc_auc_floor": floor,
        "last_window_end": START + timedelta(days=3) if flag == "ok" else None,
        "monitoring_status": status,
    }


def fleet_frames() -> dict[str, pd.DataFrame]:
    """Three days of two models; churn drifts and drops below its floor on the last day."""
    metrics = []
    for model in ("marketing_churn_gbm", "risk_fraud_xgb"):
        for day in range(3):
            bad = model == "marketing_churn_gbm" and day == 2
            base = {
                "window_start": START + timedelta(days=day),
                "window_end": START + timedelta(days=day + 1),
                "model": model,
                "model_version": "1",
                "drift_type": "BASELINE",
                "status": "ok",
            }
            metrics += [
                _metric(base, "__dataset__", "drift_share", 0.4 if bad else 0.1, drifted=bad),
                _metric(base, "__performance__", "roc_auc", 0.70 if bad else 0.85),
                _metric(base, "__performance__", "roc_auc_ci_low", 0.66),
                _metric(base, "__performance__", "roc_auc_ci_high", 0.9),
                _metric(base, "tenure_months", "js_distance", 0.3 if bad else 0.02, drifted=bad),
            ]
    inventory = [
        _inventory_row("marketing_churn_gbm", "ok", "drift+below_floor", 0.75),
        _inventory_row("risk_fraud_xgb", "ok", "ok", 0.80),
        _inventory_row("marketing_upsell_lr", "not_in_spec", "never_monitored"),
    ]
    decision = {
        "model": "marketing_churn_gbm",
        "decided_at": START + timedelta(days=2),
        "trigger": "drift",
        "decision": "promoted",
        "reason": "gain 0.08",
        "champion_version": "1",
        "challenger_version": "2",
        "champion_auc": 0.75,
        "challenger_auc": 0.83,
    }
    return {
        FLEET_METRICS_TABLE: typed(pd.DataFrame(metrics), METRIC_COLUMNS),
        INVENTORY_TABLE: typed(pd.DataFrame(inventory), INVENTORY_COLUMNS),
        FLEET_DECISIONS_TABLE: typed(pd.DataFrame([decision]), DECISION_COLUMNS),
    }


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from deltalake import write_deltalake

    root = tmp_path_factory.mktemp("local")
    for table, frame in fleet_frames().items():
        write_deltalake(str(root / "tables" / MONITORING_SCHEMA / table), frame)
    return root


def test_deployed_and_local_dashboards_differ_only_in_table_names() -> None:
    deployed = json.dumps(render(uc_tables("mlops_prod")))
    local = json.dumps(render(local_tables))
    assert "mlops_prod.monitoring.fleet_metrics" in deployed
    assert deployed.replace("mlops_prod.monitoring.", "") == local


def test_every_widget_reads_a_dataset_and_the_fields_it_encodes() -> None:
    dashboard = render(uc_tables("mlops_dev"))
    names = set(datasets(dashboard))
    kinds = {w["spec"]["widgetType"] for w in widgets(dashboard)}
    assert {"counter", "table", "line", "bar"} <= kinds
    assert {q["query"]["datasetName"] for w in widgets(dashboard) for q in w["queries"]} == names


def test_fails_a_template_whose_widget_encodes_a_field_its_query_does_not_select(tmp_path: Path) -> None:
    broken = TEMPLATE.read_text().replace('"fieldName": "drift_share"', '"fieldName": "share_of_drift"', 1)
    path = tmp_path / TEMPLATE.name
    path.write_text(broken)
    with pytest.raises(DashboardTemplateError, match="encodes 'share_of_drift'"):
        render(local_tables, template=path)


def test_fails_a_template_naming_a_table_the_inventory_does_not_write(tmp_path: Path) -> None:
    path = tmp_path / TEMPLATE.name
    path.write_text(TEMPLATE.read_text().replace('table("fleet_metrics")', 'table("drift_metrics")', 1))
    with pytest.raises(DashboardTemplateError, match="unknown table 'drift_metrics'"):
        render(local_tables, template=path)


def test_every_query_runs_on_the_local_tables_and_returns_rows(root: Path) -> None:
    results = run_queries(datasets(render(local_tables)), root)
    assert {name: r.error for name, r in results.items() if r.error} == {}
    assert {name for name, r in results.items() if not r.rows} == set()
    assert results["counters"].rows == [{"models": 3, "flagged": 1, "needs_attention": 2}]
    series = {r["series"] for r in results["performance"].rows}
    assert {"marketing_churn_gbm: realised", "marketing_churn_gbm: floor", "risk_fraud_xgb: floor"} <= series


SPARK_TYPES = {"datetime64[us, UTC]": "timestamp", "string": "string", "float64": "double", "Int64": "bigint",
               "boolean": "boolean"}  # fmt: skip
SCHEMAS = {
    FLEET_METRICS_TABLE: METRIC_COLUMNS,
    INVENTORY_TABLE: INVENTORY_COLUMNS,
    FLEET_DECISIONS_TABLE: DECISION_COLUMNS,
}


def _python(value: Any) -> Any:
    if value is None or value is pd.NA or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value.item() if hasattr(value, "item") else value  # numpy scalars


def _spark_views(spark: Any) -> None:
    """The same rows as Spark temp views, with the fleet tables' own column types."""
    for table, frame in fleet_frames().items():
        ddl = ", ".join(f"`{c}` {SPARK_TYPES[t]}" for c, t in SCHEMAS[table].items())
        rows = [tuple(_python(v) for v in r) for r in frame.itertuples(index=False)]
        spark.createDataFrame(rows, ddl).createOrReplaceTempView(table)


def _rows(records: list[dict[str, Any]]) -> list[tuple]:
    def norm(v: Any) -> Any:
        if isinstance(v, datetime):
            return pd.Timestamp(v).tz_convert("UTC") if v.tzinfo else pd.Timestamp(v, tz="UTC")
        if isinstance(v, str) and len(v) > 18 and v[4] == "-" and "T" in v:
            return pd.Timestamp(v).tz_convert("UTC")
        if isinstance(v, float):
            return round(v, 9)
        return v

    return sorted((tuple(norm(v) for v in r.values()) for r in records), key=repr)


@pytest.mark.spark
def test_spark_sql_returns_what_the_local_engine_returns(spark: Any, root: Path) -> None:
    _spark_views(spark)
    sql = datasets(render(local_tables))
    local = run_queries(sql, root)
    for name, text in sql.items():
        on_spark = [r.asDict() for r in spark.sql(text).collect()]
        assert _rows(on_spark) == _rows(local[name].rows), name


@pytest.mark.spark
def test_the_alert_queries_run_on_spark_and_fire_on_the_planted_conditions(spark: Any) -> None:
    _spark_views(spark)
    queries = alert_queries("cat", stale_after_hours=48)
    values = {}
    for kind, (column, text) in queries.items():
        (row,) = spark.sql(text.replace(f"cat.{MONITORING_SCHEMA}.", "")).collect()
        values[kind] = row[column]
    # churn drifted and fell under its floor on its last window; the 2025 inventory is stale today.
    assert values == {"dataset_drift": 1, "performance_floor": 1, "monitoring_stale": 2}


def test_the_page_carries_rows_or_the_query_error(root: Path, tmp_path: Path) -> None:
    page, failed = render_local(root, tmp_path / "index.html")
    assert failed == 0
    data = json.loads(page.read_text().split('type="application/json">', 1)[1].split("</script>", 1)[0])
    assert data["results"]["inventory"]["rows"][0]["model"] == "marketing_churn_gbm"
    empty = tmp_path / "empty"
    (empty / "tables").mkdir(parents=True)
    page, failed = render_local(empty, tmp_path / "broken.html")
    assert failed == len(datasets(render(local_tables)))
    assert "model_inventory" in page.read_text()  # the error names the table it could not find


def test_the_local_render_exits_2_without_tables_and_1_on_a_failed_query(tmp_path: Path) -> None:
    assert local_main(["--root", str(tmp_path)]) == 2
    (tmp_path / "tables").mkdir()
    assert local_main(["--root", str(tmp_path), "--out", str(tmp_path / "p.html")]) == 1


# --- what make dashboard-check reads from the browser's DOM ----------------------------------------


def _section(name: str, points: int, rendered: bool = True, error: str = "") -> str:
    inner = f'<div class="query-error">{error}</div>' if error else "<svg></svg>"
    state = ' data-rendered="true"' if rendered else ""
    attrs = f'class="widget" data-widget="{name}" data-type="line"{state} data-points="{points}"'
    return f"<section {attrs}>{inner}</section>"


def _dom(*sections: str, ready: bool = True) -> str:
    body = '<body data-dashboard-ready="true">' if ready else "<body>"
    return f"<html>{body}{''.join(sections)}</body></html>"


def test_the_browser_check_passes_a_page_where_every_widget_has_data() -> None:
    assert browser_check.problems(*browser_check.read_dom(_dom(_section("a", 3), _section("b", 1)))) == []


def test_the_browser_check_fails_empty_charts_query_errors_and_unfinished_pages() -> None:
    found = browser_check.problems(
        *browser_check.read_dom(
            _dom(
                _section("empty", 0),
                _section("broken", 0, error="Error during planning: no table t"),
                _section("undrawn", 2, rendered=False),
            )
        )
    )
    assert found == [
        "widget empty (line): empty (no rows or marks)",
        "widget broken (line): Error during planning: no table t",
        "widget undrawn (line): not drawn",
    ]
    assert browser_check.problems(*browser_check.read_dom(_dom(_section("a", 3), ready=False)))[0].startswith(
        "the page's script did not finish"
    )


def test_the_browser_check_without_chromium_is_an_infrastructure_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = tmp_path / "index.html"
    page.write_text(_dom(_section("a", 1)))
    monkeypatch.setattr(browser_check.shutil, "which", lambda name: None)
    assert browser_check.main(["--page", str(page), "--screenshot", str(tmp_path / "s.png")]) == 3
    assert browser_check.main(["--page", str(tmp_path / "missing.html")]) == 2
