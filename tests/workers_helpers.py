"""Helpers for tests that run real worker processes."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from specbot.process import stop_group
from workers.runner import spawn_workers


@contextmanager
def worker_process(env: dict[str, str], processes: int = 1, log: Path | None = None) -> Iterator[subprocess.Popen]:
    """A real `specbot worker` in its own process group, stopped afterwards."""
    proc = spawn_workers({**os.environ, **env}, processes=processes, log=log)
    try:
        yield proc
    finally:
        stop_group(proc)
