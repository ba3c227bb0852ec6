"""Alias-based promotion, approval and rollback (no registry stages: Unity Catalog has none).

* ``challenger``: the newest trained version awaiting validation/promotion.
* ``champion``: the version that serves. Only ``promote`` and ``rollback`` move it.
* ``previous_champion``: the champion before the last move; ``rollback`` makes it champion again.

Every move of the champion is a compare-and-set through the model's ledger of champion moves
(``monitoring.<model>_champion_moves``): a mover first claims the next sequence number with the
champion it expects to replace, by a Delta MERGE that inserts the row only if no row has that
number. Two movers that read the same state claim the same number and exactly one insert
commits (the other's MERGE conflicts, is re-run and finds the winner's row), so exactly one wins,
locally (delta-rs) and on Databricks (Delta's optimistic concurrency; see ``Runtime.merge_table``).
Unity Catalog has no conditional alias update, so the alias move itself is made safe by this
rule: nothing moves ``champion`` without winning a claim first, and the winner then applies it:

1. the version's ``promotion`` (or ``rollback``) record is written with ``status: pending``;
2. ``previous_champion`` -> the replaced champion, ``champion`` -> the claimed version, and
   (promotions) ``challenger`` is dropped when it pointed there;
3. the model card, then the record with ``status: done``.

A claim is a decision: a mover killed anywhere after winning it leaves it claimed, and the next
``promote``, ``rollback`` or ``retrain`` of the model first finishes it (the same idempotent
steps), so no decision is lost or taken twice. A loser writes nothing: no record names it.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion

from ml_jobs.errors import BadInput, Refused
from ml_jobs.explain.insights import TAG_RISK_TIER
from ml_jobs.registry import client as reg
from ml_jobs.registry import model_card
from ml_jobs.runtime import Runtime
from ml_jobs.spec import ResolvedSpec
from ml_jobs.validation.validate import resolve_version, rules_hash
from mlops_spec import tables

log = logging.getLogger(__name__)

PROMOTE, ROLLBACK = "promote", "rollback"
RECORD_OF = {PROMOTE: reg.TAG_PROMOTION, ROLLBACK: reg.TAG_ROLLBACK}
"""The version tag that records a move of each kind."""
PENDING, DONE = "pending", "done"
MAX_COMMENT = 600
"""Characters of an approval comment: the whole record must fit one tag (1000 in Unity Catalog)."""


@dataclass(frozen=True)
class AliasMove:
    registered_name: str
    champion: str
    previous_champion: str | None
    changed: bool
    reason: str
    seq: int | None = None
    """The ledger entry of the move (None when nothing moved)."""


@dataclass(frozen=True)
class Claim:
    """One row of the ledger: a decided move of the champion."""

    seq: int
    decision: str
    kind: str
    from_version: str
    to_version: str
    by: str
    identity: str
    reason: str
    at: str
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    """Unique per claimant: two claims of the same decision tell their authors apart."""

    def record(self, status: str) -> dict[str, object]:
        """The version tag of this move (``promotion`` or ``rollback``)."""
        return {
            "status": status,
            "seq": self.seq,
            "by": self.by,
            "identity": self.identity,
            "at": self.at,
            "reason": self.reason[:300],
            "previous_champion": self.from_version,
        }


def _now() -> str:
    return str(pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"))


# -- the ledger ----------------------------------------------------------------------------------------
def _moves_schema() -> Any:
    """The ledger's column types (a column null in every row of one batch would otherwise have none)."""
    import pyarrow as pa  # type: ignore[import-untyped]  # ships no type information

    text = [f.name for f in fields(Claim) if f.name != "seq"]
    return pa.schema([("seq", pa.int64()), *[(name, pa.string()) for name in text]])


def ledger(runtime: Runtime, model: str) -> list[Claim]:
    """Every claimed move of the model's champion, oldest first."""
    try:
        frame, _ = runtime.read_table(*tables.champion_moves(model))
    except BadInput:
        return []
    rows = frame.sort_values("seq").to_dict("records")
    text = [f.name for f in fields(Claim) if f.name != "seq"]
    return [Claim(seq=int(row["seq"]), **{k: str(row[k]) for k in text if k in row}) for row in rows]


