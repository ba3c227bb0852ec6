"""The fleet step of ``make demo``: a model registered by hand, then the inventory job, then its table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ml_jobs.fleet.inventory import Inventory, RuntimeTables, run_inventory
from ml_jobs.fleet.sources import LocalWorkspace, MlflowRegistry

STRAY_MODEL = "marketing_upsell_lr"
"""Registered from a notebook, never declared in stacks/models.yaml: the inventory flags it."""


def fleet_step(runtime: Any, client: Any, config_dir: Any, out: Callable[[str], None]) -> Inventory:
    from mlops_spec.config import load_environment, load_models

    env = load_environment(runtime.env, config_dir)
    stray = runtime.registered_name(STRAY_MODEL)
    if not client.search_registered_models(filter_string=f"name = '{stray}'"):
        client.create_registered_model(stray, description="Registered by hand from a notebook.")
    out(f"[demo] a model registered by hand, not in stacks/models.yaml: {stray}")
    inventory = run_inventory(
        load_models(runtime.env, config_dir),
        runtime.env,
        runtime.catalog,
        env.groups,
        MlflowRegistry(client),
        LocalWorkspace(),
        RuntimeTables(runtime),
    )
    out(f"[demo] inventory: {len(inventory.rows)} models, flagged {inventory.flagged}")
    return inventory


COLUMNS = (  # (column of model_inventory, header, width)
    ("model", "model", 20),
    ("flag", "flag", 15),
    ("criticality", "criticality", 11),
    ("champion_version", "champion", 8),
    ("versions", "versions", 8),
    ("monitoring_status", "monitoring", 17),
    ("roc_auc", "ROC-AUC", 7),
    ("last_retrain_decision", "last retrain", 12),
    ("endpoint_state", "endpoint", 24),
)


def render_inventory(inventory: Inventory) -> str:
    """The inventory table as the demo prints it (``monitoring.model_inventory``)."""
    head = "  ".join(f"{header:{width}}" for _, header, width in COLUMNS)
    lines = ["model inventory (monitoring.model_inventory):", head, "-" * len(head)]
    for row in inventory.rows.to_dict("records"):
        cells = []
        for name, _, width in COLUMNS:
            value = row[name]
            if value is None or value != value:  # None, NaN, NaT
                text = "-"
            else:
                text = f"{value:.3f}" if isinstance(value, float) else str(value)
            cells.append(f"{text[:width]:{width}}")
        lines.append("  ".join(cells).rstrip())
    tags = inventory.rows.set_index("model")["tags"].to_dict()
    lines += [f"tags of {m}: {t}" for m, t in tags.items() if t != "{}"]
    return "\n".join(lines)
