"""`specbot worker [--processes N]`: a supervised pool of N non-forking RQ workers.

Why non-forking. RQ's default worker forks a work horse for every job; that fork
was most of the enqueue-to-start time (bench/queue_overhead.py measures both in
one run). Here each worker runs its jobs in its own process, forked once from a
parent that has already imported everything (`preload`).

What keeps the kill-mid-job guarantee without a horse:
- a worker beats (worker, execution and job heartbeats) from a thread every
  HEARTBEAT_EVERY_S with a short TTL, so a job whose worker died stops being
  "started" within HEARTBEAT_TTL_S, and RQ's own abandoned-job path
  (`StartedJobRegistry.cleanup`: failure callback, then retry or fail) takes it;
- the parent (the supervisor) reaps a dead worker at once, hands its job to that
  same RQ path without waiting for the TTL, and starts a new worker;
- the workers die with the parent, even when it is SIGKILLed (PR_SET_PDEATHSIG on
  Linux, a pipe watch elsewhere), so no orphan keeps working or holds a port; the
  next pool (or any other one on the same Redis) retries their jobs once their
  heartbeats lapse.
- retry backoff needs RQ's scheduler: the supervisor runs it in its own loop, not
  in a worker, so it is not lost with a worker.

A job stuck in C code past its timeout cannot be interrupted by RQ's SIGALRM; its
heartbeat thread then kills the worker (at timeout + HEARTBEAT_TTL_S), and the
supervisor retries the job like any other dead worker's.
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import logging
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType
from typing import Any

import redis
from rq import Queue, SimpleWorker, Worker
from rq.executions import WORKER_EXECUTIONS_KEY_TEMPLATE, Execution
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.scheduler import RQScheduler

from specbot.contracts import (
    ANSWERS_QUEUE,
    FEEDBACK_QUEUE,
    INDEX_QUEUE,
    SERIALIZER,
    answers_queue,
    feedback_queue,
    index_queue,
)
from specbot.errors import SpecbotError
from specbot.logs import redact_url
from specbot.process import stop_group
from specbot.redisconn import connect, redis_url

log = logging.getLogger("specbot.worker")

HEARTBEAT_EVERY_S = 5
HEARTBEAT_TTL_S = 20
# A worker is replaced after this many jobs: a long-lived process that runs every
# job would otherwise keep whatever memory a job leaked.
MAX_JOBS_PER_WORKER = 1000
# A worker that dies sooner than this after its start counts as crash-looping:
# its replacement waits (doubling, up to RESTART_BACKOFF_MAX_S).
FAST_DEATH_S = 5.0
RESTART_BACKOFF_MAX_S = 30.0
SUPERVISOR_TICK_S = 0.2
CLEANUP_EVERY_S = 5.0
QUEUES = (ANSWERS_QUEUE, FEEDBACK_QUEUE, INDEX_QUEUE)
PR_SET_PDEATHSIG = 1


class SpecbotWorker(SimpleWorker):
    """Runs each job in this process, beating from a thread so a dead worker is noticed fast."""

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        return HEARTBEAT_TTL_S

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        # RQ sends these three commands one by one, between taking a job and starting it:
        # one round trip instead of three (bench/queue_overhead.py).
        if pipeline is not None:
            super().heartbeat(timeout, pipeline=pipeline)
            return
        with self.connection.pipeline(transaction=False) as p:
            super().heartbeat(timeout, pipeline=p)
            p.execute()

    def execute_job(self, job: Job, queue: Queue) -> None:
        # The question ID tags this process's log lines; metrics are recorded after the job.
        from rq.worker import WorkerStatus

        from specbot import logs, metrics

        with logs.question(job.id):
            execution = self.prepare_execution(job)
            stop = threading.Event()
            beat = threading.Thread(
                target=self._beat, args=(job, execution, stop), name="specbot-heartbeat", daemon=True
            )
            beat.start()
            try:
                self.perform_job(job, queue, execution)
            finally:
                stop.set()
                beat.join(timeout=5)
            self.set_state(WorkerStatus.IDLE)
            metrics.observe_job(job)

    def _beat(self, job: Job, execution: Execution, stop: threading.Event) -> None:
        # Past its timeout (plus a grace) a job is stuck where SIGALRM cannot reach it.
        limit = time.monotonic() + (job.timeout or 0) + HEARTBEAT_TTL_S if job.timeout and job.timeout > 0 else None
        while not stop.wait(HEARTBEAT_EVERY_S):
            if limit is not None and time.monotonic() > limit:
                # The supervisor sees the death and hands the job to RQ's retry path.
                log.error("job %s overran its timeout where SIGALRM cannot reach; stopping this worker", job.id)
                os.kill(os.getpid(), signal.SIGKILL)
            try:
                self.maintain_heartbeats(job, execution)
            except redis.RedisError as e:  # Redis restarting: the next beat tries again
                log.warning("heartbeat for %s failed: %s", job.id, type(e).__name__)


def spawn_workers(
    env: dict[str, str], processes: int = 1, log: Path | None = None, timeout_s: float = 60.0
) -> subprocess.Popen:
    """Start `specbot worker -n N` in its own process group; return once all N listen.

    Used by the demo, the tests and the benchmarks; stop it with
    `specbot.process.stop_group`.
    """
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - lives as long as the workers
    proc = subprocess.Popen(
        [sys.executable, "-m", "specbot.cli", "worker", "--processes", str(processes)],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_for_workers(proc, env["REDIS_URL"], processes, timeout_s, log)
    return proc


def wait_for_workers(
    proc: subprocess.Popen, url: str, processes: int, timeout_s: float = 60.0, log: Path | None = None
) -> None:
    """Until `processes` workers of this pool (children of proc) listen on the answers queue."""
    conn = redis.Redis.from_url(url)
    q = Queue(ANSWERS_QUEUE, connection=conn, serializer=SERIALIZER)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            pids = {w.pid for w in Worker.all(queue=q)}
        except redis.RedisError:
            pids = set()
        try:
            import psutil

            mine = {c.pid for c in psutil.Process(proc.pid).children()}
        except Exception:  # the pool is gone: reported below
            mine = set()
        if len(pids & mine) >= processes:
            return
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_group(proc)
            where = f"; see {log}" if log else ""
            raise SpecbotError(f"workers did not start (exit {proc.returncode}){where}")
        time.sleep(0.1)


# --- one worker process ------------------------------------------------------------
def _die_with_parent(parent_pid: int, watch_fd: int) -> None:
    """Make this process go down with the supervisor, however it dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl")
    except (OSError, AttributeError):
        # Not Linux: watch a pipe whose write end only the parent holds; EOF = parent gone.
        def watch() -> None:
            with contextlib.suppress(OSError):
                os.read(watch_fd, 1)
            os.kill(os.getpid(), signal.SIGKILL)

        threading.Thread(target=watch, name="specbot-parent-watch", daemon=True).start()
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def _run_one(url: str, name: str, burst: bool, parent_pid: int, watch_fd: int) -> None:
    _die_with_parent(parent_pid, watch_fd)
    # `kill -USR1 <worker>` prints every thread's stack to the log: a stuck job explains itself.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    os.environ["REDIS_URL"] = url
    conn = connect()
    # Answers first; specs added from Slack last (indexing takes minutes, answers seconds).
    queues = [answers_queue(conn), feedback_queue(conn), index_queue(conn)]
    w = SpecbotWorker(queues, name=name, connection=conn, maintenance_interval=30, serializer=SERIALIZER)
    # The scheduler (retry backoff) runs in the supervisor, not here.
    w.work(burst=burst, with_scheduler=False, logging_level="WARNING", max_jobs=MAX_JOBS_PER_WORKER)


