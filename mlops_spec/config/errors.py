"""The one error type for bad configuration.

Every message names the file, the key path, the bad value and what is allowed, e.g.
``stacks/prod.yaml: models[0].serving.workload_size: ...; got 'Huge'``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


def format_path(path: Sequence[str | int]) -> str:
    """``("models", 0, "name")`` -> ``models[0].name``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<root>"


def allowed(values: Iterable[str], when_none: str = "") -> str:
    """A Problem's ``allowed``: the values sorted and comma-separated, ``when_none`` when there are none."""
    return ", ".join(sorted(values)) or when_none


@dataclass(frozen=True)
class Problem:
    file: str
    path: tuple[str | int, ...]
    message: str
    value: Any = None
    allowed: str | None = None
    show_value: bool = True

    def __str__(self) -> str:
        text = f"{self.file}: {format_path(self.path)}: {self.message}"
        if self.show_value:
            text += f"; got {self.value!r}"
        if self.allowed:
            text += f"; allowed: {self.allowed}"
        return text


class ConfigError(ValueError):
    """Raised before any construct exists, so a bad config never produces partial synth output."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def single(
        cls,
        file: str,
        path: Sequence[str | int],
        message: str,
        value: Any = None,
        allowed: str | None = None,
        show_value: bool = True,
    ) -> ConfigError:
        return cls([Problem(file, tuple(path), message, value, allowed, show_value)])
