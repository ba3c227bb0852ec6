"""Each construct synthesized alone in a throwaway stack (cdktf's Testing API), read back as JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from infra.cdk import Construct, TerraformStack
from infra.cdk import Testing as CdktfTesting  # aliased: pytest would try to collect 'Test*'


def synth(build: Callable[[Construct], Any]) -> dict[str, Any]:
    stack = TerraformStack(CdktfTesting.app(), "test")
    build(stack)
    return json.loads(CdktfTesting.synth(stack))


def of_type(doc: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return doc.get("resource", {}).get(rtype, {})


def only(doc: dict[str, Any], rtype: str) -> dict[str, Any]:
    (body,) = of_type(doc, rtype).values()
    return body
