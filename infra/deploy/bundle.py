"""A plan bundle: ``plans/<stack>/`` holding the saved plan, its JSON and a manifest that binds them.

The manifest records what the plan was made from (commit, synthesized files, Terraform version,
toolchain) and the SHA-256 of the plan file and of its JSON: the JSON is what the guardrails and
the review read, the plan file is what Terraform applies, and the hashes tie one to the other.
Bundles are written into a sibling folder and renamed into place, so a killed ``plan`` never leaves
a half-written bundle that looks complete.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops_spec.config.environment import ACCOUNT_STACK
from mlops_spec.exit_codes import BadInput

FORMAT = 1
PLAN_FILE = "tfplan"
PLAN_JSON = "plan.json"
MANIFEST = "manifest.json"
LOCK_FILE = "terraform.lock.hcl"  # the stack's .terraform.lock.hcl; no dot: artifact uploads skip dotfiles
APPLY_MARKER = "apply-started.json"
STACK_COPY = "stack"  # the synthesized files that were planned: applied from here, never re-synthesized
# Files Terraform or the deploy tool writes into a stack folder; not part of what was synthesized.
NOT_SYNTHESIZED = (".terraform", ".terraform.lock.hcl", "terraform.tfstate", "terraform.tfstate.backup")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def synth_digest(stack_dir: Path) -> str:
    """One hash over every synthesized file of a stack (cdk.tf.json and its assets), by relative path.

    A saved plan embeds the configuration but not the assets it uploads (the wheel): the apply reads
    them from the folder, so they must be the very bytes that were planned.
    """
    digest = hashlib.sha256()
    for path in sorted(p for p in stack_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(stack_dir)
        if rel.parts[0] in NOT_SYNTHESIZED:
            continue
        digest.update(rel.as_posix().encode() + b"\0" + sha256_file(path).encode() + b"\n")
    return digest.hexdigest()


def copy_synthesized(src: Path, dst: Path) -> None:
    """The synthesized files of ``src`` (not Terraform's working files) into ``dst``, which may exist."""
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        rel = path.relative_to(src)
        if rel.parts[0] in NOT_SYNTHESIZED:
            continue
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dst / rel)


def remove_synthesized(folder: Path) -> None:
    """Everything but Terraform's working files (its provider cache, lock and local state)."""
    for path in folder.iterdir():
        if path.name in NOT_SYNTHESIZED:
            continue
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Manifest:
    stack: str
    workdir: str  # the stack folder Terraform ran in, relative to the repository when inside it
    commit: str
    dirty: bool
    created_at: str  # ISO 8601, UTC
    toolchain: str
    terraform_version: str
    plan_sha256: str
    plan_json_sha256: str
    synth_sha256: str
    lock_sha256: str | None
    changes: dict[str, int]
    format: int = FORMAT

    def created(self) -> datetime:
        return datetime.fromisoformat(self.created_at)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_file(cls, path: Path) -> Manifest:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise BadInput(f"{path}: cannot read the plan manifest: {exc.strerror or exc}") from exc
        except json.JSONDecodeError as exc:
            raise BadInput(f"{path}: line {exc.lineno}: invalid JSON: {exc.msg}") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            got = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise BadInput(f"{path}: format: unsupported plan manifest; got {got!r}; allowed: {FORMAT}")
        fields = {f.name for f in dataclasses.fields(cls)}
        missing = sorted(n for n in fields if n not in data and n != "format")
        if missing:
            raise BadInput(f"{path}: {missing[0]}: missing from the plan manifest")
        try:
            manifest = cls(**{k: v for k, v in data.items() if k in fields})
            manifest.created()
        except (TypeError, ValueError) as exc:
            raise BadInput(f"{path}: created_at: not an ISO 8601 time; got {data['created_at']!r}") from exc
        return manifest


@dataclass(frozen=True)
class Bundle:
    """``<plans_dir>/<stack>/``."""

    root: Path

    @classmethod
    def of(cls, plans_dir: Path, stack: str) -> Bundle:
        return cls(plans_dir / stack)

    @property
    def plan_file(self) -> Path:
        return self.root / PLAN_FILE

    @property
    def plan_json(self) -> Path:
        return self.root / PLAN_JSON

    @property
    def manifest_file(self) -> Path:
        return self.root / MANIFEST

    @property
    def lock_file(self) -> Path:
        return self.root / LOCK_FILE

    @property
    def stack_copy(self) -> Path:
        return self.root / STACK_COPY

    @property
    def apply_marker(self) -> Path:
        return self.root / APPLY_MARKER

    def manifest(self) -> Manifest:
        if not self.manifest_file.is_file():
            stack = self.root.name
            make = "make plan-account" if stack == ACCOUNT_STACK else f"make plan ENV={stack}"
            raise BadInput(
                f"{self.root}: no saved plan ({MANIFEST} missing); make one with `{make}` "
                "or download the plan artifact of this commit"
            )
        return Manifest.from_file(self.manifest_file)

    def plan_document(self) -> dict[str, Any]:
        try:
            doc = json.loads(self.plan_json.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise BadInput(f"{self.plan_json}: not a readable `terraform show -json` plan: {exc}") from exc
        if not isinstance(doc, dict) or ("resource_changes" not in doc and "planned_values" not in doc):
            raise BadInput(f"{self.plan_json}: <root>: not a `terraform show -json` plan")
        return doc

    @contextmanager
    def replace(self) -> Iterator[Path]:
        """A scratch folder that becomes this bundle only when the block finishes without error.

        The previous bundle goes first: after a failed or killed plan there is no plan to apply,
        rather than an older one the user did not mean to apply.
        """
        self.root.parent.mkdir(parents=True, exist_ok=True)
        if self.root.exists():
            shutil.rmtree(self.root)
        scratch = Path(tempfile.mkdtemp(prefix=f".{self.root.name}-", dir=self.root.parent))
        try:
            yield scratch
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        scratch.rename(self.root)


def count_changes(plan: dict[str, Any]) -> dict[str, int]:
    """Resource changes by action, as Terraform's own summary counts them (a replace is one)."""
    counts = {"create": 0, "update": 0, "delete": 0, "replace": 0, "read": 0, "no-op": 0}
    for change in plan.get("resource_changes") or []:
        actions = (change.get("change") or {}).get("actions") or []
        key = "replace" if sorted(actions) == ["create", "delete"] else (actions[0] if actions else "no-op")
        counts[key] = counts.get(key, 0) + 1
    return counts


def describe_changes(plan: dict[str, Any]) -> list[str]:
    """One line per resource that changes: ``+ databricks_job.train (create)``."""
    signs = {"create": "+", "update": "~", "delete": "-", "replace": "-/+", "read": "<="}
    lines = []
    for change in plan.get("resource_changes") or []:
        actions = (change.get("change") or {}).get("actions") or []
        key = "replace" if sorted(actions) == ["create", "delete"] else (actions[0] if actions else "no-op")
        if key != "no-op":
            lines.append(f"  {signs.get(key, '?'):>3} {change.get('address')} ({key})")
    return lines
