"""Self-contained HTML report (jinja2, charts as inline base64 PNG): summary, heatmap, overlays."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2
import numpy as np

from mlops_spec.config.monitoring import MonitoringSpec

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ml_jobs.monitoring.run import MonitoringResult

TEMPLATE = jinja2.Template(
    """<!doctype html><html><head><meta charset="utf-8"><title>Monitoring {{ model }} v{{ version }}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;
padding:4px 8px}.bad{background:#fdd}</style></head><body>
<h1>Monitoring report: {{ model }} version {{ version }}</h1>
<p>Granularity {{ spec.granularity }}; decision:
<b>{{ "RETRAIN" if decision.retrain else "no retraining" }}</b>
({{ decision.reason }}).</p>
<h2>Windows</h2><table><tr><th>start</th><th>rows</th><th>drift share</th><th>drifted columns</th>
<th>{{ spec.performance.metric }}</th><th>verdict</th></tr>
{% for w in windows %}<tr class="{{ 'bad' if w.breach else '' }}"><td>{{ w.start }}</td><td>{{ w.rows }}</td>
<td>{{ w.share }}</td><td>{{ w.columns }}</td><td>{{ w.perf }}</td><td>{{ w.verdict }}</td></tr>{% endfor %}
</table>
<h2>Drift heatmap (BASELINE, value / threshold of the main metric)</h2>{{ heatmap }}
<h2>Distributions: reference vs latest window</h2>{% for c in overlays %}{{ c }}{% endfor %}
</body></html>"""
)


def _png(fig: Figure) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=72, bbox_inches="tight")
    plt.close(fig)
    return f'<img src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}"/>'


def _heatmap(result: MonitoringResult) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = result.metrics
    main = m[(m.drift_type == "BASELINE") & m.metric.isin(["psi", "js_distance"]) & m.threshold.notna()]
    main = main[~((main.metric == "js_distance") & main.column.isin(result.profile.numeric))]
    if main.empty:
        return "<p>No windows with comparable data.</p>"
    grid = main.assign(ratio=main.value / main.threshold).pivot_table(
        index="column", columns="window_start", values="ratio", aggfunc="max"
    )
    fig, ax = plt.subplots(figsize=(1 + 0.6 * grid.shape[1], 0.3 * grid.shape[0] + 1))
    image = ax.imshow(np.clip(grid.to_numpy(dtype=float), 0, 3), cmap="Reds", vmin=0, vmax=3, aspect="auto")
    ax.set_yticks(range(len(grid.index)), grid.index)
    ax.set_xticks(range(len(grid.columns)), [str(c)[:10] for c in grid.columns], rotation=90)
    fig.colorbar(image, ax=ax, label="value / threshold (capped at 3)")
    return _png(fig)


def _overlays(result: MonitoringResult, max_columns: int = 40) -> list[str]:
    import matplotlib.pyplot as plt

    from ml_jobs.monitoring.counts import CategoricalCounts, NumericCounts
    from ml_jobs.monitoring.run import reference_counts

    if not result.windows:
        return []
    ref = reference_counts(result.profile)
    latest = result.windows[-1]
    charts = []
    for column in result.profile.columns[:max_columns]:
        r, c = ref.columns[column], latest.counts.columns.get(column) if latest.counts else None
        if c is None:
            continue
        fig, ax = plt.subplots(figsize=(4, 2.2))
        if (
            isinstance(r, NumericCounts)
            and isinstance(c, NumericCounts)
            and result.profile.numeric[column].edges
        ):
            edges = np.asarray(result.profile.numeric[column].edges)
            step = max(len(edges) // 40, 1)  # about 40 display bins out of the fine ones
            picks = np.arange(0, len(edges), step)
            for counts, label in ((r.counts, "reference"), (c.counts, "latest")):
                inner = np.add.reduceat(counts[1:-1], picks[:-1]) if len(picks) > 1 else counts[1:-1]
                widths = np.diff(edges[picks]) if len(picks) > 1 else np.ones(1)
                density = inner / max(counts.sum(), 1) / np.where(widths > 0, widths, 1)
                ax.step(edges[picks][: len(density)], density, where="post", label=label)
        elif isinstance(r, CategoricalCounts) and isinstance(c, CategoricalCounts):
            names = [*result.profile.categorical[column].categories[:15], "(unseen)"]
            idx = np.arange(len(names))
            rs = np.r_[r.counts[:15], r.n_unseen] / max(r.n_valid, 1)
            cs = np.r_[c.counts[:15], c.n_unseen] / max(c.n_valid, 1)
            ax.bar(idx - 0.2, rs, 0.4, label="reference")
            ax.bar(idx + 0.2, cs, 0.4, label="latest")
            ax.set_xticks(idx, names, rotation=60, fontsize=7)
        ax.set_title(column, fontsize=9)
        ax.legend(fontsize=7)
        charts.append(_png(fig))
    return charts


def write_report(
    result: MonitoringResult, out_dir: Path, model: str, version: str, spec: MonitoringSpec
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    rows = []
    for w in result.windows:
        perf = "" if w.performance is None else f"{w.performance.estimated_roc_auc:.3f} (estimated)"
        if (
            w.performance is not None
            and w.performance.roc_auc is not None
            and spec.performance.metric == "roc_auc"
        ):
            a = w.performance.roc_auc
            perf = f"{a.value:.3f} [{a.low:.3f}, {a.high:.3f}]"
        verdict = {True: "breach", False: "ok", None: "insufficient data"}[w.verdict.breach]
        share = w.baseline.dataset_drift_share
        rows.append(
            {
                "start": w.start,
                "rows": w.n_rows,
                "share": "" if share != share else f"{share:.2f}",
                "columns": ", ".join(c for c, d in w.baseline.drifted.items() if d),
                "perf": perf,
                "verdict": verdict,
                "breach": w.verdict.breach,
            }
        )
    html = TEMPLATE.render(
        model=model,
        version=version,
        spec=spec,
        decision=result.decision,
        windows=rows,
        heatmap=_heatmap(result),
        overlays=_overlays(result),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"monitoring_{model}_v{version}.html"
    path.write_text(html)
    return path
