"""Canary and blue-green rollouts, derived from (and resumable from) the endpoint's own config.

Both strategies are a list of traffic splits between the *stable* version (what the endpoint served
before) and the *target*; every split is sent, waited for (``ready_timeout_seconds``) and health
checked before the next. A failed check or a failed update sends ``{stable: 100}``: the endpoint
ends serving the last good version, and the target's entity is dropped.

* canary: ``{S: 90, T: 10}``, ``{S: 50, T: 50}``, ``{S: 0, T: 100}`` (S stays warm for a fast
  rollback while T takes all traffic), then ``{T: 100}`` drops S.
* blue-green: ``{S: 100, T: 0}`` (T made ready beside S), ``{S: 0, T: 100}`` (switch at once); S is
  kept warm at 0% so a switch-back is one traffic change. The next rollout drops it.

Nothing but the endpoint records progress: the stable version is the non-target version with the
most traffic, and a run resumes at the first step whose target share is at least the current one
(that step is re-checked, not re-sent). So a run that died anywhere is finished, or rolled back,
by running deploy again. Endpoint tags are not used: Terraform owns them and would revert them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from ml_jobs.errors import EXIT_OK, EXIT_REFUSED, InfraError
from ml_jobs.serving.endpoint import (
    READY,
    Compute,
    EndpointView,
    ReadyTimeout,
    ServingClient,
    Split,
    UpdateFailed,
)
from ml_jobs.serving.health import HealthCheck, HealthResult

log = logging.getLogger(__name__)

Strategy = Literal["canary", "blue_green"]
DONE, UNCHANGED, ROLLED_BACK, FAILED = "done", "unchanged", "rolled_back", "failed"

Hook = Callable[[str, Split], None]
"""Called with ``("applied", split)`` after a config is sent and ``("ready", split)`` once it is
ready; tests raise from it to kill a rollout between two steps."""


@dataclass(frozen=True)
class RolloutPlan:
    endpoint: str
    target: str
    strategy: Strategy = "canary"
    canary_steps: tuple[int, ...] = (10, 50, 100)
    compute: Compute = field(default_factory=Compute)
    ready_timeout_s: float = 1200.0


@dataclass(frozen=True)
class Step:
    split: dict[str, int]
    sent: bool
    """False when the endpoint already had this config (a resumed run re-checks it, sends nothing)."""
    health: HealthResult | None
    seconds: float


@dataclass
class RolloutResult:
    status: str
    target: str
    stable: str | None
    serving: dict[str, int]
    message: str
    steps: list[Step] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.status in (DONE, UNCHANGED) else EXIT_REFUSED


def stable_version(view: EndpointView, target: str) -> str | None:
    """The last good version: the non-target one with the most traffic (older one on a tie)."""
    others = [s for s in view.served if s.version is not None and s.version != target]
    if not others:
        return None
    return max(others, key=lambda s: (s.traffic, -int(s.version or 0))).version


def traffic_steps(plan: RolloutPlan, stable: str | None) -> list[dict[str, int]]:
    target = plan.target
    if stable is None:
        return [{target: 100}]  # first deploy: nothing to compare with or fall back to
    if plan.strategy == "blue_green":
        return [{stable: 100, target: 0}, {stable: 0, target: 100}]
    return [{stable: 100 - p, target: p} for p in plan.canary_steps]


def final_split(plan: RolloutPlan, stable: str | None) -> dict[str, int] | None:
    """What is left once every check passed (None: the last step is the end state)."""
    if stable is None or plan.strategy == "blue_green":
        return None
    return {plan.target: 100}


def remaining_steps(steps: list[dict[str, int]], view: EndpointView, target: str) -> list[dict[str, int]]:
    """Resume where the endpoint is: drop steps whose target share is below the current one."""
    current = view.share(target)
    return [s for s in steps if s[target] >= current]


def planned_splits(view: EndpointView, plan: RolloutPlan) -> list[dict[str, int]]:
    """The configs a rollout would send from the endpoint's current state (``deploy --plan``)."""
    if view.split == {plan.target: 100}:
        return []
    stable = stable_version(view, plan.target)
    steps = remaining_steps(traffic_steps(plan, stable), view, plan.target)
    final = final_split(plan, stable)
    return [s for s in [*steps, *([final] if final else [])] if s != view.split]


def ensure(client: ServingClient, plan: RolloutPlan, view: EndpointView, split: Split,
           hook: Hook | None = None) -> tuple[EndpointView, bool]:
    """Bring the endpoint to ``split`` and wait until it is ready; True when a config was sent."""
    if view.split == dict(split):
        return client.wait_ready(plan.endpoint, plan.ready_timeout_s, after_update=False), False
    client.apply(plan.endpoint, split, plan.compute, view)
    if hook:
        hook("applied", split)
    view = client.wait_ready(plan.endpoint, plan.ready_timeout_s)
    if hook:
        hook("ready", split)
    return view, True


