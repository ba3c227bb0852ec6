"""What an environment's deployer and job runner need from the account before the environment stack runs.

* A storage credential for the catalog's managed storage, owned by the deployer: only an account admin
  (or a metastore admin) may create one, and its owner may create external locations on it
  (databricks-sdk StorageCredentialsAPI / ExternalLocationsAPI).
* CREATE_CATALOG and CREATE_EXTERNAL_LOCATION on the metastore for the deployer: creating a catalog or
  an external location needs them (CatalogsAPI.create, ExternalLocationsAPI.create). Grants are a
  workspace API, so they go through one workspace of the region, as an account admin ("account admins
  can grant privileges directly on a metastore": Databricks, Manage privileges in Unity Catalog).
* The servicePrincipal.user role on the job runner for the deployer: a job whose ``run_as`` is a service
  principal can only be set by a user of it (terraform-provider-databricks docs/resources/job.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from infra.cdk import (
    AccessControlRuleSet,
    AccessControlRuleSetGrantRules,
    Construct,
    DatabricksProvider,
    Grant,
    ITerraformDependable,
    ServicePrincipal,
    StorageCredential,
    StorageCredentialAwsIamRole,
)

METASTORE_PRIVILEGES = ("CREATE_CATALOG", "CREATE_EXTERNAL_LOCATION")
SERVICE_PRINCIPAL_USER = "roles/servicePrincipal.user"


@dataclass(frozen=True)
class DeployerAccessProps:
    account_id: str
    metastore_id: str
    deployer: ServicePrincipal
    job_runner: ServicePrincipal
    grants_provider: DatabricksProvider
    """A workspace-level provider on a workspace of the metastore's region."""
    grants_depend_on: Sequence[ITerraformDependable]
    """The admin's and the metastore's assignments to that workspace: grants need both first."""
    credential_name: str | None = None
    credential_role_arn: str | None = None
    """IAM role for the catalog's storage; None = no credential (the environment brings its own)."""


class DeployerAccess(Construct):
    def __init__(self, scope: Construct, id_: str, props: DeployerAccessProps) -> None:
        super().__init__(scope, id_)
        self.credential: StorageCredential | None = None
        if props.credential_role_arn and props.credential_name:
            self.credential = StorageCredential(
                self,
                "catalog-credential",
                name=props.credential_name,
                metastore_id=props.metastore_id,
                aws_iam_role=StorageCredentialAwsIamRole(role_arn=props.credential_role_arn),
                owner=props.deployer.application_id,
                comment="Catalog storage of one environment; owned by its deployer. Managed in git.",
            )
        Grant(
            self,
            "metastore-grant",
            provider=props.grants_provider,
            metastore=props.metastore_id,
            principal=props.deployer.application_id,
            privileges=list(METASTORE_PRIVILEGES),
            depends_on=list(props.grants_depend_on) or None,
        )
        AccessControlRuleSet(
            self,
            "job-runner-users",
            name=(
                f"accounts/{props.account_id}/servicePrincipals/{props.job_runner.application_id}"
                "/ruleSets/default"
            ),
            grant_rules=[
                AccessControlRuleSetGrantRules(
                    role=SERVICE_PRINCIPAL_USER, principals=[props.deployer.acl_principal_id]
                )
            ],
        )

    @property
    def credential_name(self) -> str | None:
        return self.credential.name if self.credential else None
