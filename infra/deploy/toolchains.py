"""Compare the synth output of the two toolchains (``make toolchains-check``).

CDKTF 0.21 and CDK Terrain 0.24 must write the same stacks: the same files, byte-identical assets
and the same JSON, except where a toolchain names itself or its provider binding. Allowed to differ:

* ``//.metadata.version`` in each ``cdk.tf.json`` and ``version`` in ``manifest.json``: the toolchain's
  own version (0.21.0 vs 0.24.0);
* ``terraform.required_providers.databricks.version``: the provider version the binding was generated
  for (cdktf-cdktf-provider-databricks 15.16.1 pins 1.99.0, cdktn-provider-databricks 18.11.0 pins
  1.138.0). Every attribute the stacks set exists in both bindings (a Python binding rejects unknown
  arguments), so a provider that renamed one fails the synth, not the comparison.

Anything else is a difference and fails with its file and key path.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from infra.deploy.bundle import sha256_file
from mlops_spec.exit_codes import BadInput

ALLOWED: dict[str, set[tuple[str, ...]]] = {
    "cdk.tf.json": {
        ("//", "metadata", "version"),
        ("terraform", "required_providers", "databricks", "version"),
    },
    "manifest.json": {("version",)},
}


def _json_diff(left: Any, right: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(left, dict) and isinstance(right, dict):
        for key in sorted(set(left) | set(right)):
            if key not in right:
                yield (*path, key), "only in the first"
            elif key not in left:
                yield (*path, key), "only in the second"
            else:
                yield from _json_diff(left[key], right[key], (*path, key))
    elif isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        for i, (a, b) in enumerate(zip(left, right, strict=True)):
            yield from _json_diff(a, b, (*path, str(i)))
    elif left != right:
        yield path, f"{json.dumps(left)[:80]} vs {json.dumps(right)[:80]}"


def _files(root: Path) -> dict[str, Path]:
    if not (root / "manifest.json").is_file():
        raise BadInput(f"{root}/manifest.json: missing; not a synth output folder")
    return {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file()}


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BadInput(f"{path}: unreadable JSON: {exc}") from exc


def compare(left: Path, right: Path) -> tuple[list[str], list[str]]:
    """(differences that fail, allowed differences), each as ``file: key.path: detail``."""
    a, b = _files(left), _files(right)
    failing = [f"{name}: only in {left}" for name in sorted(set(a) - set(b))]
    failing += [f"{name}: only in {right}" for name in sorted(set(b) - set(a))]
    allowed: list[str] = []
    for name in sorted(set(a) & set(b)):
        if not name.endswith(".json"):
            if sha256_file(a[name]) != sha256_file(b[name]):
                failing.append(f"{name}: the bytes differ")
            continue
        rules = ALLOWED.get(Path(name).name, set())
        for path, detail in _json_diff(_read(a[name]), _read(b[name]), ()):
            line = f"{name}: {'.'.join(path) or '<root>'}: {detail}"
            (allowed if path in rules else failing).append(line)
    return failing, allowed
