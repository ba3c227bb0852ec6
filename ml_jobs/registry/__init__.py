"""MLflow registry access: connection with bounded retries, aliases, approval, model cards."""
