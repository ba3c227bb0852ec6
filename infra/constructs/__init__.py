"""Constructs: one concern per module, each taking ``(scope, id, props)``."""
