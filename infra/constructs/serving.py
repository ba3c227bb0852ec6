"""Model Serving endpoint whose served versions belong to the promotion code, not to Terraform.

The endpoint is created without a ``config`` block: a first deploy therefore works before any
model version exists (the failure mlops-stacks issue 217 describes), and ``ignore_changes`` on
``config`` keeps the next ``cdktf deploy`` from reverting what the ``deploy`` job rolled out.
Inference tables, rate limits, tags and permissions stay under Terraform's control.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from infra.cdk import Construct, ModelServing, ModelServingAiGatewayRateLimits, ModelServingTags
from infra.constructs._permissions import object_permissions

# "An endpoint name can consist of alphanumeric characters, dashes, and underscores" (databricks-sdk
# service/serving.py, ServingEndpointsAPI.create: the REST API reference).
ENDPOINT_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class ServingEndpointProps:
    name: str
    model_full_name: str
    inference_catalog: str
    """Catalog of the inference table (a reference: the endpoint waits for it)."""
    inference_schema: str
    """Schema of the inference table (a reference); the creator needs CREATE_TABLE there."""
    table_prefix: str
    rate_limit_per_minute: int
    tags: Mapping[str, str]
    access: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    prevent_destroy: bool = False

    def __post_init__(self) -> None:
        if not ENDPOINT_NAME.match(self.name):
            raise ValueError(
                f"serving endpoint name: got {self.name!r}; allowed: letters, digits, '-' and '_'"
            )
        if self.rate_limit_per_minute < 1:
            raise ValueError(
                f"serving endpoint {self.name}: rate_limit_per_minute: got {self.rate_limit_per_minute}; "
                "allowed: >= 1 call per minute"
            )


class ServingEndpoint(Construct):
    def __init__(self, scope: Construct, id_: str, props: ServingEndpointProps) -> None:
        super().__init__(scope, id_)
        lifecycle: dict[str, object] = {"ignore_changes": ["config"]}
        if props.prevent_destroy:
            lifecycle["prevent_destroy"] = True
        self.endpoint = ModelServing(
            self,
            "Resource",
            name=props.name,
            description=f"Serves {props.model_full_name}; versions are rolled out by the deploy job.",
            ai_gateway={
                "inference_table_config": {
                    "enabled": True,
                    "catalog_name": props.inference_catalog,
                    "schema_name": props.inference_schema,
                    "table_name_prefix": props.table_prefix,
                },
                "rate_limits": [
                    ModelServingAiGatewayRateLimits(
                        calls=props.rate_limit_per_minute, key="endpoint", renewal_period="minute"
                    )
                ],
                "usage_tracking_config": {"enabled": True},
            },
            tags=[ModelServingTags(key=k, value=v) for k, v in sorted(props.tags.items())],
            lifecycle=lifecycle,
        )
        object_permissions(
            self, "Permissions", props.access, serving_endpoint_id=self.endpoint.serving_endpoint_id
        )