def _claim(runtime: Runtime, model: str, claim: Claim) -> Claim:
    """Insert ``claim`` unless its sequence number is taken; the claim that holds the number."""
    row = pd.DataFrame([asdict(claim)])
    runtime.merge_table(
        row, *tables.champion_moves(model), keys=tables.CHAMPION_MOVES_KEYS, arrow_schema=_moves_schema()
    )
    winner = next((c for c in ledger(runtime, model) if c.seq == claim.seq), None)
    if winner is None:
        raise AssertionError(f"claim {claim.seq} of {model} vanished after its MERGE")
    return winner


def _applied(client: MlflowClient, name: str, claim: Claim) -> bool:
    champion = reg.version_by_alias(client, name, reg.CHAMPION)
    if champion is None or str(champion.version) != claim.to_version:
        return False
    rec = reg.record(champion, RECORD_OF[claim.kind]) or {}
    return rec.get("seq") == claim.seq and rec.get("status") == DONE


def _apply(spec: ResolvedSpec, client: MlflowClient, name: str, claim: Claim) -> None:
    """Make the claimed move happen; every step is idempotent, so a re-run finishes a killed one."""
    mv = client.get_model_version(name, claim.to_version)
    reg.set_record(client, mv, RECORD_OF[claim.kind], claim.record(PENDING))
    if claim.from_version != "none":
        reg.set_alias(client, name, reg.PREVIOUS_CHAMPION, claim.from_version)
    reg.set_alias(client, name, reg.CHAMPION, claim.to_version)
    if claim.kind == PROMOTE:
        challenger = reg.version_by_alias(client, name, reg.CHALLENGER)
        if challenger is not None and str(challenger.version) == claim.to_version:
            reg.delete_alias(client, name, reg.CHALLENGER)
    mv = client.get_model_version(name, claim.to_version)
    model_card.publish(client, mv, _card(spec, mv, claim))
    reg.set_record(client, mv, RECORD_OF[claim.kind], claim.record(DONE))


def _card(spec: ResolvedSpec, mv: ModelVersion, claim: Claim) -> str:
    validation = _validation_report(mv)
    rec = reg.record(mv, reg.TAG_VALIDATION) or {}
    verb = "Champion" if claim.kind == PROMOTE else "Champion again (rollback)"
    return model_card.render(
        spec,
        mv,
        validation.get("metrics", {}),
        validation.get("gates", []),
        validation_status=str(rec.get("status", "not validated")),
        approvals=approvals_of(spec, mv),
        promotion={"by": claim.by, "at": claim.at, "previous": claim.from_version},
        status_line=f"**{verb}** since {claim.at} ({claim.reason}).",
    )


def finish_pending(spec: ResolvedSpec, runtime: Runtime, client: MlflowClient) -> Claim | None:
    """Apply the last claimed move if a killed mover left it unapplied; the claim, if it was."""
    moves = ledger(runtime, spec.model.name)
    if not moves:
        return None
    last = moves[-1]
    name = runtime.registered_name(spec.model.name)
    if _applied(client, name, last):
        return None
    champion = reg.version_by_alias(client, name, reg.CHAMPION)
    current = str(champion.version) if champion is not None else "none"
    if current not in (last.from_version, last.to_version):
        log.warning(
            "claimed move %d of %s (v%s -> v%s) was overtaken: the champion is v%s; not applied",
            last.seq,
            name,
            last.from_version,
            last.to_version,
            current,
        )
        return None
    log.warning(
        "finishing move %d of %s left by a killed run: v%s -> v%s (%s)",
        last.seq,
        name,
        last.from_version,
        last.to_version,
        last.decision,
    )
    _apply(spec, client, name, last)
    return last


def move_champion(
    spec: ResolvedSpec, runtime: Runtime, client: MlflowClient, claim: Claim
) -> tuple[Claim, bool]:
    """Claim and apply; (the claim that holds ``claim.seq``, whether it is ours)."""
    name = runtime.registered_name(spec.model.name)
    winner = _claim(runtime, spec.model.name, claim)
    ours = winner.token == claim.token
    if ours or winner.to_version == claim.to_version:
        _apply(spec, client, name, winner)  # the same target: whoever claimed it, finish it
    return winner, ours


