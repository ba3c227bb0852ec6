import pandas as pd
import pytest

from ml_jobs.data.generate import generate_churn
from ml_jobs.data.schema import check_frame, training_window
from ml_jobs.errors import BadInput
from ml_jobs.spec import resolve

DATA = resolve("marketing_churn_gbm", "dev").model.data


@pytest.fixture
def frame() -> pd.DataFrame:
    return generate_churn(200, seed=1)


def test_fails_on_missing_column_naming_source_and_column(frame: pd.DataFrame) -> None:
    with pytest.raises(BadInput, match=r"tbl@v3: missing columns \['tenure_months'\]"):
        check_frame(frame.drop(columns="tenure_months"), DATA, "tbl@v3")


def test_fails_on_wrong_types(frame: pd.DataFrame) -> None:
    frame["age"] = frame["age"].astype(str)
    frame["region"] = 1.0
    with pytest.raises(BadInput) as err:
        check_frame(frame, DATA, "tbl")
    assert "age: expected a numeric type" in str(err.value)
    assert "region: expected a string/categorical type" in str(err.value)


def test_fails_on_empty_data(frame: pd.DataFrame) -> None:
    with pytest.raises(BadInput, match="no rows"):
        check_frame(frame.iloc[0:0], DATA, "tbl")


def test_fails_on_single_class_label(frame: pd.DataFrame) -> None:
    frame["churned"] = 0
    with pytest.raises(BadInput, match="single class"):
        check_frame(frame, DATA, "tbl")


def test_fails_on_non_binary_label(frame: pd.DataFrame) -> None:
    frame.loc[0, "churned"] = 2
    with pytest.raises(BadInput, match="must be 0/1"):
        check_frame(frame, DATA, "tbl")


def test_training_window_keeps_the_last_days(frame: pd.DataFrame) -> None:
    short = DATA.model_copy(update={"training_window_days": 10})
    kept = training_window(frame, short)
    assert (kept["event_ts"] > frame["event_ts"].max() - pd.Timedelta(days=10)).all()
    assert 0 < len(kept) < len(frame)