def rollout(client: ServingClient, plan: RolloutPlan, health: HealthCheck,
            hook: Hook | None = None) -> RolloutResult:
    """Roll ``plan.target`` out, resuming from whatever the endpoint serves now."""
    view = client.wait_settled(plan.endpoint, plan.ready_timeout_s)
    target = plan.target
    if view.split == {target: 100} and view.ready == READY:
        return RolloutResult(UNCHANGED, target, None, view.split, f"{plan.endpoint} already serves v{target}")
    stable = stable_version(view, target)
    steps = remaining_steps(traffic_steps(plan, stable), view, target)
    log.info("%s rollout of v%s on %s: stable v%s, serving %s, steps %s",
             plan.strategy, target, plan.endpoint, stable, view.split, steps)
    done: list[Step] = []
    for split in steps:
        started = time.monotonic()
        try:
            view, sent = ensure(client, plan, view, split, hook)
        except UpdateFailed as exc:
            done.append(Step(split, True, HealthResult(False, str(exc)), time.monotonic() - started))
            return _roll_back(client, plan, stable, str(exc), done)
        result = health(view, target, split[target])
        done.append(Step(split, sent, result, time.monotonic() - started))
        log.info("step %s: %s (%s)", split, "healthy" if result.ok else "UNHEALTHY", result.reason)
        if not result.ok:
            return _roll_back(client, plan, stable, result.reason, done)
    final = final_split(plan, stable)
    if final is not None:
        started = time.monotonic()
        try:
            view, sent = ensure(client, plan, view, final, hook)
        except UpdateFailed as exc:
            # The target already takes all traffic and passed its checks: nothing to roll back.
            raise InfraError(f"v{target} serves 100% of {plan.endpoint} and passed its checks, but dropping "
                             f"v{stable} failed ({exc}); re-run deploy to finish") from exc
        done.append(Step(final, sent, None, time.monotonic() - started))
    return RolloutResult(DONE, target, stable, view.split,
                         f"{plan.endpoint} serves v{target} ({plan.strategy}, {len(done)} steps)", done)


def _roll_back(client: ServingClient, plan: RolloutPlan, stable: str | None, reason: str,
               done: list[Step]) -> RolloutResult:
    if stable is None:
        view = client.view(plan.endpoint)
        return RolloutResult(FAILED, plan.target, None, view.split,
                             f"v{plan.target} failed ({reason}) and {plan.endpoint} has no earlier version "
                             f"to fall back to; it serves {view.split}", done)
    view = roll_back_to(client, plan, stable)
    done.append(Step(view.split, True, None, 0.0))
    return RolloutResult(ROLLED_BACK, plan.target, stable, view.split,
                         f"v{plan.target} rolled back on {plan.endpoint}: {reason}; serving v{stable}", done)


def roll_back_to(client: ServingClient, plan: RolloutPlan, stable: str) -> EndpointView:
    """``{stable: 100}``, dropping every other entity; a failure here is an infrastructure error."""
    view = client.wait_settled(plan.endpoint, plan.ready_timeout_s)
    try:
        view, _ = ensure(client, plan, view, {stable: 100})
    except (UpdateFailed, ReadyTimeout) as exc:
        raise InfraError(f"rollback of {plan.endpoint} to v{stable} did not complete: {exc}") from exc
    return view


def abort(client: ServingClient, plan: RolloutPlan) -> RolloutResult:
    """Operator's switch-back: give the stable version all traffic, drop the target."""
    view = client.wait_settled(plan.endpoint, plan.ready_timeout_s)
    stable = stable_version(view, plan.target)
    if stable is None:
        return RolloutResult(FAILED, plan.target, None, view.split,
                             f"{plan.endpoint} serves no version other than v{plan.target}: nothing to "
                             f"switch back to (deploy an earlier version instead)")
    view = roll_back_to(client, plan, stable)
    return RolloutResult(ROLLED_BACK, plan.target, stable, view.split,
                         f"{plan.endpoint} switched back to v{stable}")


def restore(client: ServingClient, plan: RolloutPlan, health: HealthCheck,
            hook: Hook | None = None) -> RolloutResult:
    """Serve ``plan.target`` (the champion a registry rollback restored) and drop every other version.

    Unlike ``rollout``, the versions served now are what is being rolled back *from*: none of them is
    a fallback. The target is made ready beside them at 0% (no gap in serving), takes all traffic,
    is health checked, and then the others are dropped. A failure stops there and says what serves;
    it never sends traffic back to a rolled-back version. Resumable like ``rollout``: every step is
    derived from what the endpoint serves.
    """
    view = client.wait_settled(plan.endpoint, plan.ready_timeout_s)
    target = plan.target
    if view.split == {target: 100} and view.ready == READY:
        return RolloutResult(UNCHANGED, target, None, view.split, f"{plan.endpoint} already serves v{target}")
    others = [v for v in view.split if v != target]
    steps: list[dict[str, int]] = []
    if others and view.entity(target) is None:
        steps.append({**view.split, target: 0})
    if others and view.share(target) < 100:
        steps.append({**{v: 0 for v in others}, target: 100})
    log.info("restore of v%s on %s: serving %s, steps %s", target, plan.endpoint, view.split, steps)
    done: list[Step] = []
    for split in steps:
        started = time.monotonic()
        try:
            view, sent = ensure(client, plan, view, split, hook)
        except UpdateFailed as exc:
            done.append(Step(split, True, HealthResult(False, str(exc)), time.monotonic() - started))
            return _restore_failed(client, plan, str(exc), done)
        result = health(view, target, split[target])
        done.append(Step(split, sent, result, time.monotonic() - started))
        if not result.ok:
            return _restore_failed(client, plan, result.reason, done)
    started = time.monotonic()
    try:
        view, sent = ensure(client, plan, view, {target: 100}, hook)
    except UpdateFailed as exc:
        return _restore_failed(client, plan, str(exc), done)
    done.append(Step({target: 100}, sent, None, time.monotonic() - started))
    return RolloutResult(DONE, target, None, view.split, f"{plan.endpoint} serves v{target} again", done)


def _restore_failed(client: ServingClient, plan: RolloutPlan, reason: str, done: list[Step]) -> RolloutResult:
    view = client.view(plan.endpoint)
    return RolloutResult(FAILED, plan.target, None, view.split,
                         f"v{plan.target} could not be restored on {plan.endpoint} ({reason}); it serves "
                         f"{view.split}. Not switching back to a rolled-back version: fix or deploy another "
                         f"version, then re-run rollback", done)
