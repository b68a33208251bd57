"""What both backends need to replace a document safely while others read or write.

- `write_lock`: one writer at a time per index on this host (an flock'ed file), so two
  overlapping `specbot index` runs take turns instead of failing on a commit conflict.
  The lock is released by the kernel when the process dies, so a crash never leaves it held.
- `retry_conflicts`: a write that still loses a race (another host, an external tool)
  is retried with backoff when the store says the conflict is retryable.
"""

from __future__ import annotations

import fcntl
import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
ATTEMPTS = 8


@contextmanager
def write_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def is_conflict(e: BaseException) -> bool:
    # LanceDB: "Retryable commit conflict for version N: This CreateIndex transaction was
    # preempted by concurrent transaction ..." / "Commit conflict for version N".
    msg = str(e).lower()
    return "commit conflict" in msg or "retryable" in msg and "conflict" in msg


def retry_conflicts(fn: Callable[[], T], what: str, attempts: int = ATTEMPTS) -> T:
    for i in range(attempts):
        try:
            return fn()
        except Exception as e:
            if not is_conflict(e) or i == attempts - 1:
                raise
            delay = min(0.05 * 2**i, 2.0) * (1 + random.random())
            log.warning("%s: commit conflict, retrying in %.2fs (%d/%d)", what, delay, i + 1, attempts - 1)
            time.sleep(delay)
    raise AssertionError("unreachable")