def _next_claim(
    runtime: Runtime,
    model: str,
    decision: str | None,
    kind: str,
    current: str | None,
    target: str,
    actor: str,
    reason: str,
) -> Claim:
    """The claim of the next move; without a named decision, the move itself is the decision."""
    moves = ledger(runtime, model)
    seq = moves[-1].seq + 1 if moves else 1
    decision = decision or f"{kind}:v{current or 'none'}->v{target}:move:{seq}"
    return Claim(
        seq, decision, kind, current or "none", str(target), actor, runtime.identity(), reason, _now()
    )


def claimed(runtime: Runtime, model: str, decision: str) -> Claim | None:
    return next((c for c in ledger(runtime, model) if c.decision == decision), None)


# -- checks ---------------------------------------------------------------------------------------------
def _champion_version(client: MlflowClient, name: str) -> str | None:
    champ = reg.version_by_alias(client, name, reg.CHAMPION)
    return str(champ.version) if champ is not None else None


def validation_of(mv: ModelVersion) -> dict[str, Any]:
    return reg.record(mv, reg.TAG_VALIDATION) or {}


def _require_validated(spec: ResolvedSpec, mv: ModelVersion) -> dict[str, Any]:
    """The version's one validation record, which must say passed under the current gates."""
    rec = validation_of(mv)
    status = rec.get("status")
    if status != "passed":
        failed = rec.get("failed") or []
        raise Refused(
            f"{mv.name} v{mv.version} validation status is {status or 'missing'}"
            + (f" (failed gates: {', '.join(failed)})" if failed else "; run validate first")
        )
    if "rules" in rec and rec["rules"] != rules_hash(spec):
        raise Refused(
            f"{mv.name} v{mv.version} was validated under other gate settings than the spec's current "
            f"validation section: run validate again"
        )
    return rec


def _check_against_champion(
    spec: ResolvedSpec, mv: ModelVersion, rec: dict[str, Any], champion: str | None
) -> str:
    validated_against = str(rec.get("champion_version", "none"))
    if validated_against != (champion or "none"):
        raise Refused(
            f"{mv.name} v{mv.version} was validated against champion {validated_against}, but the "
            f"champion is now {champion or 'none'}: run validate again"
        )
    if champion is None:
        return "first champion"
    gain = float(rec["roc_auc"]) - float(rec["champion_roc_auc"])
    needed = spec.model.promotion.min_improvement
    if gain < needed:
        raise Refused(
            f"{mv.name} v{mv.version} improves ROC-AUC over champion v{champion} by {gain:+.4f}; "
            f"promotion.min_improvement requires >= {needed}"
        )
    return f"ROC-AUC {gain:+.4f} over champion v{champion}"


def approval_chain(spec: ResolvedSpec, mv: ModelVersion) -> tuple[str, ...]:
    """The role keys that sign ``mv`` off, in order: the environment's chain for its risk tier."""
    return spec.env.approvals.for_tier(reg.tag(mv, TAG_RISK_TIER))


def approval_key(step: int) -> str:
    """The version tag of step ``step`` (1-based) of the chain: one record per sign-off."""
    return f"{reg.TAG_APPROVAL}_{step}"


def approvals_of(spec: ResolvedSpec, mv: ModelVersion) -> list[dict[str, Any]]:
    """The valid sign-offs of ``mv``, in chain order, up to the first missing one.

    A step counts only when its record names the role the current chain asks for at that step: a
    chain changed in config after a sign-off needs that step signed again.
    """
    done: list[dict[str, Any]] = []
    for step, role in enumerate(approval_chain(spec, mv), start=1):
        rec = reg.record(mv, approval_key(step))
        if not rec or rec.get("role") != role or not rec.get("by"):
            break
        done.append(rec)
    return done


