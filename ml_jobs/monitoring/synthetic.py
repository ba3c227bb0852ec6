"""Generated inference data with drift injected in known columns (tests, benchmark, demos)."""

from __future__ import annotations

import numpy as np
import pandas as pd

CATEGORIES = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
CATEGORY_SHARES = np.array([0.35, 0.25, 0.15, 0.12, 0.08, 0.05])


def features(
    n: int,
    n_numeric: int = 20,
    n_categorical: int = 5,
    drifted: frozenset[str] = frozenset(),
    seed: int = 0,
) -> pd.DataFrame:
    """Columns ``num_00..`` (mixed shapes) and ``cat_0..``; columns named in ``drifted`` are shifted.

    Numeric drift moves the location by 0.5 reference standard deviations; categorical drift moves
    15 percentage points of share from the first category to the last two. Both are far above the
    default thresholds and nowhere near them for undrifted columns at 100k rows and more.
    """
    rng = np.random.default_rng(seed)
    data: dict[str, np.ndarray] = {}
    for i in range(n_numeric):
        name = f"num_{i:02d}"
        kind = i % 4
        if kind == 0:
            x = rng.normal(10 * i, 1 + i % 3, n)
        elif kind == 1:
            x = rng.lognormal(0, 0.6, n)
        elif kind == 2:
            x = rng.gamma(2.0, 2.0, n)
        else:
            x = rng.integers(0, 50, n).astype(np.float64)  # discrete: ties on the edges
        if name in drifted:
            x = x + 0.5 * x.std()
        data[name] = x
    for j in range(n_categorical):
        name = f"cat_{j}"
        shares = CATEGORY_SHARES.copy()
        if name in drifted:
            shares = shares + np.array([-0.15, 0, 0, 0, 0.075, 0.075])
        data[name] = np.asarray(CATEGORIES, dtype=object)[rng.choice(len(CATEGORIES), n, p=shares)]
    frame = pd.DataFrame(data)
    for j in range(n_categorical):
        frame[f"cat_{j}"] = frame[f"cat_{j}"].astype("str")
    return frame


def inference_log(
    n: int,
    start: str = "2026-03-01",
    days: int = 1,
    drifted: frozenset[str] = frozenset(),
    seed: int = 1,
    n_numeric: int = 4,
    n_categorical: int = 2,
) -> pd.DataFrame:
    """An inference log sorted by time: request id, timestamp, features, calibrated score, prediction."""
    rng = np.random.default_rng(seed + 1000)
    frame = features(n, n_numeric, n_categorical, drifted, seed)
    offsets = np.sort(rng.uniform(0, days * 86_400, n))
    frame.insert(0, "timestamp", pd.Timestamp(start, tz="UTC") + pd.to_timedelta(offsets, unit="s"))
    frame.insert(0, "request_id", [f"{seed}-{i}" for i in range(n)])
    logit = (frame["num_00"].to_numpy() - frame["num_00"].mean()) / frame["num_00"].std() * 1.5
    frame["score"] = 1 / (1 + np.exp(-logit))
    frame["prediction"] = (frame["score"] > 0.5).astype(np.int64)
    return frame


def labels_for(log: pd.DataFrame, seed: int = 2, flip: float = 0.0) -> pd.DataFrame:
    """Labels drawn from the (calibrated) scores; ``flip`` of them inverted to degrade performance."""
    rng = np.random.default_rng(seed)
    y = (rng.uniform(size=len(log)) < log["score"].to_numpy()).astype(np.int64)
    flipped = rng.uniform(size=len(log)) < flip
    y = np.where(flipped, 1 - y, y)
    return pd.DataFrame(
        {
            "request_id": log["request_id"],
            "label": y,
            "label_timestamp": log["timestamp"] + pd.Timedelta(days=3),
        }
    )
