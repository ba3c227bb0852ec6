"""Errors that stop the review (exit code 2): bad input, never a silent pass."""

from __future__ import annotations

from collections.abc import Iterable


class ReviewError(ValueError):
    """Unusable input: unknown ref, dirty tree, a base that does not synthesize, bad policy files."""

    def __init__(self, problems: str | Iterable[str]) -> None:
        self.problems = (problems,) if isinstance(problems, str) else tuple(problems)
        super().__init__("\n".join(self.problems))


def problem(file: str, path: str, message: str, value: object = None, allowed: str | None = None) -> str:
    """``policies/pricing.yaml: usd_per_dbu.jobs_compute: must be > 0; got -1; allowed: ...``."""
    text = f"{file}: {path or '<root>'}: {message}"
    if value is not None:
        text += f"; got {value!r}"
    if allowed:
        text += f"; allowed: {allowed}"
    return text
