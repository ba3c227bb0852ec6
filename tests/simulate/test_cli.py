"""``python -m infra.simulate``: exit codes, outputs, and the rules table the README links."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.simulate.cli import main
from infra.simulate.rules import RULES, rules_markdown

REPO = Path(__file__).resolve().parents[2]


def stacks(synth_dir: Path) -> list[str]:
    return [str(p) for p in sorted((synth_dir / "stacks").iterdir())]


def test_exit_0_and_a_pass_line_on_the_shipped_stacks(
    synth_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(stacks(synth_dir)) == 0
    out = capsys.readouterr().out
    assert out.startswith("simulate: account, dev, staging, prod: ") and out.rstrip().endswith("PASS")


def test_exit_1_with_address_operation_identity_and_source(
    synth_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = []
    for src in (synth_dir / "stacks").iterdir():
        doc = json.loads((src / "cdk.tf.json").read_text())
        if src.name == "dev":
            for catalog in doc["resource"]["databricks_catalog"].values():
                del catalog["storage_root"]
        (tmp_path / src.name).mkdir()
        (tmp_path / src.name / "cdk.tf.json").write_text(json.dumps(doc))
        paths.append(str(tmp_path / src.name))
    assert main(paths) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "SIM010  databricks_catalog." in out
    assert "as service principal 'sp-mlops-deployer-dev': no storage_root" in out
    assert "docs/resources/metastore.md" in out  # the rule's source is printed with it


def test_json_output_lists_failures_with_their_rule_source(
    synth_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sim.json"
    assert main([*stacks(synth_dir), "--format", "json", "--output", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["ok"] is True and report["failures"] == [] and report["job_tasks"] > 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "invalid JSON"),
        ('{"resource": {"databricks_job": []}}', "expected an object of resources"),
    ],
)
def test_exit_2_on_unusable_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    (tmp_path / "account").mkdir()
    (tmp_path / "account" / "cdk.tf.json").write_text(content)
    assert main([str(tmp_path / "account")]) == 2
    err = capsys.readouterr().err
    assert "nothing was simulated" in err and message in err


def test_exit_2_when_nothing_is_synthesized(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--root", str(tmp_path)]) == 2
    assert "no synthesized stacks found; run `make synth` first" in capsys.readouterr().err


def test_exit_2_for_environment_stacks_alone_without_a_description(
    synth_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(synth_dir / "stacks" / "dev")]) == 2
    assert "--existing" in capsys.readouterr().err


def test_every_rule_names_a_provider_file_or_a_databricks_page() -> None:
    for rule in RULES.values():
        assert any(
            s in rule.source
            for s in (
                "terraform-provider-databricks",
                "docs.databricks.com",
                "developer.hashicorp.com",
                "databricks-sdk",
            )
        ), rule


def test_rules_md_is_generated_from_the_table() -> None:
    assert (REPO / "infra" / "simulate" / "RULES.md").read_text() == rules_markdown()
