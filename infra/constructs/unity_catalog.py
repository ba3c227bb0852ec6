"""Unity Catalog: the environment's catalog, the platform's schemas and volumes, and their grants."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from infra.cdk import Catalog, Construct, Schema, Volume
from infra.constructs._grants import GrantSet

READ_PRIVILEGES = ("USE_CATALOG", "USE_SCHEMA", "SELECT", "EXECUTE", "READ_VOLUME")


@dataclass(frozen=True)
class CatalogProps:
    name: str
    owner: str
    """Group that owns every securable here: ownership by a person leaves with the person."""
    schemas: tuple[str, ...]
    create: bool = True
    storage_root: str | None = None
    volumes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Schema -> managed volumes in it."""
    prevent_destroy: bool = False
    comment: str = "MLOps platform catalog; managed in git."


class PlatformCatalog(Construct):
    def __init__(self, scope: Construct, id_: str, props: CatalogProps) -> None:
        super().__init__(scope, id_)
        self.props = props
        lifecycle = {"prevent_destroy": True} if props.prevent_destroy else None
        if props.create:
            self.catalog: Catalog | None = Catalog(
                self,
                "Resource",
                name=props.name,
                owner=props.owner,
                comment=props.comment,
                storage_root=props.storage_root,
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
                    catalog_name=self.name,
                    schema_name=self.schemas[schema].name,
                    name=v,
                    volume_type="MANAGED",
                    owner=props.owner,
                )
        self._catalog_grants = GrantSet(self, "grants", {"catalog": self.name}, authoritative=props.create)
        self._schema_grants = {
            s: GrantSet(self, f"grants-{s}", {"schema": schema.id}) for s, schema in self.schemas.items()
        }

    def grant(self, principal: str, privileges: Iterable[str], schema: str | None = None) -> None:
        """Grant privileges on the catalog (inherited by every schema) or on one platform schema."""
        if schema is None:
            self._catalog_grants.add(principal, privileges)
            return
        if schema not in self._schema_grants:
            raise KeyError(f"unknown schema {schema!r}; platform schemas: {', '.join(self._schema_grants)}")
        self._schema_grants[schema].add(principal, privileges)

    def grant_read(self, principal: str, schema: str | None = None) -> None:
        privileges = (
            READ_PRIVILEGES if schema is None else tuple(p for p in READ_PRIVILEGES if p != "USE_CATALOG")
        )
        self.grant(principal, privileges, schema)

    def schema_full_name(self, schema: str) -> str:
        return f"{self.props.name}.{schema}"

    def catalog_grants(self) -> dict[str, tuple[str, ...]]:
        return self._catalog_grants.granted()

    def schema_grants(self, schema: str) -> dict[str, tuple[str, ...]]:
        return self._schema_grants[schema].granted()
