from __future__ import annotations

from collections.abc import Callable

import pytest

from infra.guardrails import Policies, Report, evaluate
from infra.tfdoc import resources_from_doc
from tests.guardrails.builders import TODAY, Stack


@pytest.fixture
def run(policies: Policies) -> Callable[..., Report]:
    def _run(*stacks: Stack, with_policies: Policies | None = None) -> Report:
        resources = [r for s in stacks for r in resources_from_doc(s.doc, s.env, f"{s.env}/cdk.tf.json")]
        return evaluate(resources, with_policies or policies, TODAY)

    return _run


@pytest.fixture
def run_doc(policies: Policies) -> Callable[..., list]:
    """Findings for one parsed document (cdk.tf.json or plan) in ``env``."""

    def _run(doc: dict, env: str) -> list:
        return evaluate(resources_from_doc(doc, env), policies, TODAY).findings

    return _run
