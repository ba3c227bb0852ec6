"""Plan one stack into a bundle; check a bundle against this checkout; apply exactly its plan.

Kill-safe and at most once: a bundle appears only when complete (``Bundle.replace``); ``apply``
claims the bundle by creating its marker exclusively before Terraform starts, so two applies of one
plan (run twice, or at once) run Terraform once, and a killed apply is never silently re-run (Terraform
would refuse its stale plan anyway once the state moved).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from infra.deploy.bundle import (
    PLAN_FILE,
    Bundle,
    Manifest,
    copy_synthesized,
    count_changes,
    remove_synthesized,
    sha256_file,
    synth_digest,
    utc_now,
)
from infra.deploy.terraform import Terraform
from infra.review.errors import ReviewError
from infra.review.workspace import dirty_paths, git
from mlops_spec.exit_codes import BadInput, Refused

CLOCK_SKEW = timedelta(minutes=5)
_AGE = re.compile(r"^(\d+)\s*([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_age(text: str) -> timedelta:
    """``90m``, ``4h``, ``2d`` or plain seconds."""
    match = _AGE.match(text.strip())
    if not match or int(match.group(1)) <= 0:
        raise BadInput(f"--max-age: {text!r} is not a positive age; allowed: N, Ns, Nm, Nh, Nd (e.g. 24h)")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def head_commit(repo: Path) -> str:
    try:
        return git(repo, "rev-parse", "HEAD").stdout.strip()
    except ReviewError as exc:
        raise BadInput(f"{repo}: not a git checkout with a commit (a plan is tied to one): {exc}") from exc


def is_dirty(repo: Path, ignore: list[Path]) -> bool:
    try:
        return bool(dirty_paths(repo, ignore=ignore))
    except ReviewError as exc:
        raise BadInput(str(exc)) from exc


def stack_folder(synth_dir: Path, stack: str) -> Path:
    folder = synth_dir / "stacks" / stack
    if not (folder / "cdk.tf.json").is_file():
        raise BadInput(
            f"{folder}/cdk.tf.json: missing; synthesize first (`make synth ENV=...`, the same commit)"
        )
    return folder


def workdir_label(repo: Path, folder: Path) -> str:
    """Where Terraform runs, as recorded: a local state path in the stack is relative to it."""
    resolved, root = folder.resolve(), repo.resolve()
    return resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else str(resolved)


@dataclass(frozen=True)
class Context:
    repo: Path
    synth_dir: Path
    plans_dir: Path
    toolchain: str

    def bundle(self, stack: str) -> Bundle:
        return Bundle.of(self.plans_dir, stack)


def plan_stack(ctx: Context, stack: str, terraform: Terraform, *, lock: bool = True) -> Manifest:
    folder = stack_folder(ctx.synth_dir, stack)
    commit = head_commit(ctx.repo)
    dirty = is_dirty(ctx.repo, ignore=[ctx.plans_dir])
    version = terraform.version()
    bundle = ctx.bundle(stack)
    with bundle.replace() as scratch:
        terraform.init(folder)
        plan_file = scratch / PLAN_FILE
        terraform.plan(folder, plan_file, lock=lock)
        doc = terraform.show_json(folder, plan_file)
        plan_json = scratch / bundle.plan_json.name
        plan_json.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        lock_src = folder / ".terraform.lock.hcl"
        if lock_src.is_file():
            shutil.copyfile(lock_src, scratch / bundle.lock_file.name)
        copy_synthesized(folder, scratch / bundle.stack_copy.name)
        manifest = Manifest(
            stack=stack,
            workdir=workdir_label(ctx.repo, folder),
            commit=commit,
            dirty=dirty,
            created_at=utc_now().isoformat(timespec="seconds"),
            toolchain=ctx.toolchain,
            terraform_version=version,
            plan_sha256=sha256_file(plan_file),
            plan_json_sha256=sha256_file(plan_json),
            synth_sha256=synth_digest(scratch / bundle.stack_copy.name),
            lock_sha256=sha256_file(lock_src) if lock_src.is_file() else None,
            changes=count_changes(doc),
        )
        # Written last: a bundle without a manifest is never applied.
        (scratch / bundle.manifest_file.name).write_text(manifest.to_json(), encoding="utf-8")
    return manifest


def refusals(
    bundle: Bundle,
    manifest: Manifest,
    *,
    stack: str,
    repo: Path,
    folder: Path,
    commit: str,
    head: str,
    max_age: timedelta,
    terraform_version: str,
    now: datetime,
) -> list[str]:
    """Every reason this bundle must not be applied here and now (empty: apply it)."""
    out = []
    if manifest.stack != stack:
        out.append(f"the plan is for stack {manifest.stack!r}, not {stack!r}")
    if manifest.dirty:
        out.append(f"the plan was made from uncommitted changes on {manifest.commit[:12]}; plan a commit")
    if manifest.commit != commit:
        out.append(f"the plan was made from commit {manifest.commit[:12]}, not {commit[:12]} (deploying)")
    if head != commit:
        out.append(f"this checkout is at {head[:12]}, not {commit[:12]}: the synthesized files would differ")
    created = manifest.created()
    age = now - created
    if age > max_age:
        limit = _human(max_age)
        out.append(f"the plan is {_human(age)} old (made {manifest.created_at}); the limit is {limit}")
    if created - now > CLOCK_SKEW:
        out.append(f"the plan claims to be made in the future ({manifest.created_at})")
    for path, want, what in (
        (bundle.plan_file, manifest.plan_sha256, "plan file"),
        (bundle.plan_json, manifest.plan_json_sha256, "plan JSON (what was reviewed)"),
    ):
        if not path.is_file():
            out.append(f"{path}: the {what} is missing")
        elif sha256_file(path) != want:
            out.append(f"{path}: the {what} changed since it was planned (SHA-256 differs)")
    if manifest.lock_sha256 and (
        not bundle.lock_file.is_file() or sha256_file(bundle.lock_file) != manifest.lock_sha256
    ):
        out.append(f"{bundle.lock_file}: the provider lock file is missing or changed")
    if workdir_label(repo, folder) != manifest.workdir:
        out.append(f"{folder}: the plan ran in {manifest.workdir}; a local state path is relative to it")
    if not bundle.stack_copy.is_dir() or synth_digest(bundle.stack_copy) != manifest.synth_sha256:
        out.append(f"{bundle.stack_copy}: the planned stack files are missing or changed since the plan")
    if terraform_version != manifest.terraform_version:
        out.append(
            f"Terraform {terraform_version} here, the plan was made with {manifest.terraform_version}: "
            "Terraform applies a saved plan only with the version that made it"
        )
    if bundle.apply_marker.exists():
        out.append(f"{bundle.apply_marker}: an apply of this plan already started; plan again")
    return out


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 86400 and seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f}h".replace(".0h", "h")
    return f"{seconds // 60}m" if seconds >= 60 else f"{seconds}s"


def apply_stack(
    ctx: Context,
    stack: str,
    terraform: Terraform,
    *,
    max_age: timedelta,
    commit: str | None = None,
    now: datetime | None = None,
) -> Manifest:
    bundle = ctx.bundle(stack)
    manifest = bundle.manifest()
    folder = ctx.synth_dir / "stacks" / stack
    head = head_commit(ctx.repo)
    problems = refusals(
        bundle,
        manifest,
        stack=stack,
        repo=ctx.repo,
        folder=folder,
        commit=commit or head,
        head=head,
        max_age=max_age,
        terraform_version=terraform.version(),
        now=now or utc_now(),
    )
    if problems:
        raise Refused(f"apply {stack}: refused:\n  " + "\n  ".join(problems))
    _claim(bundle, manifest)
    _materialize(bundle, folder, manifest)
    if bundle.lock_file.is_file():
        # The providers the plan was made with, checked against the lock (never upgraded here).
        shutil.copyfile(bundle.lock_file, folder / ".terraform.lock.hcl")
    terraform.init(folder, lockfile_readonly=bundle.lock_file.is_file())
    terraform.apply(folder, bundle.plan_file)
    return manifest


def _materialize(bundle: Bundle, folder: Path, manifest: Manifest) -> None:
    """The stack files that were planned, in the folder the plan ran in.

    A saved plan embeds the configuration but not the assets it uploads (the wheel): Terraform reads
    them from the folder at apply. Applying from the bundle's copy makes them the planned bytes, even
    if a synth of the same commit on another runner were not byte-identical.
    """
    if folder.is_dir() and synth_digest(folder) == manifest.synth_sha256:
        return
    folder.mkdir(parents=True, exist_ok=True)
    remove_synthesized(folder)
    copy_synthesized(bundle.stack_copy, folder)


def _claim(bundle: Bundle, manifest: Manifest) -> None:
    """Create the apply marker exclusively: of two applies of one plan, one wins, the other refuses."""
    record = {"plan_sha256": manifest.plan_sha256, "started_at": utc_now().isoformat(), "pid": os.getpid()}
    try:
        fd = os.open(bundle.apply_marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError as exc:
        raise Refused(f"{bundle.apply_marker}: another apply of this plan started first; plan again") from exc
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
