"""The served model ("models from code"): MLflow copies this file into every registered version.

``predict`` returns one row per request with ``score`` (probability of the positive class) and
``prediction`` (``score >= threshold``, the label): exactly the two columns the inference log
records and the monitor judges. Loaded by Model Serving, ``mlflow models serve`` and batch
scoring alike, so they cannot disagree. Self-contained on purpose: a serving container has MLflow,
scikit-learn and skops, not this project's wheel.
"""

from __future__ import annotations

from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel


class ProbabilityScorer(PythonModel):
    def load_context(self, context: Any) -> None:
        import mlflow.sklearn

        # Saved with skops; its trusted types are stored next to it (see ml_jobs.training.train).
        self.classifier = mlflow.sklearn.load_model(context.artifacts["classifier"])
        self.threshold = float((context.model_config or {}).get("threshold", 0.5))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        score = np.asarray(self.classifier.predict_proba(model_input))[:, 1].astype("float64")
        return pd.DataFrame({"score": score, "prediction": (score >= self.threshold).astype("int64")})


mlflow.models.set_model(ProbabilityScorer())
