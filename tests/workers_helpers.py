"""Helpers for tests that run real worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path


@contextmanager
def worker_process(env: dict[str, str], processes: int = 1, log: Path | None = None) -> Iterator[subprocess.Popen]:
    """A real `specbot worker` in its own process group, stopped afterwards."""
    import redis
    from rq import Queue, Worker

    full_env = {**os.environ, **env}
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "specbot"), "worker", "--processes", str(processes)],
        env=full_env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    conn = redis.Redis.from_url(full_env["REDIS_URL"])
    deadline = time.monotonic() + 60
    while Worker.count(queue=Queue("answers", connection=conn)) < processes:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"worker did not start (exit {proc.poll()})")
        time.sleep(0.2)
    try:
        yield proc
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
