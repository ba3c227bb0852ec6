"""The registered model's two faces: the served scorer and the classifier inside it.

Every version is logged as the ``ProbabilityScorer`` of ``scorer_code.py`` (a pyfunc model) with the
fitted scikit-learn pipeline as its ``classifier`` artifact (skops format). Validation and retraining
need the classifier's probabilities; serving, batch scoring and the latency gate call the scorer.
Versions logged before this scheme are plain scikit-learn models; ``load`` reads both.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ml_jobs.training.pipeline import THRESHOLD

SCORER_CODE = Path(__file__).with_name("scorer_code.py")
OUTPUT_COLUMNS = ("score", "prediction")


@dataclass(frozen=True)
class Loaded:
    classifier: Any
    """The scikit-learn pipeline (``predict_proba``)."""
    served: Any
    """The pyfunc model as Model Serving loads it."""
    path: Path
    """Local folder of the downloaded artifacts."""


def log_scorer(
    fitted: Any, example: pd.DataFrame, trusted_types: Sequence[str], requirements: list[str]
) -> Any:
    """Log ``fitted`` wrapped in the scorer into the active run; the ``ModelInfo``."""
    import mlflow
    from mlflow.models import infer_signature

    output = pd.DataFrame({"score": np.zeros(len(example)), "prediction": np.zeros(len(example), "int64")})
    signature = infer_signature(example, output)
    with tempfile.TemporaryDirectory() as tmp:
        classifier = Path(tmp) / "classifier"
        mlflow.sklearn.save_model(
            fitted,
            str(classifier),
            serialization_format="skops",
            skops_trusted_types=list(trusted_types),
            pip_requirements=requirements,
        )
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=str(SCORER_CODE),
            artifacts={"classifier": str(classifier)},
            model_config={"threshold": THRESHOLD},
            signature=signature,
            input_example=example,
            pip_requirements=requirements,
        )


def load(uri: str, workdir: Path | None = None) -> Loaded:
    """Download ``uri`` (``models:/name/version``) once and load both faces from it."""
    import mlflow

    dst = workdir or Path(tempfile.mkdtemp(prefix="model-"))
    dst.mkdir(parents=True, exist_ok=True)
    local = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(dst)))
    served = mlflow.pyfunc.load_model(str(local))
    try:
        classifier = served.unwrap_python_model().classifier
    except Exception:  # an earlier release logged the scikit-learn flavour directly
        classifier = mlflow.sklearn.load_model(str(local))
    return Loaded(classifier, served, local)


def score(model: Loaded, frame: pd.DataFrame) -> pd.DataFrame:
    """``score`` and ``prediction`` per row, as the endpoint answers them."""
    out = model.served.predict(frame)
    if isinstance(out, pd.DataFrame) and set(OUTPUT_COLUMNS) <= set(out.columns):
        return out[list(OUTPUT_COLUMNS)].reset_index(drop=True)
    # An earlier release's version serves labels only: its scores come from the classifier.
    proba = np.asarray(model.classifier.predict_proba(frame))[:, 1].astype("float64")
    return pd.DataFrame({"score": proba, "prediction": (proba >= THRESHOLD).astype("int64")})
