"""A Unity Catalog metastore for one region, and its assignment to workspaces."""

from __future__ import annotations

from dataclasses import dataclass

from infra.cdk import Construct, Metastore, MetastoreAssignment


@dataclass(frozen=True)
class RegionMetastoreProps:
    region: str
    owner: str
    """Group display name (a token of the account group): the admin is a group, never a person."""
    name: str | None = None
    """Name of the metastore to create; None when ``existing_id`` is set."""
    storage_root: str | None = None
    existing_id: str | None = None
    """Use this metastore: nothing is created, assignments point at it."""


class RegionMetastore(Construct):
    def __init__(self, scope: Construct, id_: str, props: RegionMetastoreProps) -> None:
        super().__init__(scope, id_)
        self.props = props
        self.resource: Metastore | None = None
        if props.existing_id:
            self.metastore_id: str = props.existing_id
            return
        self.resource = Metastore(
            self,
            "Resource",
            name=props.name or f"metastore-{props.region}",
            region=props.region,
            storage_root=props.storage_root,
            owner=props.owner,
            force_destroy=False,
            # Shared by every workspace of the region: losing it loses all UC metadata.
            lifecycle={"prevent_destroy": True},
        )
        self.metastore_id = self.resource.id

    def assign(self, id_: str, workspace_id: float) -> MetastoreAssignment:
        """Attach a workspace to this metastore; a workspace without one has no Unity Catalog."""
        return MetastoreAssignment(self, id_, metastore_id=self.metastore_id, workspace_id=workspace_id)
