"""Validation gates a challenger must pass before promotion."""
