"""The app entry point: deterministic output, and bad input that writes nothing."""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

import pytest
import yaml

from stacks.main import build_app, main

REPO = Path(__file__).resolve().parents[2]


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_synthesizing_twice_gives_byte_identical_output(
    synth_dir: Path, platform_wheel: Path, tmp_path: Path
) -> None:
    build_app(outdir=str(tmp_path), wheel=platform_wheel).synth()
    first, second = tree(synth_dir), tree(tmp_path)
    assert first.keys() == second.keys()
    assert [k for k in first if first[k] != second[k]] == []
    assert not filecmp.dircmp(synth_dir, tmp_path).diff_files


def test_fails_with_exit_2_and_writes_nothing_on_bad_config(
    tmp_path: Path, platform_wheel: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stacks = tmp_path / "stacks"
    shutil.copytree(REPO / "stacks", stacks, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    prod = yaml.safe_load((stacks / "prod.yaml").read_text())
    prod["compute"]["cpu_training"]["node_types"].append("p4d.24xlarge")
    (stacks / "prod.yaml").write_text(yaml.safe_dump(prod))
    out = tmp_path / "out"
    code = main(["--outdir", str(out), "--config-dir", str(stacks), "--wheel", str(platform_wheel)])
    assert code == 2
    assert not out.exists()
    err = capsys.readouterr().err
    assert "nothing was synthesized" in err
    assert (
        "compute.cpu_training.node_types[2]: a GPU node type in the cpu_training policy; got 'p4d.24xlarge'"
        in err
    )


def test_fails_with_exit_2_when_the_wheel_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--outdir", str(tmp_path / "out"), "--wheel", str(tmp_path / "missing.whl")])
    assert code == 2
    assert "run `make wheel`" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_fails_with_exit_2_on_a_broken_policy_template(
    tmp_path: Path, platform_wheel: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(REPO / "policies", policies)
    (policies / "cluster_policies" / "inference.json.j2").write_text('{"spark_version": {{ profile.nope }}}')
    code = main(
        ["--outdir", str(tmp_path / "out"), "--policies-dir", str(policies), "--wheel", str(platform_wheel)]
    )
    assert code == 2
    assert "inference.json.j2" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["policies"]  # no staging folder left behind


def test_under_the_cdktf_cli_left_out_stacks_stay_for_the_cli_to_remove(
    tmp_path: Path, platform_wheel: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make synth` then `make synth ENV=prod`: the CLI deletes the folders of stacks it no longer sees
    after the app exits (without `force`); they must still be there, or it fails with ENOENT."""
    out = tmp_path / "cdktf.out"
    (out / "stacks" / "dev").mkdir(parents=True)
    (out / "stacks" / "dev" / "cdk.tf.json").write_text("{}")
    monkeypatch.setenv("CDKTF_OUTDIR", str(out))
    assert main(["--outdir", str(out), "--env", "prod", "--wheel", str(platform_wheel)]) == 0
    assert (out / "stacks" / "dev").is_dir() and (out / "stacks" / "prod" / "cdk.tf.json").is_file()
    monkeypatch.delenv("CDKTF_OUTDIR")
    assert main(["--outdir", str(out), "--env", "prod", "--wheel", str(platform_wheel)]) == 0
    assert sorted(p.name for p in (out / "stacks").iterdir()) == ["account", "prod"]


def test_fails_with_exit_2_once_on_a_template_that_raises_while_rendering(
    tmp_path: Path, platform_wheel: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(REPO / "policies", policies)
    template = policies / "cluster_policies" / "inference.json.j2"
    template.write_text("{{ 1 / 0 }}")
    code = main(
        ["--outdir", str(tmp_path / "out"), "--policies-dir", str(policies), "--wheel", str(platform_wheel)]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("inference.json.j2: fails to render: ZeroDivisionError") == 1
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()
