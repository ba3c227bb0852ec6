"""Policy-as-code over synthesized Terraform JSON: Databricks governance rules with waivers.

Reads ``cdk.tf.json`` and ``terraform show -json`` plans through the shared document model
(:mod:`infra.tfdoc`); never imports cdktf or the stacks.

    from infra.guardrails import load_policies, evaluate
    from infra.tfdoc import resources_from_doc
    resources = resources_from_doc(json.loads(Testing.synth(stack)), "dev")
    report = evaluate(resources, load_policies(Path("policies")))
    assert not report.unwaived(), report.findings
"""

from __future__ import annotations

from infra.guardrails.engine import evaluate
from infra.guardrails.errors import GuardrailsError
from infra.guardrails.model import Finding, Report, Resource, RuleSpec, Severity, Waiver
from infra.guardrails.params import EnvParams
from infra.guardrails.policy_files import FloorError, Policies, load_policies

__all__ = [
    "EnvParams",
    "Finding",
    "FloorError",
    "GuardrailsError",
    "Policies",
    "Report",
    "Resource",
    "RuleSpec",
    "Severity",
    "Waiver",
    "evaluate",
    "load_policies",
]
