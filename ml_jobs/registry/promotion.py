"""Alias-based promotion, approval and rollback (no registry stages: Unity Catalog has none).

* ``challenger``: the newest trained version awaiting validation/promotion.
* ``champion``: the version that serves. Only ``promote`` and ``rollback`` move it.
* ``previous_champion``: the champion before the last move; ``rollback`` swaps it back in one step.

Promotion is a compare-and-set: it reads the champion, checks gates, approval and improvement
against that champion, re-reads it just before moving aliases and refuses if it changed. The alias
moves are the last step, so any failure before them leaves the aliases as they were.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion

from ml_jobs.errors import Refused
from ml_jobs.registry import client as reg
from ml_jobs.registry import model_card
from ml_jobs.runtime import Runtime
from ml_jobs.spec import ResolvedSpec
from ml_jobs.validation.validate import resolve_version

TAG_APPROVED_BY = "approval.by"
TAG_APPROVED_AT = "approval.at"
TAG_APPROVAL_COMMENT = "approval.comment"
TAG_APPROVAL_IDENTITY = "approval.identity"
"""The authenticated principal that ran ``approve`` (``approval.by`` is what they typed)."""


@dataclass(frozen=True)
class AliasMove:
    registered_name: str
    champion: str
    previous_champion: str | None
    changed: bool
    reason: str


def _now() -> str:
    return pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")


def _require_validated(mv: ModelVersion) -> None:
    status = mv.tags.get(reg.TAG_VALIDATION)
    if status != "passed":
        failed = sorted(
            k.removeprefix("gate.") for k, v in mv.tags.items() if k.startswith("gate.") and v == "failed"
        )
        raise Refused(
            f"{mv.name} v{mv.version} validation status is {status or 'missing'}"
            + (f" (failed gates: {', '.join(failed)})" if failed else "; run validate first")
        )


def _champion_version(client: MlflowClient, name: str) -> str | None:
    champ = reg.version_by_alias(client, name, reg.CHAMPION)
    return str(champ.version) if champ is not None else None


def _check_against_champion(spec: ResolvedSpec, mv: ModelVersion, champion: str | None) -> str:
    validated_against = mv.tags.get("validation.champion_version", "none")
    if validated_against != (champion or "none"):
        raise Refused(
            f"{mv.name} v{mv.version} was validated against champion {validated_against}, but the "
            f"champion is now {champion or 'none'}: run validate again"
        )
    if champion is None:
        return "first champion"
    gain = float(mv.tags["validation.roc_auc"]) - float(mv.tags["validation.champion_roc_auc"])
    needed = spec.model.promotion.min_improvement
    if gain < needed:
        raise Refused(
            f"{mv.name} v{mv.version} improves ROC-AUC over champion v{champion} by {gain:+.4f}; "
            f"promotion.min_improvement requires >= {needed}"
        )
    return f"ROC-AUC {gain:+.4f} over champion v{champion}"


def _require_approval(spec: ResolvedSpec, mv: ModelVersion) -> dict[str, str] | None:
    by, at = mv.tags.get(TAG_APPROVED_BY), mv.tags.get(TAG_APPROVED_AT)
    if not by or not at:
        if spec.model.promotion.require_approval:
            raise Refused(
                f"{mv.name} v{mv.version} needs an approval in {spec.env.environment} "
                f"(promotion.require_approval): run approve --model {spec.model.name} "
                f"--env {spec.env.environment} --version {mv.version} --approver <who>"
            )
        return None
    return {"by": by, "at": at, "comment": mv.tags.get(TAG_APPROVAL_COMMENT, "")}


def promote(
    spec: ResolvedSpec,
    runtime: Runtime,
    client: MlflowClient,
    version: str | None = None,
    actor: str = "unknown",
) -> AliasMove:
    """Make the version (default: ``challenger``) the champion, if its gates, approval and gain allow."""
    name = runtime.registered_name(spec.model.name)
    mv = resolve_version(client, name, version, reg.CHALLENGER)
    champion = _champion_version(client, name)
    if champion == str(mv.version):
        return AliasMove(name, str(mv.version), None, False, f"v{mv.version} is already the champion")
    _require_validated(mv)
    reason = _check_against_champion(spec, mv, champion)
    approval = _require_approval(spec, mv)
    promotion = {"by": actor, "at": _now(), "previous": f"v{champion}" if champion else "none"}
    validation = _validation_report(mv)
    card = model_card.render(
        spec,
        mv,
        validation.get("metrics", {}),
        validation.get("gates", []),
        validation_status="passed",
        approval=approval,
        promotion=promotion,
        status_line=f"**Champion** since {promotion['at']} ({reason}).",
    )
    for key, value in {
        "promotion.by": actor,
        "promotion.identity": runtime.identity(),
        "promotion.at": promotion["at"],
        "promotion.reason": reason,
        "promotion.previous_champion": champion or "none",
    }.items():
        client.set_model_version_tag(name, mv.version, key, value)
    model_card.publish(client, mv, card)
    # Compare-and-set: nothing above moved an alias; re-check the champion right before we do.
    if _champion_version(client, name) != champion:
        raise Refused(f"the champion of {name} changed while promoting v{mv.version}; nothing was moved")
    if champion is not None:
        client.set_registered_model_alias(name, reg.PREVIOUS_CHAMPION, champion)
    client.set_registered_model_alias(name, reg.CHAMPION, str(mv.version))
    challenger = reg.version_by_alias(client, name, reg.CHALLENGER)
    if challenger is not None and str(challenger.version) == str(mv.version):
        client.delete_registered_model_alias(name, reg.CHALLENGER)
    return AliasMove(name, str(mv.version), champion, True, reason)


def _validation_report(mv: ModelVersion) -> dict:
    """The JSON the validate job logged for this version (metrics and gates for the model card)."""
    import mlflow

    path = mv.tags.get("validation.report")
    return mlflow.artifacts.load_dict(f"runs:/{mv.run_id}/{path}") if path else {}


def approve(
    spec: ResolvedSpec,
    runtime: Runtime,
    client: MlflowClient,
    approver: str,
    version: str | None = None,
    comment: str = "",
) -> ModelVersion:
    """Record who approved which version and when (version tags); only validated versions qualify."""
    if not approver.strip():
        raise Refused("an approval needs a non-empty --approver")
    name = runtime.registered_name(spec.model.name)
    mv = resolve_version(client, name, version, reg.CHALLENGER)
    _require_validated(mv)
    client.set_model_version_tag(name, mv.version, TAG_APPROVAL_COMMENT, comment)
    client.set_model_version_tag(name, mv.version, TAG_APPROVAL_IDENTITY, runtime.identity())
    client.set_model_version_tag(name, mv.version, TAG_APPROVED_AT, _now())
    client.set_model_version_tag(
        name, mv.version, TAG_APPROVED_BY, approver.strip()
    )  # last: marks it approved
    return client.get_model_version(name, mv.version)


def rollback(spec: ResolvedSpec, runtime: Runtime, client: MlflowClient, actor: str = "unknown") -> AliasMove:
    """Swap ``champion`` and ``previous_champion`` in one step (a second rollback undoes the first)."""
    name = runtime.registered_name(spec.model.name)
    previous = reg.version_by_alias(client, name, reg.PREVIOUS_CHAMPION)
    current = _champion_version(client, name)
    if previous is None or current is None:
        raise Refused(f"{name} has no '{reg.PREVIOUS_CHAMPION}' and '{reg.CHAMPION}' pair to roll back")
    at = _now()
    client.set_model_version_tag(name, previous.version, "rollback.at", at)
    client.set_model_version_tag(name, previous.version, "rollback.by", actor)
    client.set_model_version_tag(name, previous.version, "rollback.identity", runtime.identity())
    client.set_model_version_tag(name, previous.version, "rollback.from", current)
    if _champion_version(client, name) != current:
        raise Refused(f"the champion of {name} changed during the rollback; nothing was moved")
    client.set_registered_model_alias(name, reg.CHAMPION, str(previous.version))
    client.set_registered_model_alias(name, reg.PREVIOUS_CHAMPION, current)
    reason = f"rolled back from v{current} by {actor} at {at}"
    return AliasMove(name, str(previous.version), current, True, reason)
