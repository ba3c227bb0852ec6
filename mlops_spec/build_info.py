"""The code version of the jobs: written into the wheel when it is built, read back where it runs.

A job cluster has no checkout to ask, so the wheel carries ``mlops_spec/_build_info.json``, written by
``hatch_build.py`` from the checkout it is built from:

* ``commit``: the newest commit that changed a file the wheel is built from (the packages, the bundled
  config, ``pyproject.toml``, the build hook; Markdown excluded, as the wheel excludes it). A commit
  that only edits documentation therefore leaves the wheel byte for byte the same, hence the same
  artifact path in every environment (``infra/constructs/artifact.py``), while the same commit always
  gives the same bytes (``SOURCE_DATE_EPOCH`` fixes the timestamps).
* ``dirty``: those files differ from that commit (a local build); ``source_digest`` is the SHA-256 of
  their content, so two different uncommitted states never share a version.
* ``code_version``: what runs record and what the "same data, config and code: reuse the version"
  check compares: the commit when clean, ``<commit>+dirty.<digest>`` when not, ``source.<digest>``
  without git (a copy of the tree).

In a shallow clone the newest change may lie beyond the clone's history: then the oldest commit the
clone has stands in for it (``shallow`` says so); the deploy workflows' plan jobs fetch full history.
This module uses the standard library only: the build hook loads it by path, before anything is
installed.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

BUILD_INFO_NAME = "_build_info.json"
WHEEL_PATH = f"mlops_spec/{BUILD_INFO_NAME}"
"""Where the wheel carries it (next to this module once installed)."""
CODE_VERSION_ENV = "MLOPS_GIT_COMMIT"
"""An explicit code version wins over everything (kept for callers that already set it)."""
HOOK_FILE = "hatch_build.py"
EXCLUDED_SUFFIXES = (".md", ".pyc")
EXCLUDED_DIRS = {"__pycache__"}


@dataclass(frozen=True)
class BuildInfo:
    commit: str | None
    dirty: bool
    shallow: bool
    source_digest: str
    code_version: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


def sources(root: Path) -> list[str]:
    """Files and folders the wheel is built from, relative to ``root`` (read from pyproject.toml)."""
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    wheel = config["tool"]["hatch"]["build"]["targets"]["wheel"]
    return sorted({*wheel["packages"], *wheel.get("force-include", {}), "pyproject.toml", HOOK_FILE})


def _files(root: Path, parts: list[str]) -> list[Path]:
    out = []
    for part in parts:
        path = root / part
        candidates = sorted(path.rglob("*")) if path.is_dir() else [path]
        for f in candidates:
            rel = f.relative_to(root)
            if not f.is_file() or f.suffix in EXCLUDED_SUFFIXES or EXCLUDED_DIRS & set(rel.parts):
                continue
            if rel.as_posix() == WHEEL_PATH:
                continue
            out.append(f)
    return out


def source_digest(root: Path) -> str:
    """SHA-256 over the relative paths and bytes of the files the wheel is built from."""
    digest = hashlib.sha256()
    for f in _files(root, sources(root)):
        digest.update(f.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(f.read_bytes()).digest())
    return digest.hexdigest()


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def compute(root: Path) -> BuildInfo:
    """The build info of the checkout (or plain tree) at ``root``."""
    root = root.resolve()
    digest = source_digest(root)
    top = _git(root, "rev-parse", "--show-toplevel")
    commit = None
    dirty = shallow = False
    if top is not None and Path(top).resolve() == root:  # not a folder inside some other repository
        spec = [*sources(root), ":(exclude,glob)**/*.md"]
        commit = _git(root, "log", "-1", "--format=%H", "--", *spec) or None
        status = _git(root, "status", "--porcelain", "--untracked-files=all", "--", *spec)
        dirty = bool(status)
        shallow = _git(root, "rev-parse", "--is-shallow-repository") == "true"
    if commit is None:
        version = f"source.{digest[:16]}"
    elif dirty:
        version = f"{commit}+dirty.{digest[:12]}"
    else:
        version = commit
    return BuildInfo(commit, dirty, shallow, digest, version)


def installed(package_dir: Path | None = None) -> BuildInfo | None:
    """The build info the installed wheel carries; None when running from a checkout."""
    path = (package_dir or Path(__file__).resolve().parent) / BUILD_INFO_NAME
    if not path.is_file():
        return None
    return BuildInfo(**json.loads(path.read_text(encoding="utf-8")))


def code_version(environ: dict[str, str] | None = None) -> str:
    """``$MLOPS_GIT_COMMIT``, else the installed wheel's, else the checkout's, else ``unknown``."""
    environ = dict(os.environ) if environ is None else environ
    if environ.get(CODE_VERSION_ENV):
        return environ[CODE_VERSION_ENV]
    info = installed()
    if info is not None:
        return info.code_version
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file():
        return compute(checkout).code_version
    return "unknown"
