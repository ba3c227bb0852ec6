"""A card-not-present fraud dataset with a known label mechanism: the columns of ``risk_fraud_xgb``.

Fraud is rare (about 12%) and driven by amount, merchant risk, young accounts, transaction velocity,
distance and the online channel, with an interaction (fast velocity far from home), so a tree model
reaches a ROC-AUC near 0.88. ``country`` has a small effect only. Used by ``make demo`` and the tests
to train the XGBoost model of the spec; production data comes from the feature tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

NUMERIC = ("amount", "merchant_risk", "account_age_days", "txn_velocity_1h", "distance_km")
CATEGORIES: Mapping[str, Mapping[str, float]] = {
    "merchant_category": {"grocery": 0.3, "electronics": 0.2, "travel": 0.15, "fashion": 0.2, "gaming": 0.15},
    "channel": {"web": 0.5, "app": 0.35, "phone": 0.15},
    "country": {"us": 0.5, "gb": 0.2, "de": 0.15, "br": 0.15},
}
COLUMNS = ("transaction_id", "event_ts", *NUMERIC, *CATEGORIES, "is_fraud")
DEFAULT_START = datetime(2025, 1, 1, tzinfo=UTC)


def fraud_logit(frame: pd.DataFrame) -> np.ndarray:
    amount = frame["amount"].to_numpy()
    velocity = frame["txn_velocity_1h"].to_numpy()
    distance = frame["distance_km"].to_numpy()
    return np.asarray(
        -4.5
        + 1.5 * np.log1p(amount / 100)
        + 6.0 * frame["merchant_risk"].to_numpy()
        - 1.4 * np.log1p(frame["account_age_days"].to_numpy() / 30)
        + 0.7 * velocity
        + 2.5 * ((velocity > 3) & (distance > 250))
        + 0.8 * (frame["channel"] == "web").to_numpy()
        + 1.0 * (frame["merchant_category"].isin(["electronics", "gaming"])).to_numpy()
        + 0.2 * (frame["country"] == "br").to_numpy()
    )


def generate_fraud(
    n_rows: int, seed: int = 0, start: datetime = DEFAULT_START, days: int = 30
) -> pd.DataFrame:
    """``n_rows`` transactions dated uniformly over ``days`` days from ``start``, sorted by time."""
    if n_rows < 1 or days < 1:
        raise ValueError(f"n_rows and days must be >= 1, got n_rows={n_rows}, days={days}")
    rng = np.random.default_rng(seed)
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    offsets = np.sort(rng.uniform(0, days * 86400, n_rows))
    frame = pd.DataFrame(
        {
            "amount": rng.lognormal(4.0, 1.0, n_rows),
            "merchant_risk": rng.beta(2, 5, n_rows),
            "account_age_days": rng.exponential(400, n_rows),
            "txn_velocity_1h": rng.poisson(1.5, n_rows).astype(float),
            "distance_km": rng.exponential(120, n_rows),
        }
    )
    for name, mix in CATEGORIES.items():
        frame[name] = rng.choice(list(mix), size=n_rows, p=np.array(list(mix.values())) / sum(mix.values()))
    prob = 1 / (1 + np.exp(-fraud_logit(frame)))
    frame["is_fraud"] = (rng.uniform(size=n_rows) < prob).astype("int64")
    frame.insert(
        0,
        "event_ts",
        pd.to_datetime([start + timedelta(seconds=float(s)) for s in offsets], utc=True).astype(
            "datetime64[us, UTC]"
        ),
    )
    frame.insert(0, "transaction_id", [f"t{seed:05d}-{i:08d}" for i in range(n_rows)])
    return frame[list(COLUMNS)]
