"""Every config field is described, and docs/configuration.md is what the models say.

The page is generated (``python -m mlops_spec.config.reference --write``); these tests fail when a
field has no description, when a config model is left out of the page, or when the committed page
differs from what the models generate today.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

import mlops_spec.config as config_pkg
from mlops_spec.config.base import Spec
from mlops_spec.config.reference import (
    UndescribedFieldError,
    main,
    models_reached,
    render,
    rows,
)
from mlops_spec.config.roles import PerEnv


def config_models() -> list[type[BaseModel]]:
    found = []
    for info in pkgutil.iter_modules(config_pkg.__path__):
        module = importlib.import_module(f"{config_pkg.__name__}.{info.name}")
        for obj in vars(module).values():
            if inspect.isclass(obj) and issubclass(obj, BaseModel) and obj.__module__ == module.__name__:
                found.append(obj)
    return [m for m in found if m is not Spec]


@pytest.mark.parametrize("model", config_models(), ids=lambda m: m.__name__)
def test_every_config_field_has_a_description(model: type[BaseModel]) -> None:
    assert [name for name, field in model.model_fields.items() if not field.description] == []


def test_every_config_model_is_on_the_page() -> None:
    reached = {m for m in models_reached() if not issubclass(m, PerEnv)}
    assert set(config_models()) - {PerEnv} <= reached


def test_the_committed_page_is_up_to_date(repo_root: Path) -> None:
    page = repo_root / "docs" / "configuration.md"
    assert page.read_text(encoding="utf-8") == render(), (
        "docs/configuration.md is out of date: run `python -m mlops_spec.config.reference --write`"
    )
    assert main(["--check", "--file", str(page)]) == 0


def test_the_page_names_keys_types_defaults_and_descriptions() -> None:
    text = render()
    assert (
        "| `jobs.timeout_seconds` | integer, ≥ 60, ≤ 172800 | `7200` | "
        "Timeout of every job run (training may set its own). |" in text
    )
    assert "| `models[].serving.rollout` | `canary` \\| `blue_green` \\| `shadow` | `\"canary\"` |" in text
    assert "| `state_backend.type` | `local` \\| `s3` \\| `azurerm` \\| `gcs` | `local` |" in text
    assert "| `roles.<key>.jobs` | per environment: `CAN_VIEW`" in text
    assert "None" not in text.split("## ", 1)[1]  # YAML says null


def test_fails_on_a_stale_page(tmp_path: Path) -> None:
    stale = tmp_path / "configuration.md"
    stale.write_text(render().replace("Timeout of every job run", "Timeout"))
    assert main(["--check", "--file", str(stale)]) == 1
    assert main(["--write", "--file", str(stale)]) == 0
    assert main(["--check", "--file", str(stale)]) == 0


def test_fails_on_a_field_without_a_description() -> None:
    class Undocumented(Spec):
        documented: int = Field(1, description="A described field.")
        bare: int = 2

    with pytest.raises(UndescribedFieldError, match=r"Undocumented\.bare has no description"):
        list(rows(Undocumented))


def test_the_readme_configuration_section_links_the_reference(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    assert "(docs/configuration.md)" in section