# --- the supervisor --------------------------------------------------------------------
@dataclass
class _Child:
    name: str
    process: BaseProcess
    started: float


def abandon_jobs_of(conn: redis.Redis, worker_name: str) -> list[str]:
    """A worker died: hand its jobs to RQ's abandoned-job path now (failure callback,
    then retry or fail), instead of when their heartbeats lapse. Returns the job IDs."""
    ids: list[str] = []
    members = [
        m.decode() if isinstance(m, bytes) else m
        for m in conn.smembers(WORKER_EXECUTIONS_KEY_TEMPLATE.format(worker_name))
    ]
    for composite in members:
        job_id, _, _ = composite.partition(":")
        try:
            job = Job.fetch(job_id, connection=conn, serializer=SERIALIZER)
        except Exception:  # gone already: nothing to retry
            continue
        registry = StartedJobRegistry(job.origin, connection=conn, serializer=SERIALIZER)
        # Expire this one entry (XX: only if it is still there), then let RQ clean it up.
        conn.zadd(registry.key, {composite: 0}, xx=True)
        if conn.zscore(registry.key, composite) is not None:
            ids.append(job_id)
    if ids:
        for name in QUEUES:
            StartedJobRegistry(name, connection=conn, serializer=SERIALIZER).cleanup()
    with contextlib.suppress(Exception):
        w = SpecbotWorker.find_by_key(f"{Worker.redis_worker_namespace_prefix}{worker_name}", connection=conn)
        if w is not None:
            w.register_death()
    return ids


