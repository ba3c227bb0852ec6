"""The benchmark's generated platform is compliant except for what it plants (a small one here)."""

from __future__ import annotations

from pathlib import Path

from infra.guardrails import Policies, evaluate
from infra.tfdoc import discover, load_paths
from tests.benchmarks.guardrails_platform import generate
from tests.guardrails.builders import TODAY


def test_generated_platform_findings_are_exactly_the_planted_ones(tmp_path: Path, policies: Policies) -> None:
    count, planted = generate(tmp_path, total=300)
    report = evaluate(load_paths(discover(tmp_path)), policies, TODAY)
    assert report.resource_count == count >= 250
    assert sorted((f.rule.id, f.env, f.address) for f in report.findings) == sorted(planted)
