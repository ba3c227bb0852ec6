"""A churn-style dataset with a known label mechanism and controllable drift.

The columns are exactly those of ``marketing_churn_gbm`` in ``stacks/models.yaml``. The label is
drawn from a logistic model with non-linear terms and interactions (contract x support calls, new
customers on monthly contracts, premium plans x price), so gradient boosting clearly beats a linear
model and chance (ROC-AUC about 0.85). ``gender`` has no effect on the label: a fair model exists.

Drift starts at ``DriftSpec.start_day`` (days after ``start``) and can shift numeric means, scale
numeric spreads, change category mixes, and change the label mechanism itself (concept drift).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

NUMERIC = (
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "avg_session_minutes",
    "days_since_last_login",
    "num_products",
    "age",
)
CATEGORIES: Mapping[str, Mapping[str, float]] = {
    "contract_type": {"month_to_month": 0.55, "one_year": 0.25, "two_year": 0.20},
    "payment_method": {
        "electronic_check": 0.35,
        "credit_card": 0.25,
        "bank_transfer": 0.25,
        "mailed_check": 0.15,
    },
    "region": {"north": 0.3, "south": 0.25, "east": 0.25, "west": 0.2},
    "plan_tier": {"basic": 0.45, "standard": 0.35, "premium": 0.20},
    "gender": {"female": 0.49, "male": 0.49, "other": 0.02},
}
COLUMNS = ("customer_id", "event_ts", *NUMERIC, *CATEGORIES, "churned")
DEFAULT_START = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DriftSpec:
    """Changes applied to rows dated ``start_day`` days or more after the dataset start.

    ``mean_shift`` adds ``value x the column's std`` to a numeric column; ``scale`` multiplies its
    deviation from the mean; ``category_mix`` replaces a categorical column's probabilities;
    ``concept`` in [0, 1] blends the label mechanism towards a different one (1 = fully drifted:
    price sensitivity triples, the contract effect halves, long-tenured customers start leaving).
    """

    start_day: int = 0
    mean_shift: Mapping[str, float] = field(default_factory=dict)
    scale: Mapping[str, float] = field(default_factory=dict)
    category_mix: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    concept: float = 0.0

    def __post_init__(self) -> None:
        for name in (*self.mean_shift, *self.scale):
            if name not in NUMERIC:
                raise ValueError(f"drift: unknown numeric column {name!r}; allowed: {', '.join(NUMERIC)}")
        for name, mix in self.category_mix.items():
            if name not in CATEGORIES:
                raise ValueError(
                    f"drift: unknown categorical column {name!r}; allowed: {', '.join(CATEGORIES)}"
                )
            unknown = set(mix) - set(CATEGORIES[name])
            if unknown:
                raise ValueError(
                    f"drift: {name} has no categories {sorted(unknown)}; "
                    f"allowed: {', '.join(CATEGORIES[name])}"
                )
            if any(p < 0 for p in mix.values()) or sum(mix.values()) <= 0:
                raise ValueError(
                    f"drift: {name} mix must be non-negative with a positive sum, got {dict(mix)}"
                )
        if not 0.0 <= self.concept <= 1.0:
            raise ValueError(f"drift: concept must be in [0, 1], got {self.concept}")
        if any(s <= 0 for s in self.scale.values()):
            raise ValueError(f"drift: scale factors must be > 0, got {dict(self.scale)}")


def _categorical(rng: np.random.Generator, name: str, n: int, mix: Mapping[str, float] | None) -> np.ndarray:
    probs = dict(CATEGORIES[name])
    if mix:
        probs = {k: float(mix.get(k, 0.0)) for k in probs}
    values = np.array(list(probs))
    p = np.array(list(probs.values()), dtype=float)
    return rng.choice(values, size=n, p=p / p.sum())


def _features(rng: np.random.Generator, n: int, drift: DriftSpec | None) -> pd.DataFrame:
    mixes = drift.category_mix if drift else {}
    cats = {name: _categorical(rng, name, n, mixes.get(name)) for name in CATEGORIES}
    contract = cats["contract_type"]
    # Longer contracts go with longer tenure; tenure drives total charges.
    tenure = np.clip(
        rng.gamma(2.0, 9.0, n)
        + np.where(contract == "two_year", 18, 0)
        + np.where(contract == "one_year", 8, 0),
        0,
        72,
    ).round()
    tier = cats["plan_tier"]
    tier_price = np.select([tier == "premium", tier == "standard"], [95.0, 70.0], 45.0)
    monthly = np.clip(tier_price + rng.normal(0, 12, n), 15, 150).round(2)
    frame = pd.DataFrame(
        {
            "tenure_months": tenure,
            "monthly_charges": monthly,
            "total_charges": (monthly * tenure * rng.uniform(0.9, 1.05, n)).round(2),
            "support_calls": rng.poisson(1.5, n).astype(float),
            "avg_session_minutes": np.clip(rng.normal(30, 10, n), 1, None).round(1),
            "days_since_last_login": np.clip(rng.exponential(8, n), 0, 120).round(),
            "num_products": (1 + rng.binomial(3, 0.35, n)).astype(float),
            "age": np.clip(rng.normal(45, 14, n), 18, 90).round(),
            **cats,
        }
    )
    return frame


def _apply_numeric_drift(frame: pd.DataFrame, mask: np.ndarray, drift: DriftSpec) -> None:
    for name, factor in drift.scale.items():
        col = frame[name]
        mean = col.mean()
        frame.loc[mask, name] = mean + (col[mask] - mean) * factor
    for name, shift in drift.mean_shift.items():
        frame.loc[mask, name] = frame.loc[mask, name] + shift * frame[name].std()
    for name in drift.mean_shift.keys() | drift.scale.keys():
        frame[name] = frame[name].clip(lower=0)


def churn_logit(frame: pd.DataFrame, concept: np.ndarray | float = 0.0) -> np.ndarray:
    """The true log-odds of churn; ``concept`` (per row, 0..1) blends in the drifted mechanism."""
    monthly_contract = (frame["contract_type"] == "month_to_month").to_numpy()
    two_year = (frame["contract_type"] == "two_year").to_numpy()
    premium = (frame["plan_tier"] == "premium").to_numpy()
    tenure = frame["tenure_months"].to_numpy()
    calls = frame["support_calls"].to_numpy()
    price = (frame["monthly_charges"].to_numpy() - 70) / 20
    c = np.asarray(concept, dtype=float)
    contract_effect = (1.3 * monthly_contract - 1.1 * two_year) * (1 - 0.5 * c)
    logit = (
        -1.6
        + contract_effect
        - 0.9 * np.log1p(tenure) / np.log(73) * 2
        + (0.35 + 0.7 * c) * price
        + 0.30 * calls
        + 0.35 * monthly_contract * np.maximum(calls - 1, 0)  # unhappy customers who can leave now
        + 0.9 * (monthly_contract & (tenure < 6))  # fresh sign-ups on monthly plans
        + 0.5 * premium * (price > 0.5)  # expensive premium plans
        + 0.045 * frame["days_since_last_login"].to_numpy()
        - 0.04 * (frame["avg_session_minutes"].to_numpy() - 30)
        - 0.35 * (frame["num_products"].to_numpy() - 2)
        + 0.45 * (frame["payment_method"] == "electronic_check").to_numpy()
        + 0.2 * (frame["region"] == "south").to_numpy()
        + 1.2 * c * (tenure > 36)  # drifted world: long-tenured customers start leaving
    )
    return np.asarray(logit, dtype=float)


def generate_churn(
    n_rows: int,
    seed: int = 0,
    start: datetime = DEFAULT_START,
    days: int = 90,
    drift: DriftSpec | None = None,
) -> pd.DataFrame:
    """``n_rows`` customer snapshots dated uniformly over ``days`` days from ``start``, sorted by time."""
    if n_rows < 1 or days < 1:
        raise ValueError(f"n_rows and days must be >= 1, got n_rows={n_rows}, days={days}")
    rng = np.random.default_rng(seed)
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    offsets = np.sort(rng.uniform(0, days * 86400, n_rows))
    event_ts = pd.to_datetime([start + timedelta(seconds=float(s)) for s in offsets], utc=True)
    drifted = offsets >= (drift.start_day * 86400 if drift else np.inf)
    frame = _features(rng, n_rows, None)
    if drift is not None and drifted.any():
        # Draw drifted rows from the drifted category mix, then move numeric columns.
        frame.loc[drifted] = _features(rng, int(drifted.sum()), drift).set_index(frame.index[drifted])
        _apply_numeric_drift(frame, drifted, drift)
    concept = np.where(drifted, drift.concept if drift else 0.0, 0.0)
    prob = 1 / (1 + np.exp(-churn_logit(frame, concept)))
    frame["churned"] = (rng.uniform(size=n_rows) < prob).astype("int64")
    frame.insert(0, "event_ts", event_ts.astype("datetime64[us, UTC]"))
    frame.insert(0, "customer_id", [f"c{seed:05d}-{i:08d}" for i in range(n_rows)])
    for name in NUMERIC:
        frame[name] = frame[name].astype("float64")
    for name in CATEGORIES:
        frame[name] = frame[name].astype(str)
    return frame[list(COLUMNS)]
