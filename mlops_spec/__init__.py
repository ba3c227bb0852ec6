"""The platform's specification: typed config, names and the exit-code table.

The one package that both sides import: ``infra`` (stacks, guardrails, review) and ``ml_jobs`` (the
wheel the jobs run). It holds no cdktf and no ML code, so the job wheel ships it and ``ml_jobs`` only.
"""
