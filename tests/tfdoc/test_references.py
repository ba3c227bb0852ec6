"""The one reference parser: every kind of reference Terraform JSON holds, and nothing else."""

from __future__ import annotations

import pytest

from infra.tfdoc import Reference, references, substitute, whole_reference


@pytest.mark.parametrize(
    ("value", "address", "attribute", "kind"),
    [
        ("${databricks_group.admins.display_name}", "databricks_group.admins", ("display_name",), "resource"),
        ("${data.databricks_group.x.id}", "data.databricks_group.x", ("id",), "data"),
        ("${module.net.vpc_id}", "module.net", ("vpc_id",), "module"),
        ("${var.region}", "var.region", (), "var"),
        ("${local.prefix}", "local.prefix", (), "local"),
        ("${databricks_job.j[0].id}", "databricks_job.j", ("id",), "resource"),
        ("${databricks_job.j}", "databricks_job.j", (), "resource"),
        (
            "${data.terraform_remote_state.cross-stack-reference-input-account.outputs.cross-stack-output-x}",
            "data.terraform_remote_state.cross-stack-reference-input-account",
            ("outputs", "cross-stack-output-x"),
            "data",
        ),
    ],
)
def test_a_whole_reference_names_its_address_attribute_and_kind(
    value: str, address: str, attribute: tuple[str, ...], kind: str
) -> None:
    assert whole_reference(value) == Reference(address, attribute, kind)
    assert references(value) == [Reference(address, attribute, kind)]


def test_references_inside_text_nested_blocks_and_lists_are_all_found_once() -> None:
    value = {
        "name": "${databricks_directory.exp.path}/churn",
        "task": [
            {"library": [{"whl": "${databricks_file.wheel.path}"}]},
            {"x": "${databricks_file.wheel.path}"},
        ],
        "host": "https://${var.prefix}-${data.databricks_current_user.me.home}",
    }
    assert [str(r) for r in references(value)] == [
        "databricks_directory.exp.path",
        "databricks_file.wheel.path",
        "var.prefix",
        "data.databricks_current_user.me.home",
    ]


def test_functions_and_string_literals_are_not_references() -> None:
    found = references('${element(split(",", "a.b,c.d"), 0)} ${lookup(databricks_job.j.tags, "env.x")}')
    assert found == [Reference("databricks_job.j", ("tags",), "resource")]


def test_a_value_with_text_around_or_a_function_is_not_a_whole_reference() -> None:
    assert whole_reference("${databricks_directory.exp.path}/churn") is None
    assert whole_reference("${upper(databricks_group.g.display_name)}") is None
    assert whole_reference("plain") is None
    assert whole_reference("${a.b}${c.d}") is None


def test_literals_and_secret_templates_hold_no_reference() -> None:
    assert references("{{secrets/mlops-dev/monitoring-webhook-url}}") == []
    assert references({"a": 1, "b": [True, None, "text"]}) == []


def test_substitute_replaces_each_whole_reference_with_a_label() -> None:
    text = "${databricks_directory.exp.path}/models/${data.databricks_group.g.display_name}"
    assert substitute(text, lambda ref: ref.address.upper()) == (
        "DATABRICKS_DIRECTORY.EXP/models/DATA.DATABRICKS_GROUP.G"
    )
