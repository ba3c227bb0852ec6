"""Unity Catalog: the environment's catalog and its managed storage, the platform's schemas and volumes,
and their grants.

Who may do what here comes from Databricks (see ``infra/simulate/RULES.md``): creating a catalog needs
CREATE_CATALOG on the metastore; a metastore without root storage needs a ``storage_root`` per catalog,
inside an external location the creator may use (CREATE_MANAGED_STORAGE); after creating a catalog the
provider sets its owner and binds an ISOLATED catalog to the workspace, which only the owner may do;
grants are managed by the owner. So the deploying identity owns what it creates here, and every name is
a reference, so Terraform creates each object before what lives in it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from infra.cdk import Catalog, Construct, ExternalLocation, Schema, Volume
from infra.constructs._grants import GrantSet


@dataclass(frozen=True)
class CatalogProps:
    name: str
    owner: str
    """The deploying service principal (a reference to its application id): it must stay the owner to
    bind the catalog, create schemas and manage grants."""
    schemas: tuple[str, ...]
    create: bool = True
    storage_root: str | None = None
    """Managed location; None = the metastore's root storage."""
    storage_credential: str | None = None
    """Name (or cross-stack reference) of the storage credential that reaches ``storage_root``."""
    location_name: str | None = None
    """Name of the external location registered for ``storage_root``."""
    volumes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Schema -> managed volumes in it."""
    prevent_destroy: bool = False
    comment: str = "MLOps platform catalog; managed in git."


class PlatformCatalog(Construct):
    def __init__(self, scope: Construct, id_: str, props: CatalogProps) -> None:
        super().__init__(scope, id_)
        self.props = props
        lifecycle = {"prevent_destroy": True} if props.prevent_destroy else None
        self.location: ExternalLocation | None = None
        if props.create:
            self.catalog: Catalog | None = Catalog(
                self,
                "Resource",
                name=props.name,
                owner=props.owner,
                comment=props.comment,
                storage_root=self._storage_root(),
                isolation_mode="ISOLATED",
                lifecycle=lifecycle,
            )
            self.name = self.catalog.name
        else:
            self.catalog = None
            self.name = props.name
        self.schemas: dict[str, Schema] = {
            s: Schema(
                self,
                f"schema-{s}",
                catalog_name=self.name,
                name=s,
                owner=props.owner,
                comment=f"Platform schema '{s}'.",
                lifecycle=lifecycle,
            )
            for s in props.schemas
        }
        self.volumes: dict[str, Volume] = {}
        for schema, names in sorted(props.volumes.items()):
            for v in names:
                self.volumes[v] = Volume(
                    self,
                    f"volume-{schema}-{v}",
                    catalog_name=self.schemas[schema].catalog_name,
                    schema_name=self.schemas[schema].name,
                    name=v,
                    volume_type="MANAGED",
                    owner=props.owner,
                )
        self._catalog_grants = GrantSet(self, "grants", {"catalog": self.name}, authoritative=props.create)
        self._schema_grants = {
            s: GrantSet(self, f"grants-{s}", {"schema": schema.id}) for s, schema in self.schemas.items()
        }

    def _storage_root(self) -> str | None:
        """The external location's URL (a reference, so the location exists first), or the metastore's."""
        if self.props.storage_root is None:
            return None
        if self.props.storage_credential is None:
            return self.props.storage_root  # an existing external location covers it (brownfield)
        self.location = ExternalLocation(
            self,
            "location",
            name=self.props.location_name or f"{self.props.name}-storage",
            url=self.props.storage_root,
            credential_name=self.props.storage_credential,
            owner=self.props.owner,
            comment=f"Managed storage of catalog {self.props.name}; managed in git.",
        )
        return self.location.url

    def grant(self, principal: str, privileges: Iterable[str], key: str, schema: str | None = None) -> None:
        """Grant privileges on the catalog (inherited by every schema) or on one platform schema."""
        if schema is None:
            self._catalog_grants.add(principal, privileges, key)
            return
        if schema not in self._schema_grants:
            raise KeyError(f"unknown schema {schema!r}; platform schemas: {', '.join(self._schema_grants)}")
        self._schema_grants[schema].add(principal, privileges, key)

    def schema(self, name: str) -> Schema:
        try:
            return self.schemas[name]
        except KeyError:
            raise KeyError(f"unknown schema {name!r}; platform schemas: {', '.join(self.schemas)}") from None
