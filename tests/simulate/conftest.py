"""The shipped stacks, synthesized once per run, as documents the simulator reads."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import Docs


@pytest.fixture
def docs(shipped_docs: Docs) -> Docs:
    """A private copy a test may weaken."""
    return copy.deepcopy(shipped_docs)


def resources(
    doc: dict[str, Any], rtype: str, where: Callable[[str, dict], bool] = lambda n, b: True
) -> Iterator[tuple[str, dict]]:
    for name, body in doc.get("resource", {}).get(rtype, {}).items():
        if where(name, body):
            yield name, body


def one(doc: dict[str, Any], rtype: str, contains: str = "") -> tuple[str, dict]:
    found = [(n, b) for n, b in resources(doc, rtype) if contains in n]
    assert found, f"no {rtype} whose name contains {contains!r}"
    return found[0]
