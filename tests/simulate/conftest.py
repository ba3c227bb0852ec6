"""The shipped stacks, synthesized once per run, as documents the simulator reads."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

Docs = dict[str, dict[str, Any]]


@pytest.fixture(scope="session")
def shipped_docs(synth_dir: Path) -> Docs:
    return {p.parent.name: json.loads(p.read_text()) for p in (synth_dir / "stacks").glob("*/cdk.tf.json")}


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
