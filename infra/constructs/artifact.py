"""The wheel the jobs run, shipped by the same deploy as the infrastructure.

The wheel is uploaded to a Unity Catalog volume under a folder named after its content hash, so a
new commit never reuses a cluster's cached copy of an old wheel, and the same commit always
synthesizes the same path.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from infra.cdk import AssetType, Construct, File, TerraformAsset


class WheelNotBuiltError(FileNotFoundError):
    pass


@dataclass(frozen=True)
class WheelArtifactProps:
    wheel: Path
    volume_path: str
    """``/Volumes/<catalog>/<schema>/<volume>``: the volume's ``volume_path`` (a reference, so the
    upload waits for the volume)."""


class WheelArtifact(Construct):
    def __init__(self, scope: Construct, id_: str, props: WheelArtifactProps) -> None:
        super().__init__(scope, id_)
        if not props.wheel.is_file():
            raise WheelNotBuiltError(f"{props.wheel}: wheel not found; run `make wheel` (make synth does it)")
        digest = hashlib.sha256(props.wheel.read_bytes()).hexdigest()[:16]
        asset = TerraformAsset(self, "asset", path=str(props.wheel.resolve()), type=AssetType.FILE)
        # A new commit is a new path: upload it before the old file goes, so no job ever points at
        # a deleted wheel in the middle of an apply (jobs name the file by reference, so they wait).
        self.file = File(
            self,
            "Resource",
            source=asset.path,
            path=f"{props.volume_path}/{digest}/{props.wheel.name}",
            lifecycle={"create_before_destroy": True},
        )
        self.path = self.file.path
