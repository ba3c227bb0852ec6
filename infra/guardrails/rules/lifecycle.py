"""Destructive protection for the data and the endpoints that prod depends on."""

from __future__ import annotations

from collections.abc import Iterator

from infra.guardrails.params import EnvParams
from infra.guardrails.rules import Violation, rule
from infra.guardrails.stack import StackIndex, as_bool


@rule("DBX019", "protected_types")
def prevent_destroy(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    protected = set(params.protected_types)
    for res in index.of(*params.protected_types):
        # Plans carry no lifecycle settings; there the planned actions below are what counts.
        if res.lifecycle is not None and as_bool(res.lifecycle.get("prevent_destroy")) is not True:
            yield Violation(res, "lifecycle.prevent_destroy is not true")
        if "delete" in res.actions:
            yield Violation(res, f"the plan replaces it ({'/'.join(res.actions)})")
    for res in index.deleted:
        if res.type in protected:
            yield Violation(res, "the plan destroys it")
