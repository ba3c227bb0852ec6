"""The document index: what a value points at, and the order Terraform could apply a stack in."""

from __future__ import annotations

import pytest

from infra.tfdoc import DocumentError, DocumentIndex, resources_from_doc


def index(doc: dict) -> DocumentIndex:
    return DocumentIndex("dev", resources_from_doc(doc, "dev"))


DOC = {
    "provider": {
        "databricks": [
            {"host": "https://h"},
            {"alias": "ws", "host": "${databricks_mws_workspaces.w.workspace_url}"},
        ]
    },
    "data": {"databricks_group": {"admins": {"display_name": "admins"}}},
    "resource": {
        "databricks_mws_workspaces": {"w": {"workspace_name": "w"}},
        "databricks_catalog": {"c": {"name": "cat", "owner": "${data.databricks_group.admins.display_name}"}},
        "databricks_schema": {"s": {"catalog_name": "${databricks_catalog.c.name}", "name": "s"}},
        "databricks_directory": {"d": {"path": "/mlops"}},
        "databricks_grants": {"g": {"provider": "databricks.ws", "schema": "${databricks_schema.s.id}"}},
        "databricks_job": {"j": {"name": "j", "depends_on": ["databricks_directory.d"]}},
    },
}


def test_target_and_resolve_follow_a_reference_to_the_literal_it_names() -> None:
    idx = index(DOC)
    res, attr = idx.target("${databricks_catalog.c.name}")
    assert res is not None and res.address == "databricks_catalog.c" and attr == "name"
    assert idx.resolve("${databricks_catalog.c.name}") == "cat"
    assert idx.resolve("${data.databricks_group.admins.display_name}") == "admins"
    assert idx.resolve("literal") == "literal"


def test_dependencies_come_from_references_depends_on_and_the_provider_configuration() -> None:
    idx = index(DOC)
    deps = {r.address: idx.dependencies(r) for r in idx.all if r.mode != "output"}
    assert deps["databricks_schema.s"] == {"databricks_catalog.c", "provider.databricks"}
    assert deps["databricks_job.j"] == {"databricks_directory.d", "provider.databricks"}
    # A resource on an aliased provider waits for what that provider's configuration references.
    assert "provider.databricks.ws" in deps["databricks_grants.g"]
    assert "databricks_mws_workspaces.w" in idx.ancestors("databricks_grants.g")
    assert idx.ancestors("databricks_schema.s") >= {"databricks_catalog.c", "data.databricks_group.admins"}


def test_order_puts_every_resource_after_its_dependencies_and_is_stable() -> None:
    idx = index(DOC)
    order = [r.address for r in idx.order()]
    for res in idx.order():
        for dep in idx.dependencies(res):
            assert order.index(dep) < order.index(res.address)
    assert order == [r.address for r in index(DOC).order()]


def test_unrelated_resources_have_no_path_between_them() -> None:
    idx = index(DOC)
    assert "databricks_directory.d" not in idx.ancestors("databricks_schema.s")
    assert "databricks_schema.s" not in idx.ancestors("databricks_directory.d")


def test_fails_on_a_dependency_cycle() -> None:
    doc = {
        "resource": {
            "databricks_group": {
                "a": {"display_name": "${databricks_group.b.id}"},
                "b": {"display_name": "${databricks_group.a.id}"},
            }
        }
    }
    with pytest.raises(
        DocumentError, match=r"dependency cycle between databricks_group.a, databricks_group.b"
    ):
        index(doc).order()
