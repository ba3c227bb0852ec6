"""Git and synthesis around the review: a clean tree, a temporary worktree for the base, two synths.

The base is synthesized with its own code (its own ``stacks/`` and ``infra/``, its own wheel) in a
detached ``git worktree``; the worktree is removed in ``finally``, even when the synth fails.
Both sides synthesize in parallel: each synth is mostly a Node (jsii) process waiting on Python.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from infra.review.errors import ReviewError

STDERR_TAIL_LINES = 25
SYNTH_TIMEOUT_S = 600


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise ReviewError(
            f"git {' '.join(args)} failed in {repo}: {proc.stderr.strip() or proc.stdout.strip()}"
        )
    return proc


def repo_root(start: Path) -> Path:
    proc = git(start, "rev-parse", "--show-toplevel", check=False)
    if proc.returncode != 0:
        raise ReviewError(f"{start}: not inside a git repository; the review compares git refs")
    return Path(proc.stdout.strip())


def dirty_paths(repo: Path, ignore: Sequence[Path] = ()) -> list[str]:
    """Modified, staged or untracked files: the head must be exactly what a commit would hold."""
    ignored = {p.resolve() for p in ignore}
    out = []
    for line in git(repo, "status", "--porcelain", "--untracked-files=all").stdout.splitlines():
        path = line[3:].split(" -> ")[-1].strip('"')
        if (repo / path).resolve() not in ignored:
            out.append(path)
    return out


def resolve_ref(repo: Path, ref: str) -> str:
    proc = git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise ReviewError(
            f"--base {ref!r}: unknown git ref in {repo}; use a branch, tag or commit "
            "(in CI fetch it first, e.g. `git fetch origin main` and --base origin/main)"
        )
    return proc.stdout.strip()


def changed_files(repo: Path, base_sha: str) -> tuple[str, ...]:
    return tuple(git(repo, "diff", "--name-only", base_sha).stdout.split())


@contextmanager
def base_worktree(repo: Path, sha: str, tmp: Path) -> Iterator[Path]:
    path = tmp / "base"
    git(repo, "worktree", "add", "--detach", str(path), sha)
    try:
        yield path
    finally:
        git(repo, "worktree", "remove", "--force", str(path), check=False)
        git(repo, "worktree", "prune", check=False)


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "SOURCE_DATE_EPOCH": "315532800",  # the wheel `make wheel` builds: same commit, same bytes
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        "CHECKPOINT_DISABLE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _run(cmd: list[str], cwd: Path, what: str, cancel: threading.Event | None = None) -> None:
    """Run one step; stop early when the other side already failed (``cancel`` set)."""
    env = {**_env(), "PYTHONPATH": str(cwd)}  # the tree's own packages, not the editable install's
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + SYNTH_TIMEOUT_S
    while True:
        try:
            out, err = proc.communicate(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            if (cancel is not None and cancel.is_set()) or time.monotonic() > deadline:
                proc.kill()
                proc.communicate()
                if cancel is not None and cancel.is_set():
                    raise _Cancelled(what) from None
                raise ReviewError(f"{what}: timed out after {SYNTH_TIMEOUT_S} s") from None
    if proc.returncode != 0:
        tail = "\n".join((err or out).strip().splitlines()[-STDERR_TAIL_LINES:])
        raise ReviewError(f"{what} failed (exit {proc.returncode}):\n{tail}")


class _Cancelled(Exception):
    """The other side failed first; its error is the one to report."""


def _wheel_command(tree: Path, dist: Path) -> list[str]:
    """Hatchling directly when the tree builds with it: the same bytes as pip's build, a second sooner."""
    try:
        backend = (tree / "pyproject.toml").read_text(encoding="utf-8")
    except OSError as exc:
        raise ReviewError(f"{tree}: no pyproject.toml to build the platform wheel from") from exc
    if 'build-backend = "hatchling.build"' in backend:
        return [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(dist)]
    return [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        str(dist),
        ".",
    ]


def synthesize(
    tree: Path, out: Path, label: str, cancel: threading.Event | None = None
) -> dict[str, dict[str, Any]]:
    """Build the tree's wheel and synthesize its app into ``out``; returns {env: cdk.tf.json}."""
    dist = out.parent / f"{out.name}-dist"
    _run(_wheel_command(tree, dist), tree, f"{label}: building the platform wheel", cancel)
    wheels = sorted(dist.glob("*.whl"))
    if len(wheels) != 1:
        raise ReviewError(f"{label}: expected one wheel in {dist}, found {[w.name for w in wheels]}")
    _run(
        [sys.executable, "-m", "stacks.main", "--outdir", str(out), "--wheel", str(wheels[0])],
        tree,
        f"{label}: synthesizing the stacks (python -m stacks.main)",
        cancel,
    )
    docs = {}
    for path in sorted(out.glob("stacks/*/cdk.tf.json")):
        docs[path.parent.name] = json.loads(path.read_text(encoding="utf-8"))
    if not docs:
        raise ReviewError(f"{label}: the synth wrote no stacks/*/cdk.tf.json under {out}")
    return docs


def synthesize_both(repo: Path, base_tree: Path, tmp: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both sides at once; the first failure stops the other side and is the error reported."""
    cancel = threading.Event()

    def side(tree: Path, label: str) -> dict[str, Any]:
        try:
            return synthesize(tree, tmp / f"{label}-out", label, cancel)
        except ReviewError:
            cancel.set()
            raise

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(side, base_tree, "base"), pool.submit(side, repo, "head")]
        errors = [f.exception() for f in futures]
    real = [e for e in errors if e is not None and not isinstance(e, _Cancelled)]
    if real:
        raise real[0]
    return futures[0].result(), futures[1].result()


@contextmanager
def scratch_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="infra-review-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
