"""Building blocks the environment stacks compose: typed config, constructs, guardrails, review."""
