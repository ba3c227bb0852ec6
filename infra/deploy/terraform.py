"""The Terraform CLI, run in a synthesized stack folder (a plain Terraform working directory).

Only documented commands and flags are used (https://developer.hashicorp.com/terraform/cli/commands):
``init -input=false [-lockfile=readonly]``, ``plan -input=false -out=FILE -detailed-exitcode`` (exit 0 no
changes, 1 error, 2 changes), ``show -json FILE`` (https://developer.hashicorp.com/terraform/internals/json-format)
and ``apply -input=false FILE``: a saved plan is applied without a prompt, and Terraform itself refuses a
saved plan whose state changed since it was made ("Saved plan is stale").
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlops_spec.exit_codes import BadInput, InfraError

STDERR_TAIL_LINES = 25
INIT_ATTEMPTS = 3  # provider and module downloads fail transiently; init is idempotent
INIT_BACKOFF_S = 2.0


def _tail(text: str) -> str:
    return "\n".join(text.strip().splitlines()[-STDERR_TAIL_LINES:])


class Terraform:
    def __init__(self, binary: str | None = None, *, backoff_s: float = INIT_BACKOFF_S) -> None:
        found = binary or shutil.which("terraform")
        if not found:
            raise InfraError(
                "terraform: not found on PATH; install Terraform (CI: hashicorp/setup-terraform) "
                "with the version the plan was made with"
            )
        self.binary = found
        self.backoff_s = backoff_s
        # Never prompt, never colour: output goes to logs and files.
        self.env = {**os.environ, "TF_INPUT": "0", "TF_IN_AUTOMATION": "1"}

    def _run(
        self, args: Sequence[str], *, what: str, ok: Sequence[int] = (0,), capture: bool = True
    ) -> subprocess.CompletedProcess[str]:
        try:
            proc = subprocess.run(
                [self.binary, *args],
                env=self.env,
                text=True,
                stdout=subprocess.PIPE if capture else None,
                stderr=subprocess.PIPE if capture else None,
            )
        except OSError as exc:
            raise InfraError(f"{what}: cannot run {self.binary}: {exc.strerror or exc}") from exc
        if proc.returncode not in ok:
            detail = _tail(proc.stderr or proc.stdout or "") if capture else "(output above)"
            raise InfraError(f"{what} failed (terraform exit {proc.returncode}):\n{detail}")
        return proc

    def version(self) -> str:
        proc = self._run(["version", "-json"], what="terraform version")
        try:
            return str(json.loads(proc.stdout)["terraform_version"])
        except (ValueError, KeyError, TypeError) as exc:
            raise InfraError(f"terraform version -json: unexpected output: {proc.stdout[:200]!r}") from exc

    def init(self, stack_dir: Path, *, lockfile_readonly: bool = False) -> None:
        args = [f"-chdir={stack_dir}", "init", "-input=false", "-no-color"]
        if lockfile_readonly:
            args.append("-lockfile=readonly")
        for attempt in range(1, INIT_ATTEMPTS + 1):
            try:
                self._run(args, what=f"terraform init in {stack_dir}")
                return
            except InfraError:
                if attempt == INIT_ATTEMPTS:
                    raise
                print(f"terraform init failed (attempt {attempt}/{INIT_ATTEMPTS}); retrying", file=sys.stderr)
                time.sleep(self.backoff_s * attempt)

    def plan(self, stack_dir: Path, out: Path, *, lock: bool = True) -> bool:
        """Save a plan to ``out``; True when it changes something."""
        args = [f"-chdir={stack_dir}", "plan", "-input=false", "-no-color", "-detailed-exitcode"]
        args += [f"-out={out.resolve()}"]
        if not lock:
            args.append("-lock=false")
        proc = self._run(args, what=f"terraform plan in {stack_dir}", ok=(0, 2))
        if not out.is_file():
            raise InfraError(f"terraform plan in {stack_dir} exited {proc.returncode} but wrote no {out}")
        return proc.returncode == 2

    def show_json(self, stack_dir: Path, plan_file: Path) -> dict[str, Any]:
        proc = self._run(
            [f"-chdir={stack_dir}", "show", "-json", "-no-color", str(plan_file.resolve())],
            what=f"terraform show -json {plan_file}",
        )
        try:
            doc = json.loads(proc.stdout)
        except json.JSONDecodeError as exc:
            raise InfraError(f"terraform show -json {plan_file}: not JSON: {exc.msg}") from exc
        if not isinstance(doc, dict) or "format_version" not in doc:
            raise BadInput(f"terraform show -json {plan_file}: <root>: no format_version; not a plan")
        return doc

    def apply(self, stack_dir: Path, plan_file: Path) -> None:
        # Output streams to the caller's terminal or CI log: an apply is watched, not summarised.
        self._run(
            [f"-chdir={stack_dir}", "apply", "-input=false", "-no-color", str(plan_file.resolve())],
            what=f"terraform apply {plan_file}",
            capture=False,
        )
