"""Apply-and-permission simulator: would a first deploy succeed, and could every job do its work?

Reads the synthesized stacks through the shared document model (:mod:`infra.tfdoc`), applies them to
an in-memory Databricks account and workspaces in Terraform's dependency order under the identity
that applies each stack, then runs every job task on paper under its ``run_as`` identity. Every rule
comes from the provider's source or Databricks' documentation (``rules.py``, ``RULES.md``).
It is a model of Databricks, not Databricks: the README says what it covers and what only a real
deploy shows.
"""

from __future__ import annotations

from infra.simulate.api import simulate, stacks_from_docs
from infra.simulate.model import Failure, Result, StackInput
from infra.simulate.rules import RULES, Rule

__all__ = ["RULES", "Failure", "Result", "Rule", "StackInput", "simulate", "stacks_from_docs"]
