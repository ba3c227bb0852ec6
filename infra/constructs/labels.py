"""A model's labels table: created by the stacks, written by the team's label pipeline, read by the monitor.

The contract (columns, meaning, who writes, retention) is documented in ``ml_jobs/inference/labels.py``
and the README's "Labels contract"; the columns come from ``mlops_spec.tables.contract_columns``.

* ``databricks_sql_table`` creates the table by running SQL as the deploying identity: on the SQL
  warehouse ``warehouse_id`` names, or else on an all-purpose single-node cluster the provider creates
  or starts, named ``terraform-sql-table`` (auto-terminating after 10 minutes), which needs a workspace
  admin (``infra/simulate/RULES.md`` SIM024). The stacks pass the fleet's warehouse when the fleet is on.
* A managed Delta table is created with ``CREATE OR REPLACE TABLE`` (the provider's
  ``resource_sql_table.go``): a table of that name that exists before the first apply (created by hand)
  would be replaced, its rows lost. Import it into the state first. In prod the table is protected
  (``prevent_destroy``), as the registered model is.
* The owner is the model-owner group, whose members are the job runner (the monitor reads it, the
  maintain task keeps its retention) and the deployer (grants). The writer gets SELECT and MODIFY (an
  append, or a MERGE that corrects a label); USE on the catalog and schema comes from the stack.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.cdk import Construct, SqlTable
from infra.constructs._grants import GrantSet

WRITE = ("MODIFY", "SELECT")


@dataclass(frozen=True)
class LabelsTableProps:
    catalog: str
    """Catalog name (a reference, so the table waits for the catalog)."""
    schema: str
    """Schema name (a reference to the ``inference_logs`` schema)."""
    name: str
    columns: tuple[tuple[str, str, str], ...]
    """``(name, type, comment)`` of the contract."""
    owner: str
    """The model-owner group (a reference to its display name)."""
    writer: str
    """The label pipeline's principal (account group or service principal name)."""
    properties: tuple[tuple[str, str], ...] = ()
    """Delta table properties (the retention of removed files and log)."""
    comment: str = ""
    warehouse_id: str | None = None
    """SQL warehouse that runs the DDL; None: the provider's own cluster (see the module docstring)."""
    prevent_destroy: bool = False


class LabelsTable(Construct):
    def __init__(self, scope: Construct, id_: str, props: LabelsTableProps) -> None:
        super().__init__(scope, id_)
        if not props.columns:
            raise ValueError(f"labels table {props.name}: columns must not be empty")
        self.props = props
        self.table = SqlTable(
            self,
            "Resource",
            catalog_name=props.catalog,
            schema_name=props.schema,
            name=props.name,
            table_type="MANAGED",
            data_source_format="DELTA",
            column=[{"name": n, "type": t, "comment": c} for n, t, c in props.columns],
            comment=props.comment or None,
            owner=props.owner,
            properties=dict(props.properties) or None,
            warehouse_id=props.warehouse_id,
            lifecycle={"prevent_destroy": True} if props.prevent_destroy else None,
        )
        self._grants = GrantSet(self, "grants", {"table": self.table.id})
        self.grant_write(props.writer, "labels_writer")

    def grant_write(self, principal: str, key: str) -> None:
        """SELECT and MODIFY: append labels, or merge corrections into them."""
        self._grants.add(principal, WRITE, key)

    def grant_read(self, principal: str, key: str) -> None:
        self._grants.add(principal, ("SELECT",), key)