def _require_approval(spec: ResolvedSpec, mv: ModelVersion) -> list[dict[str, Any]]:
    done, chain = approvals_of(spec, mv), approval_chain(spec, mv)
    if spec.model.promotion.require_approval and len(done) < len(chain):
        role = chain[len(done)]
        raise Refused(
            f"{mv.name} v{mv.version} needs an approval in {spec.env.environment} "
            f"(promotion.require_approval): step {len(done) + 1} of {len(chain)} "
            f"({' -> '.join(chain)}) is for a member of {role} ({spec.env.groups.get(role, '?')}): "
            f"they run approve --model {spec.model.name} --env {spec.env.environment} --version {mv.version}"
        )
    return done


def check_promotion(spec: ResolvedSpec, mv: ModelVersion, champion: str | None) -> str:
    """Why ``mv`` may replace ``champion`` (gates, validated-against, gain, approval), or Refused."""
    rec = _require_validated(spec, mv)
    reason = _check_against_champion(spec, mv, rec, champion)
    _require_approval(spec, mv)
    return reason


# -- the operations ------------------------------------------------------------------------------------
def promote(
    spec: ResolvedSpec,
    runtime: Runtime,
    client: MlflowClient,
    version: str | None = None,
    actor: str = "unknown",
    decision: str | None = None,
) -> AliasMove:
    """Make the version (default: ``challenger``) the champion, if its gates, approval and gain allow.

    ``decision`` names the decision this promotion carries out (``retrain`` passes its request):
    a decision already claimed is finished, never claimed twice.
    """
    model, name = spec.model.name, runtime.registered_name(spec.model.name)
    finish_pending(spec, runtime, client)
    if decision is not None and (done := claimed(runtime, model, decision)) is not None:
        # Re-applied even when applied: the caller's re-run (e.g. its validation card) may have
        # overwritten part of what the move wrote, and every step is idempotent.
        if _champion_version(client, name) in (done.from_version, done.to_version):
            _apply(spec, client, name, done)
        return AliasMove(name, done.to_version, _none(done.from_version), True, done.reason, done.seq)
    mv = resolve_version(client, name, version, reg.CHALLENGER)
    champion = _champion_version(client, name)
    if champion == str(mv.version):
        return AliasMove(name, str(mv.version), None, False, f"v{mv.version} is already the champion")
    reason = check_promotion(spec, mv, champion)
    claim = _next_claim(runtime, model, decision, PROMOTE, champion, str(mv.version), actor, reason)
    winner, ours = move_champion(spec, runtime, client, claim)
    if ours:
        return AliasMove(name, str(mv.version), champion, True, reason, winner.seq)
    if winner.to_version == str(mv.version):
        return AliasMove(
            name,
            str(mv.version),
            champion,
            False,
            f"v{mv.version} was promoted by {winner.by} (move {winner.seq}) at the same time",
        )
    raise Refused(
        f"another move of the champion of {name} won (move {winner.seq}: v{winner.from_version} -> "
        f"v{winner.to_version} by {winner.by}); v{mv.version} was not promoted and nothing was changed for it"
    )


def _none(version: str) -> str | None:
    return None if version == "none" else version


def _validation_report(mv: ModelVersion) -> dict[str, Any]:
    """The JSON the validate job logged for this version (metrics and gates for the model card)."""
    import mlflow

    path = validation_of(mv).get("report")
    return mlflow.artifacts.load_dict(f"runs:/{mv.run_id}/{path}") if path else {}


def _trained_or_triggered_by(client: MlflowClient, mv: ModelVersion) -> dict[str, str]:
    """Who may not approve ``mv``: its trainer and the trigger of its retraining, by what says so."""
    who = {}
    if trained := reg.tag(mv, reg.TAG_TRAINED_BY):
        who[str(trained)] = "trained it"
    if mv.run_id:  # versions trained before trained_by existed: MLflow's own record of the run's user
        user = client.get_run(mv.run_id).data.tags.get("mlflow.user")
        if user:
            who.setdefault(str(user), "trained it")
    if by := (reg.record(mv, reg.TAG_RETRAIN) or {}).get("by"):
        who.setdefault(str(by), "triggered its retraining")
    return who


