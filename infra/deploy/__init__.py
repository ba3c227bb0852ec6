"""Plan, review, approve, apply the same plan (``python -m infra.deploy``, ``make plan/apply``).

The synthesized stack folder ``cdktf.out/stacks/<stack>/`` is a plain Terraform working directory.
``plan`` saves a Terraform plan per stack with its ``terraform show -json`` (what the guardrails and the
review read) and a manifest tying both to the commit, the synthesized files and the Terraform version;
``apply`` applies exactly that saved plan and refuses one from another commit, older than the
configured age, changed since, or already applied.
"""

from infra.deploy.bundle import Bundle, Manifest
from infra.deploy.errors import BadInput, DeployError, InfraError, Refused

__all__ = ["BadInput", "Bundle", "DeployError", "InfraError", "Manifest", "Refused"]
