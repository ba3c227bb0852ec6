"""PlatformSecretScope: a scope and its ACLs, never a secret value; unknown ACL levels rejected."""

from __future__ import annotations

import pytest

from infra.constructs.secrets import PlatformSecretScope, SecretScopeProps
from tests.cdk_constructs.conftest import of_type, only, synth


def test_defaults_a_scope_without_acls_and_never_a_value() -> None:
    doc = synth(lambda s: PlatformSecretScope(s, "scope", SecretScopeProps("mlops-dev", {})))
    assert only(doc, "databricks_secret_scope")["name"] == "mlops-dev"
    assert not of_type(doc, "databricks_secret_acl") and not of_type(doc, "databricks_secret")


def test_everything_one_acl_per_role_on_the_scope_by_reference() -> None:
    acls = {
        "mlops_engineers": ("mlops-engineers", "MANAGE"),
        "ml_engineers": ("ml-engineers", "WRITE"),
        "job_runner": ("00000000-0000-0000-0000-0000000000a1", "READ"),
    }
    doc = synth(lambda s: PlatformSecretScope(s, "scope", SecretScopeProps("mlops-dev", acls)))
    (scope,) = of_type(doc, "databricks_secret_scope")
    found = {a["principal"]: a["permission"] for a in of_type(doc, "databricks_secret_acl").values()}
    assert found == {p: level for p, level in acls.values()}
    assert {a["scope"] for a in of_type(doc, "databricks_secret_acl").values()} == {
        f"${{databricks_secret_scope.{scope}.name}}"  # the ACLs wait for the scope
    }
    assert not of_type(doc, "databricks_secret")


def test_fails_on_an_unknown_acl_level() -> None:
    with pytest.raises(
        ValueError, match=r"acls.analysts: unknown permission; got 'OWNER'; allowed: MANAGE, READ, WRITE"
    ):
        SecretScopeProps("mlops-dev", {"analysts": ("analysts", "OWNER")})
