import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from ml_jobs.data.generate import COLUMNS, DriftSpec, churn_logit, generate_churn
from ml_jobs.data.schema import check_frame
from ml_jobs.spec import resolve


def test_columns_and_types_match_the_churn_model_spec() -> None:
    data = resolve("marketing_churn_gbm", "dev").model.data
    frame = generate_churn(500, seed=1)
    assert list(frame.columns) == list(COLUMNS)
    assert {data.id_column, data.timestamp_column, data.label, *data.features} == set(frame.columns)
    check_frame(frame, data, "generated")  # raises on any mismatch
    assert frame["customer_id"].is_unique and frame["event_ts"].is_monotonic_increasing


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    a, b, c = generate_churn(300, seed=7), generate_churn(300, seed=7), generate_churn(300, seed=8)
    assert a.equals(b)
    assert not a.drop(columns="customer_id").equals(c.drop(columns="customer_id"))


def test_label_mechanism_is_learnable_but_not_trivial() -> None:
    frame = generate_churn(20_000, seed=3)
    auc = roc_auc_score(frame["churned"], churn_logit(frame))
    assert 0.8 <= auc <= 0.9
    assert 0.2 <= frame["churned"].mean() <= 0.45


def test_gender_does_not_drive_the_label() -> None:
    frame = generate_churn(20_000, seed=4)
    rates = frame[frame["gender"] != "other"].groupby("gender")["churned"].mean()
    assert rates.max() - rates.min() < 0.03


def test_drift_changes_only_rows_after_its_start_day() -> None:
    drift = DriftSpec(
        start_day=30,
        mean_shift={"monthly_charges": 1.0},
        category_mix={"contract_type": {"month_to_month": 1.0}},
        concept=1.0,
    )
    base, drifted = generate_churn(8000, seed=5, days=60), generate_churn(8000, seed=5, days=60, drift=drift)
    late = (drifted["event_ts"] - drifted["event_ts"].min()).dt.days >= 30
    assert drifted.loc[late, "monthly_charges"].mean() > base.loc[late, "monthly_charges"].mean() + 10
    assert (drifted.loc[late, "contract_type"] == "month_to_month").all()
    assert drifted.loc[~late, "contract_type"].nunique() == 3
    assert drifted.loc[late, "churned"].mean() > base.loc[late, "churned"].mean() + 0.1


def test_concept_drift_changes_the_label_mechanism_itself() -> None:
    frame = generate_churn(5000, seed=6)
    assert not np.allclose(churn_logit(frame, 0.0), churn_logit(frame, 1.0))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mean_shift": {"salary": 1.0}}, "unknown numeric column 'salary'"),
        ({"category_mix": {"region": {"mars": 1.0}}}, "region has no categories"),
        ({"concept": 1.5}, "concept must be in"),
        ({"scale": {"age": 0.0}}, "scale factors must be > 0"),
    ],
)
def test_fails_on_bad_drift_spec(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DriftSpec(start_day=1, **kwargs)
