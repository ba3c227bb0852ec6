"""``make demo``: the whole lifecycle on one machine, on the embedded defaults.

Generate training data, train, validate and promote the first champion; then simulate production
days: score each day with the champion into the inference log, let the labels arrive, monitor,
and let the monitor's decision retrain. Drift (covariate and concept) starts on a set day. The
summary shows, per day, the drift status, the realised performance and the actions taken.

Everything lands in ``.local/dev`` (MLflow on SQLite, Delta tables), which the demo resets first:
``make mlflow-ui`` and ``make serve`` open what it leaves behind.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

MODEL = "marketing_churn_gbm"
ENV = "dev"
PRODUCTION_START = datetime(2025, 3, 1, tzinfo=UTC)
TRAINING_DAYS = 60
# Demo pacing: short windows and few trials so the loop runs in minutes; everything else is the spec.
DEMO_OVERRIDES = {
    "training": {"n_trials": 3},
    "data": {"training_window_days": 14},
    "retraining": {"holdout_days": 1},
    "monitoring": {"consecutive_windows": 2, "cooldown_days": 7, "min_samples": 300},
    # A shared laptop is no serving replica: single-row latency there says little about an endpoint.
    "validation": {"max_latency_ms": 500},
}
DEMO_THREADS = 1
"""OpenMP threads per scikit-learn fit and prediction (the tests and bench_training.py use 1 too). On
this 2-core machine shared with other sessions (load average 5-9), two threads made a
HistGradientBoosting fit on 6,000 rows take 5.8-13.8 s against 0.6 s with one, and a single-row
prediction 23-25 ms against 1-2 ms: OpenMP threads wait for each other at every split while other
processes hold the cores. That alone took the demo from over 400 s to under 2 minutes."""


def drift_from_day() -> Any:
    """Prices up, more support calls, a shift to monthly contracts, and a changed label mechanism."""
    from ml_jobs.data.generate import DriftSpec

    return DriftSpec(
        start_day=0,
        mean_shift={"monthly_charges": 1.0, "support_calls": 1.0},
        category_mix={"contract_type": {"month_to_month": 0.75, "one_year": 0.15, "two_year": 0.10}},
        concept=1.0,
    )


@dataclass
class DayRow:
    day: int
    date: str
    rows: int
    drifted_features: list[str]
    dataset_drift: bool | None
    auc: str
    champion: str
    action: str


@dataclass
class DemoResult:
    days: list[DayRow] = field(default_factory=list)
    retrain_decisions: list[dict[str, Any]] = field(default_factory=list)
    report: Path | None = None
    model_card: Path | None = None
    xgb_card: Path | None = None
    explained: list[str] = field(default_factory=list)
    root: Path | None = None
    seconds: float = 0.0
    inventory: Any = None


def _say(out: Callable[[str], None], text: str) -> None:
    out(f"[demo] {text}")


def _auc_text(window: Any) -> str:
    perf = window.performance if window is not None else None
    if perf is None:
        return "-"
    if perf.roc_auc is not None:
        return f"{perf.roc_auc.value:.3f} [{perf.roc_auc.low:.3f}, {perf.roc_auc.high:.3f}]"
    return f"~{perf.estimated_roc_auc:.3f} (estimate)"


def _window_for(result: Any, day_start: datetime) -> Any:
    for window in result.windows:
        if window.start.to_pydatetime() == day_start:
            return window
    return None


def run_demo(
    root: Path,
    days: int = 10,
    drift_day: int = 5,
    rows_per_day: int = 3000,
    train_rows: int = 8000,
    seed: int = 7,
    out: Callable[[str], None] = print,
    overrides: dict[str, Any] | None = None,
    threads: int = DEMO_THREADS,
) -> DemoResult:
    import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime: the limit applies to loaded libraries)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(threads, user_api="openmp"):
        return _run_demo(root, days, drift_day, rows_per_day, train_rows, seed, out, overrides)


def _run_demo(
    root: Path,
    days: int,
    drift_day: int,
    rows_per_day: int,
    train_rows: int,
    seed: int,
    out: Callable[[str], None],
    overrides: dict[str, Any] | None,
) -> DemoResult:
    from ml_jobs.data.generate import generate_churn
    from ml_jobs.monitoring.job import monitor
    from ml_jobs.registry.client import CHAMPION, connect, version_by_alias
    from ml_jobs.registry.promotion import promote
    from ml_jobs.retraining.retrain import retrain
    from ml_jobs.runtime import get_runtime
    from ml_jobs.scoring import score_batch, write_labels
    from ml_jobs.spec import apply_overrides, resolve
    from ml_jobs.training.train import train_model
    from ml_jobs.validation.validate import validate_version

    started = time.perf_counter()
    shutil.rmtree(root, ignore_errors=True)
    base = resolve(MODEL, ENV)
    spec = type(base)(apply_overrides(base.model, overrides or DEMO_OVERRIDES), base.env, base.config_dir)
    runtime = get_runtime(ENV, root=root, catalog=spec.catalog)
    client = connect(runtime)  # also points MLflow's fluent API at this runtime's stores
    result = DemoResult(root=root)
    name = runtime.registered_name(MODEL)

    _say(
        out,
        f"generating {train_rows} rows over {TRAINING_DAYS} days -> features.{spec.model.data.table}",
    )
    train_df = generate_churn(
        train_rows, seed, PRODUCTION_START - timedelta(days=TRAINING_DAYS), TRAINING_DAYS
    )
    models: list[Any] = []
    if spec.model.features is not None:  # through the feature tables, as the scheduled jobs do
        from ml_jobs.features.demo import load_training_data
        from mlops_spec.config import load_models

        models = [spec.model if m.name == MODEL else m for m in load_models(ENV, spec.config_dir)]
        version = load_training_data(runtime, spec.model, models, train_df, out)
    else:
        version = runtime.write_table(train_df, "features", spec.model.data.table, mode="overwrite")
    _say(out, f"training (Optuna, {spec.model.training.n_trials} trials) on table version {version}")
    trained = train_model(spec, runtime, client, data_version=version)
    report = validate_version(spec, runtime, client, trained.version)
    auc = trained.metrics.get("roc_auc", float("nan"))
    _say(out, f"v{trained.version}: ROC-AUC {auc:.3f}; gates {report.status}")
    move = promote(spec, runtime, client, version=trained.version, actor="demo")
    _say(out, f"champion: v{move.champion} ({move.reason})")

    retrains: list[dict[str, Any]] = []

    def trigger(request: Any) -> dict[str, Any]:
        _say(out, f"  retraining: {request.reason}")
        record = retrain(
            spec, runtime, client, trigger=request.reason, actor="demo", request_id=request.request_id
        ).to_dict()
        retrains.append(record)
        _say(out, f"  -> {record['decision']}: {record['reason']}")
        return record

    drift = drift_from_day()
    for day in range(days):
        day_start = PRODUCTION_START + timedelta(days=day)
        frame = generate_churn(
            rows_per_day, seed + 1000 + day, day_start, 1, drift if day >= drift_day else None
        )
        current = version_by_alias(client, name, CHAMPION)
        assert current is not None  # the demo promoted a first champion before production starts
        champion_before = str(current.version)
        if models:  # the daily feature job sees the day's customers (retraining looks their features up)
            from ml_jobs.features.demo import add_feature_rows

            add_feature_rows(runtime, spec.model, models, frame)
        logged = score_batch(spec, runtime, client, frame)
        # Labels for the day's requests arrive at the end of the day, before the nightly monitor.
        write_labels(
            runtime,
            MODEL,
            logged,
            frame[spec.model.data.label],
            frame[spec.model.data.timestamp_column] + timedelta(hours=20),
        )
        before = len(retrains)
        outcome = monitor(spec, runtime, client, trigger=trigger, now=day_start + timedelta(days=1))
        window = _window_for(outcome.result, day_start)
        drifted = sorted(c for c, d in (window.baseline.drifted.items() if window else ()) if d)
        action = "-"
        if len(retrains) > before:
            rec = retrains[-1]
            action = f"retrained: v{rec['challenger_version']} {rec['decision']}"
        elif outcome.result.decision.reason and window is not None and window.verdict.breach:
            action = f"alert ({outcome.result.decision.reason})"
        row = DayRow(
            day,
            day_start.date().isoformat(),
            len(frame),
            drifted,
            window.baseline.dataset_drift if window else None,
            _auc_text(window),
            f"v{champion_before}",
            action,
        )
        result.days.append(row)
        result.report = outcome.result.report_path
        _say(out, f"day {day} ({row.date}): {len(drifted)} drifted features, AUC {row.auc}, {action}")

    result.retrain_decisions = retrains
    champion = version_by_alias(client, name, CHAMPION)
    assert champion is not None  # retraining only ever moves the alias, never removes it
    card = root / f"model_card_{MODEL}_v{champion.version}.md"
    card.write_text(champion.description or "(no model card)", encoding="utf-8")
    result.model_card = card
    from ml_jobs.explain.demo import XGB_MODEL, card_summary, xgboost_step

    result.xgb_card = xgboost_step(runtime, client, PRODUCTION_START, train_rows, seed, out)
    xgb = version_by_alias(client, runtime.registered_name(XGB_MODEL), "challenger")
    if xgb is None:
        raise RuntimeError(f"{XGB_MODEL}: no challenger after the XGBoost step")
    result.explained = [card_summary(MODEL, champion.run_id), card_summary(XGB_MODEL, xgb.run_id)]
    from ml_jobs.fleet.demo import fleet_step

    result.inventory = fleet_step(runtime, client, spec.config_dir, out)
    result.seconds = time.perf_counter() - started
    return result


def render_summary(result: DemoResult) -> str:
    header = (
        f"{'day':>3}  {'date':10}  {'rows':>5}  {'drift':9}  {'ROC-AUC (95% CI)':24}  {'serving':7}  action"
    )
    lines = ["", header, "-" * len(header)]
    for r in result.days:
        status = (
            "DATASET"
            if r.dataset_drift
            else (f"{len(r.drifted_features)} cols" if r.drifted_features else "none")
        )
        lines.append(
            f"{r.day:>3}  {r.date:10}  {r.rows:>5}  {status:9}  {r.auc:24}  {r.champion:7}  {r.action}"
        )
    lines.append("")
    for rec in result.retrain_decisions:
        lines.append(f"retraining decision: {rec['decision']}: {rec['reason']}")
        lines.append(
            f"  compared on {rec['comparison_basis']};"
            f" trained on {rec['training_table']}@v{rec['training_version']}"
        )
    if result.inventory is not None:
        from ml_jobs.fleet.demo import render_inventory

        lines += ["", render_inventory(result.inventory)]
    lines += [
        "",
        f"HTML drift report : {result.report}",
        f"model card        : {result.model_card}",
        f"XGBoost model card: {result.xgb_card}",
        *result.explained,
        "MLflow UI         : make mlflow-ui   (then open http://127.0.0.1:5000)",
        "serve the champion: make serve       (POST http://127.0.0.1:5001/invocations)",
        f"took {result.seconds:.0f} s",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", type=Path, default=Path(".local") / ENV)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--drift-day", type=int, default=5)
    parser.add_argument("--rows-per-day", type=int, default=3000)
    parser.add_argument("--train-rows", type=int, default=8000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=DEMO_THREADS, help="OpenMP threads per fit")
    args = parser.parse_args(argv)
    import logging
    import warnings

    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore")
    result = run_demo(
        args.root.resolve(),
        args.days,
        args.drift_day,
        args.rows_per_day,
        args.train_rows,
        args.seed,
        out=lambda s: print(s, flush=True),
        threads=args.threads,
    )
    print(render_summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
