"""One retraining at a time per model.

Locally an exclusive, non-blocking file lock under the runtime's root; a second run fails at once
instead of queueing behind the first. On Databricks the retraining job allows one run at a time
(``max_concurrent_runs = 1`` in the stack), and the promotion itself is a compare-and-set on the
champion alias, so two runs that somehow overlap still cannot both promote.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator

from ml_jobs.errors import Refused
from ml_jobs.runtime import Runtime


@contextlib.contextmanager
def exclusive(runtime: Runtime, model: str) -> Iterator[None]:
    if runtime.root is None:
        yield
        return
    path = runtime.root / "locks" / f"{model}.retrain.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Refused(f"another retraining of {model} is running (lock {path})") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)
