"""Training: pipeline, Bayesian search with nested MLflow runs, lineage, registration."""
