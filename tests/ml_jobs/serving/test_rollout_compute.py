"""The deploy job's compute follows the environment's ``production`` flag, not its name.

Proves: an environment marked ``production: true`` under another name than ``prod`` serves without
scale-to-zero, and a non-production one with it (``ModelSpec.scale_to_zero``, the one rule).
Does not prove anything about the serving endpoint itself (the deploy CLI tests send it).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from ml_jobs.serving.job import DeployOptions, rollout_plan
from tests.ml_jobs.conftest import spec_for


@pytest.mark.parametrize(("production", "scale_to_zero"), [(True, False), (False, True)])
def test_scale_to_zero_follows_the_environments_production_flag(
    production: bool, scale_to_zero: bool
) -> None:
    spec = spec_for("staging")
    assert spec.model.serving.scale_to_zero is None  # computed from the environment
    spec = replace(spec, env=spec.env.model_copy(update={"production": production}))
    plan = rollout_plan(spec, "1", DeployOptions())
    assert plan.compute.scale_to_zero is scale_to_zero
