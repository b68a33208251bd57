"""`specbot worker [--processes N]`: N RQ workers with the scheduler (for retry backoff).

vLLM batches concurrent requests, so one host runs many workers; each is a
light process (the default embedder is a hashing function, nothing to load),
forked from a parent that has already imported everything once.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

import redis
from rq import Queue, Worker
from rq.job import Job

from specbot.contracts import ANSWERS_QUEUE, SERIALIZER, answers_queue, feedback_queue, index_queue
from specbot.errors import SpecbotError
from specbot.logs import redact_url
from specbot.process import stop_group
from specbot.redisconn import connect, redis_url

log = logging.getLogger("specbot.worker")


class SpecbotWorker(Worker):
    def execute_job(self, job: Job, queue: Queue) -> None:
        # The question ID tags this process's log lines and, through fork, the work horse's.
        # Metrics are recorded here, in the long-lived process, once the horse has exited.
        from specbot import logs, metrics

        with logs.question(job.id):
            super().execute_job(job, queue)
            metrics.observe_job(job)

    def handle_work_horse_killed(self, job: Job, retpid: int, ret_val: int, rusage: Any) -> None:
        # RQ retries a job whose work horse died, but runs no failure callback;
        # when no retry is left, the asker must still get an error answer.
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        if not (job.retries_left and job.retries_left > 0):
            from workers.jobs import final_failure

            final_failure(job, self.connection, RuntimeError("work horse died"))


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
    conn = redis.Redis.from_url(env["REDIS_URL"])
    q = Queue(ANSWERS_QUEUE, connection=conn, serializer=SERIALIZER)
    deadline = time.monotonic() + timeout_s
    while Worker.count(queue=q) < processes:
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_group(proc)
            where = f"; see {log}" if log else ""
            raise SpecbotError(f"workers did not start (exit {proc.returncode}){where}")
        time.sleep(0.2)
    return proc


def _run_one(url: str, burst: bool) -> None:
    os.environ["REDIS_URL"] = url
    conn = connect()
    # Answers first; specs added from Slack last (indexing takes minutes, answers seconds).
    queues = [answers_queue(conn), feedback_queue(conn), index_queue(conn)]
    w = SpecbotWorker(queues, connection=conn, maintenance_interval=30, serializer=SERIALIZER)
    w.work(burst=burst, with_scheduler=True, logging_level="WARNING")


def preload() -> None:
    """Import heavy modules once in the parent so forked workers share them.

    RQ forks a work horse per job; without this every job paid ~3 s importing
    lancedb/pyarrow before its first search (measured: 3.2 s -> 0.015 s to open
    the index in the horse). Only imports happen here, no index I/O, so the
    fork-safety caveat lancedb warns about (state mid-operation at fork) cannot apply.
    """
    import warnings

    # Every horse records its answer; importing the feedback store and Alembic
    # (which checks the schema on first use in each process) here cut that from
    # ~0.6 s to ~0.03 s per job. No connection is opened before the fork.
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
    if processes == 1:
        _run_one(url, burst)
        return 0
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_run_one, args=(url, burst), daemon=False) for _ in range(processes)]
    for p in procs:
        p.start()

    def stop(signum: int, _frame: FrameType | None) -> None:
        for p in procs:
            if p.is_alive() and p.pid:
                os.kill(p.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while any(p.is_alive() for p in procs):
            time.sleep(0.5)
    finally:
        for p in procs:
            p.join(timeout=10)
    return 0
