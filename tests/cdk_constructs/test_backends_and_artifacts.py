"""State backends from config, and the wheel the jobs run: what each setting synthesizes to."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.cdk import Volume
from infra.constructs.artifact import WheelArtifact, WheelArtifactProps, WheelNotBuiltError
from mlops_spec.config.environment import AzureBackend, GcsBackend, LocalBackend, S3Backend
from stacks.environment_stack import add_backend
from tests.cdk_constructs.conftest import only, synth


@pytest.mark.parametrize(
    ("backend", "expected"),
    [
        (LocalBackend(), ("local", {"path": "default.tfstate"})),
        (
            S3Backend(type="s3", bucket="b", key="k", region="eu-west-1"),
            ("s3", {"bucket": "b", "key": "k", "region": "eu-west-1", "encrypt": True, "use_lockfile": True}),
        ),
        (
            S3Backend(type="s3", bucket="b", key="k", region="eu-west-1", dynamodb_table="locks"),
            ("s3", {"dynamodb_table": "locks"}),
        ),
        (
            AzureBackend(
                type="azurerm",
                resource_group_name="rg",
                storage_account_name="sa",
                container_name="c",
                key="k",
            ),
            (
                "azurerm",
                {
                    "resource_group_name": "rg",
                    "storage_account_name": "sa",
                    "container_name": "c",
                    "key": "k",
                },
            ),
        ),
        (
            GcsBackend(type="gcs", bucket="b", prefix="mlops/prod"),
            ("gcs", {"bucket": "b", "prefix": "mlops/prod"}),
        ),
    ],
    ids=["local-default", "s3-native-lock", "s3-dynamodb", "azurerm", "gcs"],
)
def test_each_backend_kind_synthesizes_its_settings(backend: object, expected: tuple[str, dict]) -> None:
    doc = synth(lambda s: add_backend(s, backend, "default.tfstate"))  # type: ignore[arg-type]
    kind, settings = expected
    (actual_kind,) = doc["terraform"]["backend"]
    assert actual_kind == kind
    assert settings.items() <= doc["terraform"]["backend"][kind].items()
    if kind == "s3" and "dynamodb_table" in settings:
        assert "use_lockfile" not in doc["terraform"]["backend"][kind]  # one lock, not two


def test_the_wheel_is_uploaded_into_its_volume_by_reference(platform_wheel: Path) -> None:
    def build(scope: object) -> None:
        volume = Volume(
            scope, "vol", catalog_name="c", schema_name="models", name="artifacts", volume_type="MANAGED"
        )  # type: ignore[arg-type]
        WheelArtifact(scope, "wheel", WheelArtifactProps(platform_wheel, volume.volume_path))  # type: ignore[arg-type]

    file = only(synth(build), "databricks_file")
    assert file["path"].startswith("${databricks_volume.vol.volume_path}/")
    assert file["path"].endswith(f"/{platform_wheel.name}")
    assert file["lifecycle"] == {"create_before_destroy": True}


def test_fails_when_the_wheel_was_not_built(tmp_path: Path) -> None:
    with pytest.raises(WheelNotBuiltError, match="run `make wheel`"):
        synth(
            lambda s: WheelArtifact(
                s, "wheel", WheelArtifactProps(tmp_path / "missing.whl", "/Volumes/c/s/v")
            )
        )
