"""Every rule the simulator enforces, each with the provider source file or Databricks page it comes from.

The simulator is a model of Databricks, not Databricks: a rule is here only because the Databricks
Terraform provider's source (v1.99.0, the version the stacks pin) or Databricks' documentation says
so; none exists to make the shipped stacks pass. ``RULES.md`` beside this file is generated from this
table (``python -m infra.simulate --rules-markdown``) and a test keeps the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass

PROVIDER = "terraform-provider-databricks v1.99.0"
SDK = "databricks-sdk 0.162 API reference (service/catalog.py docstrings)"
DOCS = "https://docs.databricks.com/aws/en"


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    phase: str  # apply | run
    title: str
    source: str


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        # --- apply: ordering and identity ---------------------------------------------------------
        Rule(
            "SIM001",
            "apply",
            "An object a resource uses must exist when the resource is created: if it is created in the same "
            "stack it must be reachable in the dependency graph (a reference or depends_on); "
            "resources with no "
            "path between them are created in any order, in parallel",
            "Terraform docs, Resource behavior: resource dependencies "
            "(developer.hashicorp.com/terraform/language/resources/behavior#resource-dependencies)",
        ),
        Rule(
            "SIM002",
            "apply",
            "An identity calling a workspace's APIs must be assigned to that workspace; account "
            "principals reach "
            "a workspace only through a permission assignment",
            f"{PROVIDER} docs/resources/mws_permission_assignment.md; {DOCS}/admin/users-groups/index.html",
        ),
        Rule(
            "SIM003",
            "apply",
            "Workspace-admin operations (cluster policies, workspace_conf, IP access lists, "
            "entitlements, objects "
            "in the workspace root folder) need a workspace admin",
            f"{DOCS}/admin/clusters/policies.html (only admins create policies); {DOCS}/security/auth/"
            "access-control/index.html#folder-permissions (only workspace admins create in the root folder)",
        ),
        Rule(
            "SIM004",
            "apply",
            "Account-level resources (workspaces and their configurations, metastores and "
            "assignments, account "
            "identities, memberships and role rule sets, account-level storage credentials) need an "
            "account admin",
            f"{DOCS}/data-governance/unity-catalog/manage-privileges/admin-privileges.html (account admins); "
            f"{PROVIDER} docs/resources/mws_*.md",
        ),
        Rule(
            "SIM005",
            "apply",
            "A principal named in a grant, an owner, an ACL, run_as or a lookup must exist; Unity Catalog "
            "privileges and ownership take only account-level principals (not workspace-local "
            "groups, not `users`)",
            f"{DOCS}/sql/language-manual/sql-ref-principal.html (workspace-local groups cannot be granted "
            "privileges on Unity Catalog securables)",
        ),
        # --- apply: Unity Catalog -----------------------------------------------------------------
        Rule(
            "SIM010",
            "apply",
            "A catalog needs a storage_root when its metastore has none",
            f"{PROVIDER} docs/resources/metastore.md (storage_root), docs/resources/catalog.md "
            f"(storage_root)",
        ),
        Rule(
            "SIM011",
            "apply",
            "Creating a catalog needs metastore admin or CREATE_CATALOG on the metastore",
            f"{SDK}: CatalogsAPI.create",
        ),
        Rule(
            "SIM012",
            "apply",
            "A catalog's managed location must be contained in an external location on which the "
            "creator holds "
            "CREATE_MANAGED_STORAGE",
            f"{DOCS}/connect/unity-catalog/cloud-storage/managed-storage.html",
        ),
        Rule(
            "SIM013",
            "apply",
            "After creating a catalog the provider sets its owner, then binds an ISOLATED catalog "
            "to the current "
            "workspace; bindings need the owner or a metastore admin",
            f"{PROVIDER} catalog/resource_catalog.go (Create, l.91-107); {SDK}: WorkspaceBindingsAPI",
        ),
        Rule(
            "SIM014",
            "apply",
            "Creating a schema needs metastore admin, or CREATE_SCHEMA (and USE_CATALOG) on the catalog",
            f"{SDK}: SchemasAPI.create",
        ),
        Rule(
            "SIM015",
            "apply",
            "Creating a volume needs USE_CATALOG and USE_SCHEMA (or ownership of both) and "
            "CREATE_VOLUME on the "
            "schema",
            f"{SDK}: VolumesAPI.create",
        ),
        Rule(
            "SIM016",
            "apply",
            "Creating a registered model needs USE_CATALOG, USE_SCHEMA and CREATE_MODEL on the schema",
            f"{SDK}: RegisteredModelsAPI (class docstring)",
        ),
        Rule(
            "SIM017",
            "apply",
            "The provider sets a Unity Catalog object's owner with an update right after creating "
            "it; only the "
            "owner or a metastore admin may transfer ownership",
            f"{PROVIDER} catalog/resource_schema.go, resource_registered_model.go, "
            f"resource_storage_credential.go "
            f"(Create); {DOCS}/data-governance/unity-catalog/manage-privileges/ownership.html",
        ),
        Rule(
            "SIM018",
            "apply",
            "Grants on a securable may be managed by a metastore admin, the object's owner or the "
            "owner of the "
            "catalog or schema that contains it; grants on the metastore also by an account admin",
            f"{SDK}: GrantsAPI (class docstring); {DOCS}/data-governance/unity-catalog/manage-privileges/"
            "index.html (account admins can grant privileges directly on a metastore)",
        ),
        Rule(
            "SIM019",
            "apply",
            "Creating a storage credential needs an account admin (account API) or metastore admin / "
            "CREATE_STORAGE_CREDENTIAL (workspace API)",
            f"{SDK}: StorageCredentialsAPI; {PROVIDER} catalog/resource_storage_credential.go (Create)",
        ),
        Rule(
            "SIM020",
            "apply",
            "Creating an external location needs metastore admin or CREATE_EXTERNAL_LOCATION on both the "
            "metastore and the storage credential",
            f"{SDK}: ExternalLocationsAPI.create",
        ),
        Rule(
            "SIM021",
            "apply",
            "The provider reads every resource right after creating it: the creator must still be "
            "able to see "
            "it (a registered model needs ownership or EXECUTE, an ISOLATED catalog a binding)",
            f"{PROVIDER} common/resource.go (CreateContext, l.162-177); {SDK}: RegisteredModelsAPI.get",
        ),
        Rule(
            "SIM022",
            "apply",
            "A model serving endpoint with an inference table needs its creator to hold "
            "USE_CATALOG, USE_SCHEMA "
            "and CREATE_TABLE on the target schema, which must exist; the creator owns the inference table "
            "(<table_name_prefix>_payload)",
            f"{PROVIDER} docs/resources/model_serving.md (auto_capture_config / ai_gateway "
            f"inference tables); "
            f"{DOCS}/ai-gateway/inference-tables.html (requirements); {DOCS}/machine-learning/model-serving/"
            "enable-model-serving-inference-tables.html (the owner of the inference tables is the user who "
            "created the endpoint)",
        ),
        Rule(
            "SIM023",
            "apply",
            "Writing a file into a volume needs USE_CATALOG, USE_SCHEMA and WRITE_VOLUME on the volume",
            f"{DOCS}/volumes/privileges.html; {PROVIDER} docs/resources/file.md",
        ),
        Rule(
            "SIM024",
            "apply",
            "databricks_sql_table creates a table by running CREATE TABLE (CREATE OR REPLACE TABLE for a "
            "managed Delta table) as the applying identity, which needs USE_CATALOG, USE_SCHEMA and "
            "CREATE_TABLE on the schema; it runs on the given warehouse (CAN_USE; warehouse_id a reference "
            "or a known id) or cluster, or else on an all-purpose cluster named terraform-sql-table that "
            "the provider creates or starts, which needs a workspace admin or the allow-cluster-create "
            "entitlement (the simulator models admins only); then the owner is set (SIM017)",
            f"{PROVIDER} catalog/resource_sql_table.go (initCluster and getOrCreateCluster l.149-210, "
            "buildTableCreateStatement l.281-291, Create l.667-690), docs/resources/sql_table.md; "
            f"{SDK}: TablesAPI (class docstring); {DOCS}/security/auth/entitlements.html "
            "(allow-cluster-create cannot be removed from workspace admins)",
        ),
        # --- apply: workspace objects -------------------------------------------------------------
        Rule(
            "SIM030",
            "apply",
            "An MLflow experiment is created with CreateExperiment, which fails when its parent "
            "folder does not "
            "exist (databricks_directory creates missing parents); the API never accepts a description",
            f"{PROVIDER} mlflow/resource_mlflow_experiment.go (l.31-52), "
            f"workspace/resource_directory.go (l.75)",
        ),
        Rule(
            "SIM031",
            "apply",
            "All users hold CAN_MANAGE on items in /Shared: an ACL there restricts nothing",
            f"{PROVIDER} docs/resources/permissions.md (l.419-422); {DOCS}/security/auth/access-control/"
            "index.html#folder-permissions",
        ),
        Rule(
            "SIM032",
            "apply",
            "databricks_permissions appends IS_OWNER for the applying identity when the ACL names "
            "no IS_OWNER "
            "(jobs, pipelines, warehouses); the backend rejects a principal with two levels as ambiguous; "
            "changing an ACL needs CAN_MANAGE on the object or a workspace admin",
            f"{PROVIDER} permissions/permission_definitions.go (addOwnerPermissionIfNeeded, l.256-274), "
            "permissions/resource_permissions.go (l.40); databricks/cli "
            "bundle/config/mutator/resourcemutator/"
            "fix_permissions.go",
        ),
        Rule(
            "SIM033",
            "apply",
            "Setting a job's run_as to a service principal needs the servicePrincipal.user role on it",
            f"{PROVIDER} docs/resources/job.md (run_as, l.388)",
        ),
        Rule(
            "SIM034",
            "apply",
            "Roles on a service principal (rule sets) are managed by an account admin or a servicePrincipal."
            "manager of it; the role set is authoritative",
            f"{PROVIDER} docs/resources/access_control_rule_set.md; {DOCS}/admin/users-groups/"
            "service-principals.html#roles-for-managing-service-principals",
        ),
        Rule(
            "SIM035",
            "apply",
            "Secret ACLs need MANAGE on the scope (the creator of a scope holds MANAGE)",
            f"{DOCS}/security/auth/access-control/index.html#secret-acls; {PROVIDER} "
            f"docs/resources/secret_acl.md",
        ),
        Rule(
            "SIM036",
            "apply",
            "A workspace-level lookup of a group or service principal finds only principals assigned to the "
            "workspace",
            f"{PROVIDER} docs/data-sources/group.md, service_principal.md; "
            f"{DOCS}/admin/users-groups/index.html",
        ),
        Rule(
            "SIM037",
            "apply",
            "Only workspace admins create, update and delete notification destinations",
            f"{PROVIDER} docs/resources/notification_destination.md",
        ),
        Rule(
            "SIM038",
            "apply",
            "The SQL warehouses API refuses auto_stop_mins between 1 and 9 (0 or >= 10), min_num_clusters "
            "outside 1..min(max_num_clusters, 30), max_num_clusters above 40, and serverless warehouses of a "
            "type other than PRO",
            f"{SDK.replace('catalog.py', 'sql.py')}: EndpointInfo (auto_stop_mins, min_num_clusters, "
            f"max_num_clusters); {PROVIDER} docs/resources/sql_endpoint.md (warehouse_type)",
        ),
        Rule(
            "SIM039",
            "apply",
            "A dashboard's parent folder is created when missing (a new top-level folder needs a workspace "
            "admin); an alert's is not: CreateAlert fails without it. Both need their warehouse, and an "
            "alert its notification destinations, created first; an alert's run_as service principal "
            "needs the servicePrincipal.user role (SIM033)",
            f"{PROVIDER} dashboards/resource_dashboard.go (Create: MkdirsByPath after a parent error), "
            "internal/providers/pluginfw/products/alert_v2/resource_alert_v2.go (Create), "
            "docs/resources/alert_v2.md (run_as)",
        ),
        # --- run: what each job task does, under its identity ---------------------------------------
        Rule(
            "SIM050",
            "run",
            "A job runs as its run_as principal, or as its owner (the identity that created it) "
            "when run_as is "
            "not set",
            f"{PROVIDER} docs/resources/job.md (run_as Configuration Block, l.384)",
        ),
        Rule(
            "SIM051",
            "run",
            "Installing a library from a volume and reading files there needs USE_CATALOG, USE_SCHEMA and "
            "READ_VOLUME",
            f"{DOCS}/volumes/privileges.html; {DOCS}/libraries/index.html (libraries from volumes)",
        ),
        Rule(
            "SIM052",
            "run",
            "A secret reference in a cluster's Spark environment variables resolves only if the "
            "job's identity "
            "holds READ on the scope",
            f"{DOCS}/security/secrets/secrets-spark-conf-env-var.html",
        ),
        Rule(
            "SIM053",
            "run",
            "Reading a table needs USE_CATALOG, USE_SCHEMA and SELECT; writing to one needs MODIFY "
            "(MERGE also "
            "SELECT); creating one needs CREATE_TABLE on the schema; the creator owns what it "
            "creates; owning "
            "a schema gives no privilege on the tables in it",
            f"{DOCS}/data-governance/unity-catalog/manage-privileges/privileges.html; {DOCS}/data-governance/"
            "unity-catalog/manage-privileges/ownership.html (owner privileges)",
        ),
        Rule(
            "SIM054",
            "run",
            "Creating a model version, setting an alias or the version description needs ownership of the "
            "registered model (with USE_CATALOG and USE_SCHEMA); model and version tags need APPLY_TAG; "
            "loading a version or reading a model EXECUTE; listing returns only the models the caller owns "
            "or may EXECUTE, so an inventory of every model needs EXECUTE on the schema or catalog",
            f"{SDK}: RegisteredModelsAPI (class docstring), RegisteredModelsAPI.set_alias, "
            f"RegisteredModelsAPI.list, ModelVersionsAPI.get",
        ),
        Rule(
            "SIM055",
            "run",
            "Logging runs to an MLflow experiment needs CAN_EDIT on it (directly or from its folder)",
            f"{DOCS}/security/auth/access-control/index.html#mlflow-experiment-acls",
        ),
        Rule(
            "SIM056",
            "run",
            "Starting another job's run (run_now) needs CAN_MANAGE_RUN on that job; finding it by name needs "
            "CAN_VIEW",
            f"{DOCS}/security/auth/access-control/index.html#job-acls",
        ),
        Rule(
            "SIM057",
            "run",
            "Changing what a serving endpoint serves needs CAN_MANAGE on it, and EXECUTE on the "
            "model it serves; reading its state needs CAN_VIEW",
            f"{DOCS}/security/auth/access-control/index.html#serving-endpoint-acls; {DOCS}/machine-learning/"
            "model-serving/create-manage-serving-endpoints.html (requirements)",
        ),
        Rule(
            "SIM058",
            "run",
            "A SQL alert runs its query on its warehouse as its run_as principal (the creator when unset): "
            "CAN_USE on the warehouse, and USE_CATALOG, USE_SCHEMA and SELECT on every table it reads",
            f"{PROVIDER} docs/resources/alert_v2.md (run_as); {DOCS}/security/auth/access-control/"
            "index.html#sql-warehouse-acls",
        ),
        Rule(
            "SIM059",
            "run",
            "A dashboard published without embedded credentials runs each viewer's queries with the "
            "viewer's own rights (CAN_USE on the warehouse, SELECT on the tables); with embedded credentials "
            "(the provider's default) with the publisher's",
            f"{DOCS}/dashboards/embed.html (shared vs individual data permissions); {PROVIDER} "
            "dashboards/resource_dashboard.go (embed_credentials defaults to true)",
        ),
        Rule(
            "SIM060",
            "run",
            "Keeping a table's retention (ALTER TABLE SET TBLPROPERTIES, DELETE, VACUUM) needs USE_CATALOG, "
            "USE_SCHEMA, MODIFY and SELECT on the table (or its ownership); the VACUUM page names no "
            "privilege, so the simulator checks no more for it",
            f"{DOCS}/sql/language-manual/sql-ref-syntax-ddl-alter-table.html (Required permissions: MODIFY "
            f"for SET TBLPROPERTIES); {DOCS}/data-governance/unity-catalog/manage-privileges/privileges.html "
            f"(MODIFY, SELECT); {DOCS}/sql/language-manual/delta-vacuum.html",
        ),
    )
}


def rules_markdown() -> str:
    """The rules table the README links (``infra/simulate/RULES.md``)."""
    lines = [
        "# Simulator rules",
        "",
        "Generated from `infra/simulate/rules.py` by `python -m infra.simulate --rules-markdown`; a "
        "test fails",
        "when this file is out of date. Each rule names where it comes from.",
        "",
        "| id | phase | rule | source |",
        "|---|---|---|---|",
    ]
    for rule in RULES.values():
        lines.append(f"| {rule.id} | {rule.phase} | {rule.title} | {rule.source} |")
    return "\n".join(lines) + "\n"
