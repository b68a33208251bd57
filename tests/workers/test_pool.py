"""`specbot worker -n N` supervises its workers: real Redis, real worker processes."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil
import pytest
import redis
from rq import Worker

from specbot.contracts import answers_queue
from tests.conftest import free_port
from tests.waiting import wait_until
from tests.workers_helpers import worker_process


def _env(redis_url: str) -> dict[str, str]:
    # No model is needed to supervise: nothing listens at this LLM URL.
    return {"REDIS_URL": redis_url, "LLM_BASE_URL": f"http://127.0.0.1:{free_port()}/v1", "METRICS_PORT": "0"}


def _workers(proc_pid: int) -> list[psutil.Process]:
    return [c for c in psutil.Process(proc_pid).children() if c.status() != psutil.STATUS_ZOMBIE]


def test_a_dead_worker_is_replaced(redis_url: str, tmp_path: Path) -> None:
    conn = redis.Redis.from_url(redis_url)
    with worker_process(_env(redis_url), processes=2, log=tmp_path / "w.log") as proc:
        before = {p.pid for p in _workers(proc.pid)}
        assert len(before) == 2
        victim = sorted(before)[0]
        os.kill(victim, signal.SIGKILL)
        # A new worker process takes its place, and registers with Redis.
        wait_until(lambda: len({p.pid for p in _workers(proc.pid)} - before) == 1, timeout=60, interval=0.1)
        live = {p.pid for p in _workers(proc.pid)}
        assert victim not in live and len(live) == 2
        wait_until(lambda: {w.pid for w in Worker.all(queue=answers_queue(conn))} >= live, timeout=60, interval=0.1)


def test_workers_go_down_with_a_sigkilled_parent(redis_url: str, tmp_path: Path) -> None:
    with worker_process(_env(redis_url), processes=2, log=tmp_path / "w.log") as proc:
        children = _workers(proc.pid)
        assert len(children) == 2
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        # Without a supervisor watch they would live on under PID 1, holding the metrics port.
        gone, alive = psutil.wait_procs(children, timeout=30)
        for p in alive:
            p.kill()
        assert not alive, f"workers outlived their parent: {[p.pid for p in alive]}"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_pool_stops_its_workers_on_sigterm_and_sigint(redis_url: str, tmp_path: Path, sig: int) -> None:
    with worker_process(_env(redis_url), processes=2, log=tmp_path / "w.log") as proc:
        children = _workers(proc.pid)
        os.kill(proc.pid, sig)
        assert proc.wait(timeout=60) == 0
        _, alive = psutil.wait_procs(children, timeout=30)
        assert not alive
