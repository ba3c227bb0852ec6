"""Hatchling build hook: the wheel carries the code version it was built from (``mlops_spec.build_info``).

Editable installs get nothing: a checkout answers for itself.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


def _build_info_module(root: Path) -> Any:
    """``mlops_spec/build_info.py`` loaded by path: nothing of the project is importable yet."""
    spec = importlib.util.spec_from_file_location("_mlops_build_info", root / "mlops_spec" / "build_info.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


class BuildInfoHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        build_info = _build_info_module(Path(self.root))
        info = build_info.compute(Path(self.root))
        self._tmp = tempfile.TemporaryDirectory()
        path = Path(self._tmp.name) / build_info.BUILD_INFO_NAME
        path.write_text(info.to_json(), encoding="utf-8")
        build_data["force_include"][str(path)] = build_info.WHEEL_PATH

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if getattr(self, "_tmp", None) is not None:
            self._tmp.cleanup()
