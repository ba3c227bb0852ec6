"""The benchmark reads Evidently's verdicts the way Evidently decides them (issue 17).

Evidently picks p-value tests at <= 1000 rows (drift when the p-value is small) and distances above
(drift when large); the benchmark used ``value >= threshold`` for both, which inverted every verdict
of the p-value tests. This loads the worker file (it imports nothing from Evidently at module level)
and checks the rule on the method names Evidently 0.7.23 reports; it does not run Evidently.
"""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def drifted():
    path = REPO_ROOT / "tests" / "benchmarks" / "monitor_evidently_worker.py"
    spec = importlib.util.spec_from_file_location("monitor_evidently_worker", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.drifted


@pytest.mark.parametrize("method", ["K-S p_value", "chi-square p_value", "Z-test p_value"])
def test_p_value_tests_drift_when_the_p_value_is_small(drifted, method: str) -> None:
    assert drifted(method, 0.001, 0.05) and not drifted(method, 0.8, 0.05)


def test_ks_flags_at_the_threshold_itself_and_the_others_below_it(drifted) -> None:
    assert drifted("K-S p_value", 0.05, 0.05) and not drifted("chi-square p_value", 0.05, 0.05)


@pytest.mark.parametrize("method", ["Wasserstein distance (normed)", "Jensen-Shannon distance", "PSI"])
def test_distances_drift_when_large(drifted, method: str) -> None:
    assert drifted(method, 0.1, 0.1) and not drifted(method, 0.02, 0.1)
