"""Step boundaries, where the chaos harness may kill a job (``tests/ml_jobs/chaos``).

Every call that changes the world (a table write in ``ml_jobs.runtime``, a registry write in
``ml_jobs.registry.client``, a serving config update, a job trigger) passes ``boundary(name)``
just before it acts, and every entry point passes ``boundary("<job>:done")`` after its last one.
A kill at a boundary is therefore "after everything before it, before anything after it".

* ``MLOPS_FAULT_TRACE=<file>``: append each boundary name passed (one a line); a fault-free run
  lists the boundaries a job declares, in order.
* ``MLOPS_FAULT_AT=<name>[@<n>]``: SIGKILL this process the n-th time (default 1st) it passes
  ``<name>``. SIGKILL, not an exception: no ``finally``, no ``atexit``, as when a node dies.
* ``MLOPS_FAULT_PAUSE=<name>[@<n>]=<seconds>``: wait there; two runs paused at the same boundary
  are lined up for a real race (both have read the world, neither has written).

Without either variable a boundary is a dictionary lookup.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

from ml_jobs import settings

_passed: Counter[str] = Counter()


def _point(spec: str) -> tuple[str, int]:
    name, _, nth = spec.rpartition("@") if "@" in spec else (spec, "", "1")
    return name, int(nth) if nth.isdigit() else 1


def boundary(name: str) -> None:
    """Mark a step boundary: record it when tracing, wait or die here when told to."""
    current = settings.current()
    if current.fault_at is None and current.fault_trace is None and current.fault_pause is None:
        return
    _passed[name] += 1
    here = (name, _passed[name])
    if current.fault_trace is not None:
        with open(current.fault_trace, "a", encoding="utf-8") as trace:
            trace.write(name + "\n")
    if current.fault_pause is not None:
        point, _, seconds = current.fault_pause.rpartition("=")
        if _point(point) == here:
            time.sleep(float(seconds))
    if current.fault_at is not None and _point(current.fault_at) == here:
        os.kill(os.getpid(), signal.SIGKILL)


def reset() -> None:
    """Forget the boundaries passed (a new job run in the same process counts from zero)."""
    _passed.clear()
