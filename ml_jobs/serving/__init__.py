"""Safe Model Serving rollouts (canary, blue-green, shadow) through ``databricks-sdk``.

The stacks create each endpoint without a ``config`` block and ignore changes to it, so the served
entities and the traffic split belong to this package. The endpoint's own config is the source of
truth for a rollout: served entity names encode the model version (``<model>-<version>``), so a
crashed rollout is resumed or rolled back from what the endpoint actually serves.
"""
