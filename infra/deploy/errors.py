"""What stops a plan or an apply, with the exit code it maps to (``mlops_spec.exit_codes``)."""

from __future__ import annotations

from mlops_spec.exit_codes import EXIT_BAD_INPUT, EXIT_INFRA, EXIT_REFUSED


class DeployError(Exception):
    exit_code = EXIT_BAD_INPUT


class Refused(DeployError):
    """The tool worked and the answer is no: a plan from another commit, too old, tampered with."""

    exit_code = EXIT_REFUSED


class BadInput(DeployError):
    """Missing synth output, an unreadable plan bundle, a bad option: nothing was changed."""

    exit_code = EXIT_BAD_INPUT


class InfraError(DeployError):
    """Terraform failed or is missing (backend, provider registry, workspace API): nothing to trust."""

    exit_code = EXIT_INFRA
