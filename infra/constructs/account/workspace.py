"""An AWS workspace and its configuration objects: credentials, root storage, network, keys, PrivateLink.

The cloud-side resources (cross-account role, root bucket, VPC, subnets, security groups, VPC
endpoints, KMS key) are inputs: this construct registers them with Databricks and creates the
workspace on top of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from infra.cdk import (
    Construct,
    MwsCredentials,
    MwsCustomerManagedKeys,
    MwsCustomerManagedKeysAwsKeyInfo,
    MwsNetworks,
    MwsNetworksVpcEndpoints,
    MwsPrivateAccessSettings,
    MwsStorageConfigurations,
    MwsVpcEndpoint,
    MwsWorkspaces,
)
from mlops_spec.config.account import GreenfieldWorkspace


@dataclass(frozen=True)
class AwsWorkspaceProps:
    account_id: str
    name: str
    """Workspace name in the UI, and the prefix of every configuration object's name."""
    config: GreenfieldWorkspace
    tags: Mapping[str, str] = field(default_factory=dict)
    """Custom tags on the AWS resources Databricks launches for the workspace."""
    prevent_destroy: bool = False


class AwsWorkspace(Construct):
    """A workspace this stack creates; ``workspace_url`` and ``workspace_id`` are known after apply."""

    def __init__(self, scope: Construct, id_: str, props: AwsWorkspaceProps) -> None:
        super().__init__(scope, id_)
        cfg, name, account = props.config, props.name, props.account_id
        credentials = MwsCredentials(
            self,
            "credentials",
            account_id=account,
            credentials_name=f"{name}-credentials",
            role_arn=cfg.credentials_role_arn,
        )
        storage = MwsStorageConfigurations(
            self,
            "storage",
            account_id=account,
            storage_configuration_name=f"{name}-storage",
            bucket_name=cfg.root_bucket,
        )
        private_access_id, endpoints = self._private_link(props)
        network = MwsNetworks(
            self,
            "network",
            account_id=account,
            network_name=f"{name}-network",
            vpc_id=cfg.vpc_id,
            subnet_ids=list(cfg.subnet_ids),
            security_group_ids=list(cfg.security_group_ids),
            vpc_endpoints=endpoints,
        )
        keys = self._keys(props)
        lifecycle = {"prevent_destroy": True} if props.prevent_destroy else None
        self.resource = MwsWorkspaces(
            self,
            "Resource",
            account_id=account,
            workspace_name=name,
            deployment_name=cfg.deployment_name,
            aws_region=cfg.region,
            pricing_tier=cfg.pricing_tier,
            credentials_id=credentials.credentials_id,
            storage_configuration_id=storage.storage_configuration_id,
            network_id=network.network_id,
            private_access_settings_id=private_access_id,
            custom_tags=dict(sorted(props.tags.items())) or None,
            lifecycle=lifecycle,
            managed_services_customer_managed_key_id=keys.get("MANAGED_SERVICES"),
            storage_customer_managed_key_id=keys.get("STORAGE"),
        )
        self.workspace_url: str = self.resource.workspace_url
        self.workspace_id: float = self.resource.workspace_id

    def _private_link(self, props: AwsWorkspaceProps) -> tuple[str | None, MwsNetworksVpcEndpoints | None]:
        """Back-end PrivateLink (relay, REST) on the network; front-end through private access settings."""
        cfg, pl = props.config, props.config.private_link
        if not pl.enabled:
            return None, None
        rest, relay = (
            MwsVpcEndpoint(
                self,
                f"{use}-vpce",
                account_id=props.account_id,
                vpc_endpoint_name=f"{props.name}-{use}",
                aws_vpc_endpoint_id=vpce,
                region=cfg.region,
            )
            for use, vpce in (("rest", pl.rest_vpce_id), ("relay", pl.relay_vpce_id))
        )
        settings = MwsPrivateAccessSettings(
            self,
            "private-access",
            account_id=props.account_id,
            private_access_settings_name=f"{props.name}-private-access",
            region=cfg.region,
            public_access_enabled=pl.public_access_enabled,
            # ENDPOINT: only this workspace's registered endpoint, not every endpoint in the account.
            private_access_level="ENDPOINT",
            allowed_vpc_endpoint_ids=[rest.vpc_endpoint_id],
        )
        endpoints = MwsNetworksVpcEndpoints(
            rest_api=[rest.vpc_endpoint_id], dataplane_relay=[relay.vpc_endpoint_id]
        )
        return settings.private_access_settings_id, endpoints

    def _keys(self, props: AwsWorkspaceProps) -> dict[str, str]:
        """The customer-managed key's id per use case (MANAGED_SERVICES, STORAGE) it is configured for."""
        cmk = props.config.cmk
        if cmk is None:
            return {}
        key = MwsCustomerManagedKeys(
            self,
            "cmk",
            account_id=props.account_id,
            use_cases=list(cmk.use_cases),
            aws_key_info=MwsCustomerManagedKeysAwsKeyInfo(key_arn=cmk.key_arn, key_alias=cmk.alias),
        )
        return {use: key.customer_managed_key_id for use in cmk.use_cases}


@dataclass(frozen=True)
class ExistingWorkspace:
    """A brownfield workspace: same attributes as AwsWorkspace, taken from config."""

    workspace_url: str
    workspace_id: float
