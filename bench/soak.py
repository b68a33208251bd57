"""Soak: N questions through the real bot, queue and worker pool while things get killed.

    nice .venv/bin/python bench/soak.py [--n 1000] [--workers 8] [--rate 5] [--model-delay 0.5]

What runs (all real processes except Slack and the model):
- the soak's own `redis-server` on a spare port, AOF on (appendfsync everysec);
- `specbot bot` in HTTP mode, receiving signed Slack events (`app_mention`);
- `specbot worker -n 8` (the supervised pool), restarted by this script when killed,
  as systemd or Kubernetes would;
- the FAKE Slack Web API (tests/fakes/slack_fake.py), which records every post and edit;
- a STUB OpenAI-compatible model server (tests/fakes/openai_stub.py) that answers after
  a fixed delay at no CPU cost, so worker CPU is the bot/queue/worker's own.
Faults during the run: SIGKILL a random busy worker every `--kill-every` s, SIGKILL the
pool parent once (at 40 % of the questions), restart Redis once (at 70 %).

Reported: answered exactly once / lost / answered twice (goal N / 0 / 0), peak RSS per
process, ack-to-answer p50/p99, worker CPU per answer (model out of the path).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.openai_stub import OpenAIStub  # noqa: E402
from tests.fakes.slack_fake import FakeSlack, SlackSender, mention, new_ts  # noqa: E402

SECRET = "soak-signing-secret"
CHANNEL = "C0SOAK01"
ANSWER = "The maximum brake pedal force is 500 N according to REQ-BRK-0042 in section 3.1."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


class RedisServer:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.dir = workdir / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
             "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        c = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 30
        while True:
            try:
                if c.ping():
                    return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def restart(self) -> float:
        """SHUTDOWN (the AOF is flushed), start again on the same port; returns the downtime."""
        assert self.proc is not None
        t0 = time.monotonic()
        with contextlib.suppress(redis.RedisError):  # SHUTDOWN closes the connection: expected
            redis.Redis.from_url(self.url).shutdown()
        self.proc.wait(timeout=30)
        self.start()
        return time.monotonic() - t0

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


class Sampler(threading.Thread):
    """Peak RSS per role and the CPU time of every worker process it saw."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.roles: dict[int, str] = {}
        self.peak: dict[str, int] = {}
        self.cpu: dict[int, float] = {}  # worker pid -> user+system seconds since first seen
        self._cpu0: dict[int, float] = {}  # first sighting: start-up (imports) is not per-answer work
        self.stop = threading.Event()
        self.pool_pid: int | None = None

    def run(self) -> None:
        while not self.stop.wait(0.25):
            self.sample()

    def sample(self) -> None:
        pids = dict(self.roles)
        if self.pool_pid:
            try:
                for c in psutil.Process(self.pool_pid).children():
                    pids[c.pid] = "worker"
            except psutil.Error:
                pass
        for pid, role in pids.items():
            try:
                p = psutil.Process(pid)
                rss = p.memory_info().rss
                t = p.cpu_times()
            except psutil.Error:
                continue
            self.peak[role] = max(self.peak.get(role, 0), rss)
            if role in ("worker", "pool"):
                spent = t.user + t.system
                self._cpu0.setdefault(pid, spent)
                self.cpu[pid] = spent - self._cpu0[pid]


