"""Errors that make a Terraform document unusable (exit code 2).

Messages name the file, the key path, the bad value and what is allowed, in the same shape as
``mlops_spec.config``: ``dev/cdk.tf.json: resource.databricks_job: expected an object of resources``.
"""

from __future__ import annotations

from collections.abc import Iterable


class DocumentError(ValueError):
    """Input that cannot be read as a synthesized stack or a plan. Never treated as a pass."""

    def __init__(self, problems: str | Iterable[str]) -> None:
        self.problems = (problems,) if isinstance(problems, str) else tuple(problems)
        super().__init__("\n".join(self.problems))


def problem(file: str, path: str, message: str, value: object = None, allowed: str | None = None) -> str:
    text = f"{file}: {path or '<root>'}: {message}"
    if value is not None:
        text += f"; got {value!r}"
    if allowed:
        text += f"; allowed: {allowed}"
    return text
