"""Plan, review, approve, apply the same plan (``python -m infra.deploy``, ``make plan/apply``).

The synthesized stack folder ``cdktf.out/stacks/<stack>/`` is a plain Terraform working directory.
``plan`` saves a Terraform plan per stack with its ``terraform show -json`` (what the guardrails and the
review read) and a manifest tying both to the commit, the synthesized files and the Terraform version;
``apply`` applies exactly that saved plan and refuses one from another commit, older than the
configured age, changed since, or already applied.

What stops them is one of the platform's ``mlops_spec.exit_codes`` kinds: ``Refused`` (1) a plan from
another commit, too old, tampered with; ``BadInput`` (2) missing synth output, an unreadable plan
bundle, a bad option, nothing changed; ``InfraError`` (3) Terraform failed or is missing (backend,
provider registry, workspace API), nothing to trust.
"""

from infra.deploy.bundle import Bundle, Manifest
from mlops_spec.exit_codes import BadInput, InfraError, Refused

__all__ = ["BadInput", "Bundle", "InfraError", "Manifest", "Refused"]