class Supervisor:
    """Keeps N workers running, runs the retry scheduler, and recovers dead workers' jobs."""

    def __init__(self, url: str, processes: int, burst: bool = False) -> None:
        self.url = url
        self.processes = processes
        self.burst = burst
        self.pool_id = uuid.uuid4().hex[:8]
        self.conn = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10)
        self.children: dict[str, _Child] = {}
        self.stopping = False
        self.restarts = 0
        self._backoff = 0.0
        self._next_start = 0.0
        self._seq = 0
        self._ctx = mp.get_context("fork")
        # The read end goes to each child (pipe watch where prctl is missing); only we hold the write end.
        self._watch_r, self._watch_w = os.pipe()
        self.scheduler = RQScheduler(list(QUEUES), connection=self.conn, serializer=SERIALIZER, interval=1)

    def _start_child(self) -> None:
        self._seq += 1
        name = f"specbot-{os.uname().nodename}-{self.pool_id}-{self._seq}"
        p = self._ctx.Process(
            target=_run_one, args=(self.url, name, self.burst, os.getpid(), self._watch_r), name=name, daemon=False
        )
        p.start()
        self.children[name] = _Child(name, p, time.monotonic())

    def _reap(self) -> None:
        from specbot import metrics

        for name, child in list(self.children.items()):
            if child.process.is_alive():
                continue
            child.process.join(0)
            del self.children[name]
            code = child.process.exitcode
            with contextlib.suppress(Exception):
                metrics.process_dead(child.process.pid)
            if self.stopping or (self.burst and code == 0):
                continue
            try:
                jobs = abandon_jobs_of(self.conn, name)
            except redis.RedisError as e:  # its jobs' heartbeats lapse; cleanup takes them later
                log.error("could not recover the jobs of %s: %s", name, type(e).__name__)
                jobs = []
            if code == 0:
                log.warning("worker %s retired after %d jobs; replacing it", name, MAX_JOBS_PER_WORKER)
                continue
            self.restarts += 1
            log.error("worker %s died (exit %s)%s; replacing it", name, code, f", retrying {jobs}" if jobs else "")
            if time.monotonic() - child.started < FAST_DEATH_S:
                self._backoff = min(RESTART_BACKOFF_MAX_S, max(0.5, self._backoff * 2))
            else:
                self._backoff = 0.0
            self._next_start = time.monotonic() + self._backoff

    def _schedule(self) -> None:
        s = self.scheduler
        if not s.acquired_locks or s.should_reacquire_locks:
            s.acquire_locks()
        if s.acquired_locks:
            s.heartbeat()
            s.enqueue_scheduled_jobs()

    def _cleanup(self) -> None:
        # Jobs of workers that died with another pool (or with a SIGKILLed parent).
        for name in QUEUES:
            StartedJobRegistry(name, connection=self.conn, serializer=SERIALIZER).cleanup()

    def run(self) -> int:
        def stop(signum: int, _frame: FrameType | None) -> None:
            self.stopping = True
            for c in self.children.values():
                if c.process.is_alive() and c.process.pid:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(c.process.pid, signal.SIGTERM)  # RQ's warm shutdown: finish the job

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        for _ in range(self.processes):
            self._start_child()
        last_sched = last_clean = 0.0
        while self.children or not (self.stopping or self.burst):
            time.sleep(SUPERVISOR_TICK_S)
            self._reap()
            now = time.monotonic()
            if not self.stopping and not self.burst:
                while len(self.children) < self.processes and now >= self._next_start:
                    self._start_child()
            try:
                if now - last_sched >= 1.0:
                    last_sched = now
                    self._schedule()
                if now - last_clean >= CLEANUP_EVERY_S:
                    last_clean = now
                    self._cleanup()
            except redis.RedisError as e:  # Redis restarting: the workers wait for it too
                log.warning("supervisor: Redis unavailable (%s)", type(e).__name__)
        with contextlib.suppress(Exception):
            self.scheduler.release_locks()
        return 0


def preload() -> None:
    """Import heavy modules once in the parent so the forked workers share them.

    Without this every worker paid ~3 s importing lancedb/pyarrow before its first
    search. Only imports happen here, no index I/O, so the fork-safety caveat
    lancedb warns about (state mid-operation at fork) cannot apply.
    """
    import warnings

    # Every answer is recorded; importing the feedback store and Alembic here
    # saves each worker that cost. No connection is opened before the fork.
    import alembic.command
    import alembic.config
    import alembic.runtime.migration
    import alembic.script  # noqa: F401

    import feedback.store  # noqa: F401
    import workers.answer
    import workers.jobs  # noqa: F401
    from indexer.embedder import get_embedder
    from specbot.settings import get_settings

    warnings.filterwarnings("ignore", message="lancedb fork support is experimental")
    s = get_settings()
    if s.weaviate_url:
        import indexer.store.weaviate_store
    else:
        import indexer.store.lance  # noqa: F401
    get_embedder(s.embedding_model)


def run_workers(processes: int = 1, burst: bool = False) -> int:
    from specbot import logs, metrics

    logs.setup("worker")
    metrics.start_worker_server()  # one /metrics for all N processes (multiprocess mode)
    url = redis_url(embedded_ok=False)
    connect()  # fail fast with one clear line if Redis is unreachable
    from workers.llm import check_model

    check_model()
    preload()
    log.warning("starting %d worker(s) on %s", processes, redact_url(url))
    return Supervisor(url, max(1, processes), burst).run()
