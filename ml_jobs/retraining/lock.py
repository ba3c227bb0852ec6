"""One retraining at a time per model (``Runtime.exclusive``).

Locally an ``flock`` under the runtime's root: a second run waits for the first (at most
``MLOPS_LOCK_TIMEOUT_SECONDS``, then exit 1) and then finds the first one's decision when it was
the same request. On Databricks the retraining job allows one run at a time
(``max_concurrent_runs = 1`` with queueing, in the stack), and what must not happen twice (rows
appended, a version registered, a promotion) is guarded by keys in the tables and the registry.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ml_jobs.runtime import Runtime


@contextlib.contextmanager
def exclusive(runtime: Runtime, model: str, timeout_s: float | None = None) -> Iterator[None]:
    wait = runtime.settings.lock_timeout_seconds if timeout_s is None else timeout_s
    with runtime.exclusive(f"{model}.retrain", wait):
        yield