def approve(
    spec: ResolvedSpec,
    runtime: Runtime,
    client: MlflowClient,
    version: str | None = None,
    comment: str = "",
) -> ModelVersion:
    """Sign the next step of the version's approval chain as the authenticated caller.

    Who approves is not an argument: it is the platform's answer (``Runtime.principal``). The caller
    must be a member of the group of the chain's next step, must not have trained the version or
    triggered its retraining, and must not have signed an earlier step (four eyes per step). The
    step is one version tag (``approval_<n>``), so a re-run after a kill writes the same fact again.
    """
    if len(comment) > MAX_COMMENT:
        raise BadInput(
            f"--comment: at most {MAX_COMMENT} characters (the approval is one registry tag), "
            f"got {len(comment)}"
        )
    name = runtime.registered_name(spec.model.name)
    mv = resolve_version(client, name, version, reg.CHALLENGER)
    _require_validated(spec, mv)
    me = runtime.principal()
    conflict = _trained_or_triggered_by(client, mv).get(me.name)
    if conflict is not None:
        raise Refused(f"{me.name} {conflict} and may not approve {name} v{mv.version} (separation of duties)")
    chain, done = approval_chain(spec, mv), approvals_of(spec, mv)
    if any(rec.get("by") == me.name for rec in done):
        # One person signs one step; signing again is the re-run of a (maybe killed) approval:
        # nothing changes. (The model card shows the steps once promotion writes it; until then the
        # ``approval_<n>`` tags are the record, so ``approve`` needs no write access to the card.)
        log.warning(
            "%s already signed step %s of %s v%s; the next step (if any) needs someone else",
            me.name,
            next(rec.get("step") for rec in done if rec.get("by") == me.name),
            name,
            mv.version,
        )
        return mv
    if len(done) == len(chain):
        log.info("%s v%s: the approval chain (%s) is already complete", name, mv.version, " -> ".join(chain))
        return mv
    role = chain[len(done)]
    group = spec.env.groups[role]
    if group not in me.groups:
        raise Refused(
            f"{me.name} ({me.source}) is not a member of {group} (role {role}), which signs step "
            f"{len(done) + 1} of {len(chain)} ({' -> '.join(chain)}) in {spec.env.environment}"
        )
    record = {
        "step": len(done) + 1,
        "of": len(chain),
        "role": role,
        "group": group[:100],
        "by": me.name[:100],
        "source": me.source,
        "at": _now(),
        "comment": comment,
    }
    reg.set_record(client, mv, approval_key(len(done) + 1), record)
    return client.get_model_version(name, mv.version)


def rollback(spec: ResolvedSpec, runtime: Runtime, client: MlflowClient, actor: str = "unknown") -> AliasMove:
    """``previous_champion`` serves again: the move of the champion before it is undone.

    Idempotent: when the last move of the champion already was a rollback, nothing happens (a
    re-run after a kill must not swap back); to go forward again, ``promote`` that version.
    """
    model, name = spec.model.name, runtime.registered_name(spec.model.name)
    finished = finish_pending(spec, runtime, client)
    moves = ledger(runtime, model)
    current = _champion_version(client, name)
    if moves and moves[-1].kind == ROLLBACK and moves[-1].to_version == current:
        last = moves[-1]
        return AliasMove(
            name,
            current,
            _none(last.from_version),
            finished is not None and finished.kind == ROLLBACK,
            f"already rolled back to v{current} by {last.by} at {last.at} (move {last.seq})",
            last.seq,
        )
    previous = reg.version_by_alias(client, name, reg.PREVIOUS_CHAMPION)
    if previous is None or current is None:
        raise Refused(f"{name} has no '{reg.PREVIOUS_CHAMPION}' and '{reg.CHAMPION}' pair to roll back")
    at = _now()
    reason = f"rolled back from v{current} by {actor} at {at}"
    claim = _next_claim(runtime, model, None, ROLLBACK, current, str(previous.version), actor, reason)
    winner, ours = move_champion(spec, runtime, client, claim)
    if not ours:
        raise Refused(
            f"another move of the champion of {name} won (move {winner.seq} by {winner.by}); "
            f"nothing was rolled back"
        )
    return AliasMove(name, str(previous.version), current, True, reason, winner.seq)