def start_pool(env: dict[str, str], workers: int, log: Path) -> subprocess.Popen:
    from workers.runner import spawn_workers

    return spawn_workers(env, processes=workers, log=log, timeout_s=120)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--rate", type=float, default=5.0, help="questions per second")
    ap.add_argument("--model-delay", type=float, default=0.5)
    ap.add_argument("--kill-every", type=float, default=30.0)
    ap.add_argument("--settle", type=float, default=300.0, help="seconds to wait for the last answers")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--kill-pool-at", type=float, default=0.4, help="fraction of the questions; <0: never")
    ap.add_argument("--restart-redis-at", type=float, default=0.7, help="fraction of the questions; <0: never")
    a = ap.parse_args()
    random.seed(a.seed)

    work = Path(tempfile.mkdtemp(prefix="specbot-soak-"))
    data = work / "data"
    print(f"soak: n={a.n} workers={a.workers} rate={a.rate}/s model delay={a.model_delay}s in {work}", flush=True)
    rs = RedisServer(work)
    rs.start()
    slack = FakeSlack()
    slack.start()
    llm = OpenAIStub(answer=ANSWER, delay_s=a.model_delay).start()
    for srv in (slack.server, llm.server):  # clients closing keep-alive sockets: not news
        srv.handle_error = lambda *_: None  # type: ignore[method-assign]
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SPECBOT_DATA_DIR": str(data),
        "REDIS_URL": rs.url,
        "LLM_BASE_URL": llm.url,
        "SLACK_BOT_TOKEN": "xoxb-soak",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.url,
        "SLACK_RATE_LIMIT": "1000000",
        "QUEUE_MAX_LENGTH": "0",
        "METRICS_PORT": "0",
        "LOG_LEVEL": "WARNING",
        "SLACK_STREAM_INTERVAL_S": "1",
    }
    env.pop("SLACK_APP_TOKEN", None)
    # The index the workers search: the sample spec.
    idx = subprocess.run(
        [sys.executable, "-c", "from specbot.sample_spec import make_sample_spec, SAMPLE_NAME;"
         f"from indexer.pipeline import index_paths; p = make_sample_spec(__import__('pathlib').Path({str(work)!r}) / SAMPLE_NAME);"  # noqa: E501
         "r = index_paths([p], progress=False); assert r[0].status == 'indexed', r[0].error"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    if idx.returncode != 0:
        print(idx.stderr, file=sys.stderr)
        return 1

    port = free_port()
    bot = subprocess.Popen(
        [sys.executable, "-m", "specbot.cli", "bot", "--port", str(port)],
        env=env, stdout=open(work / "bot.log", "ab"), stderr=subprocess.STDOUT,  # noqa: SIM115
    )  # fmt: skip
    sender = SlackSender(f"http://127.0.0.1:{port}", SECRET)
    deadline = time.monotonic() + 60
    while True:
        try:
            if sender.http.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                break
        except Exception:
            pass
        if time.monotonic() > deadline or bot.poll() is not None:
            print(f"bot did not start; see {work / 'bot.log'}", file=sys.stderr)
            return 1
        time.sleep(0.2)

    pool = start_pool(env, a.workers, work / "worker.log")
    sampler = Sampler()
    sampler.roles = {bot.pid: "bot", pool.pid: "pool", rs.proc.pid if rs.proc else 0: "redis"}
    sampler.pool_pid = pool.pid
    sampler.start()
    sampler.sample()  # the CPU baseline of the pool, after its start-up

    acked: dict[str, float] = {}  # question ts -> when the bot's HTTP 200 came back
    refused: list[str] = []
    events: list[str] = []
    killed_pool = restarted_redis = False
    next_kill = time.monotonic() + a.kill_every
    t_start = time.monotonic()
    try:
        for i in range(a.n):
            target = t_start + i / a.rate
            while time.monotonic() < target:
                time.sleep(min(0.01, target - time.monotonic()))
            now = time.monotonic()
            if now >= next_kill:
                next_kill = now + a.kill_every
                busy = [
                    c for c in psutil.Process(pool.pid).children()
                    if "Processing" in " ".join(_cmd(c))
                ]  # fmt: skip
                if busy:
                    v = random.choice(busy)
                    os.kill(v.pid, signal.SIGKILL)
                    events.append(f"{now - t_start:6.1f}s killed busy worker {v.pid}")
            if not killed_pool and 0 <= a.kill_pool_at * a.n <= i:
                killed_pool = True
                os.kill(pool.pid, signal.SIGKILL)
                pool.wait()
                events.append(f"{time.monotonic() - t_start:6.1f}s killed the pool parent {pool.pid}")
                pool = start_pool(env, a.workers, work / "worker.log")  # what systemd/k8s would do
                sampler.roles[pool.pid] = "pool"
                sampler.pool_pid = pool.pid
                events.append(f"{time.monotonic() - t_start:6.1f}s new pool {pool.pid} listening")
            if not restarted_redis and 0 <= a.restart_redis_at * a.n <= i:
                restarted_redis = True
                down = rs.restart()
                if rs.proc:
                    sampler.roles[rs.proc.pid] = "redis"
                events.append(f"{time.monotonic() - t_start:6.1f}s restarted Redis (down {down:.2f}s)")
            ts = new_ts()
            try:
                r = sender.event(mention(f"What is the maximum brake pedal force? (#{i})", channel=CHANNEL, ts=ts))
                if r.status_code == 200:
                    acked[ts] = time.monotonic()
                else:
                    refused.append(ts)
            except Exception:
                refused.append(ts)
        sent_s = time.monotonic() - t_start
        print(f"sent {a.n} in {sent_s:.0f}s; waiting for the answers", flush=True)
        settle_deadline = time.monotonic() + a.settle
        while time.monotonic() < settle_deadline and len(final_answers(slack)) < len(acked):
            time.sleep(1)
    finally:
        sampler.stop.set()
        sampler.join(timeout=5)
        sampler.sample()
        from specbot.process import stop_group

        stop_group(pool)
        bot.terminate()
        bot.wait(timeout=30)
        sender.close()

    # --- the figures ---------------------------------------------------------------
    posts: dict[str, list[Any]] = {}
    for c in slack.of("chat.postMessage"):
        if c.params.get("channel") == CHANNEL and c.params.get("thread_ts"):
            posts.setdefault(c.params["thread_ts"], []).append(c)
    finals = final_answers(slack)
    once = twice = lost = errors = 0
    lost_ts: list[str] = []
    latencies: list[float] = []
    for ts in list(acked) + refused:
        n_posts = len(posts.get(ts, []))
        if n_posts > 1:
            twice += 1
        elif ts in finals and n_posts == 1:
            once += 1
            if ts in acked:
                latencies.append(finals[ts] - acked[ts])
        else:
            lost += 1
            lost_ts.append(ts)
            msgs = [slack.messages.get((CHANNEL, p.response.get("ts"))) for p in posts.get(ts, [])]
            if any(m and "could not answer" in str(m.get("text")) for m in msgs):
                errors += 1
    cpu = sum(sampler.cpu.values())
    print("\n--- soak results (machine shared with other work: figures are indicative) ---")
    for e in events:
        print(" ", e)
    print(f"questions            : {a.n} (acked {len(acked)}, refused by the bot {len(refused)})")
    print(f"answered exactly once: {once}")
    print(f"lost                 : {lost} (of which error answers: {errors})")
    print(f"answered twice       : {twice}")
    print(f"ack -> answer        : p50 {pct(latencies, 50):.2f}s  p99 {pct(latencies, 99):.2f}s "
          f"(model delay {a.model_delay}s)")  # fmt: skip
    print(f"worker CPU per answer: {cpu / max(once, 1) * 1e3:.1f} ms (all worker + pool processes, model stubbed)")
    for role in ("bot", "pool", "worker", "redis"):
        if role in sampler.peak:
            print(
                f"peak RSS {role:<7}     : {sampler.peak[role] / 2**20:.0f} MiB"
                + (" (largest worker)" if role == "worker" else "")
            )
    print(f"model requests       : {llm.requests}")
    _explain(lost_ts, rs.url, slack)
    llm.stop()
    slack.stop()
    rs.stop()
    ok = once == a.n and not twice
    if ok:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"logs kept in {work}")
        sample = [m.get("text") for (ch, _), m in list(slack.messages.items())[:3] if ch == CHANNEL]
        print(f"messages seen (first 3): {sample}")
    return 0 if ok else 1


def _explain(lost: list[str], url: str, slack: FakeSlack) -> None:
    """Where each lost question got stuck: its job and what its thread shows."""
    from specbot.contracts import fetch_job, job_id_for
    from tests.fakes.slack_fake import TEAM_ID

    conn = redis.Redis.from_url(url)
    for ts in lost[:10]:
        jid = job_id_for(TEAM_ID, CHANNEL, ts)
        try:
            job = fetch_job(conn, jid)
            state = f"{job.get_status()} retries_left={job.retries_left}"
        except Exception as e:
            state = f"no job ({type(e).__name__})"
        texts = [str(c.params.get("text"))[:80] for c in slack.calls if c.params.get("thread_ts") == ts]
        print(f"  lost {ts}: job {jid} {state}; thread: {texts}")


def final_answers(slack: FakeSlack) -> dict[str, float]:
    """thread ts -> when the final answer (with its footer) first reached Slack."""
    by_msg: dict[str, str] = {}
    for c in slack.of("chat.postMessage"):
        if c.params.get("channel") == CHANNEL and c.response.get("ts"):
            by_msg[c.response["ts"]] = c.params.get("thread_ts", "")
    out: dict[str, float] = {}
    for c in slack.of("chat.postMessage") + slack.of("chat.update"):
        if c.params.get("channel") != CHANNEL or "Answered by" not in str(c.params.get("blocks")):
            continue
        thread = c.params.get("thread_ts") or by_msg.get(str(c.params.get("ts")), "")
        if thread and (thread not in out or c.at < out[thread]):
            out[thread] = c.at
    return out


def _cmd(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []


if __name__ == "__main__":
    sys.exit(main())
