"""The interactive parts of the Slack bot, timed.

1. Ack latency of `block_actions` (👍 and Sources presses, signed like Slack's)
   against the real app (bot/app.py: Bolt + our listeners + Redis) and against a
   bare Bolt app that only acks, on the same HTTP server, interleaved in the same
   run: p50/p99 and the ratio real/bare. The real app's after-ack work (queueing a
   ButtonVote, reading the sources) goes to a scratch Redis DB and a FAKE Slack.
2. "Try another answer" with the local model: from the press to the second answer
   (final message) and to the "Which is better?" message, through the real bot,
   Redis and a real `specbot worker` talking to vLLM; the baseline is the first
   answer to the same question in the same run (mention -> answer). Skipped with
   a note when no model server answers at --llm.

    .venv/bin/python bench/slack_actions.py [--n 300] [--tries 3] [--llm http://127.0.0.1:8000/v1]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ack_latency import SECRET, TOKEN, _fake_slack, pct, serve_bot, start  # noqa: E402

QUESTIONS = [
    "What is the maximum brake pedal force?",
    "What happens if the pedal travel sensor fails?",
    "How long is the debounce time of the brake light switch?",
    "What is the operating voltage range?",
    "Which requirement covers the brake light?",
]


def _ack_every_button(app: Any) -> None:  # the baseline for block_actions
    app.action(re.compile(".*"))(lambda ack: ack())


def press_body(action_id: str, i: int, tag: str) -> str:
    from specbot.slack.views import answer_value
    from tests.fakes.slack_fake import block_actions

    msg = {"ts": f"1700000000.{i:06d}", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}]}
    payload = block_actions(action_id, answer_value(f"ans-bench-{i}", "en"), user=f"U{tag}{i:06d}", message=msg)
    return urlencode({"payload": json.dumps(payload)})


def measure_acks(client: httpx.Client, urls: dict[str, str], action_id: str, n: int, gap_s: float) -> dict:
    from tests.fakes.slack_fake import sign

    out: dict[str, list[float]] = {app: [] for app in urls}
    for i in range(n):
        for app in ("bare", "real") if i % 2 == 0 else ("real", "bare"):
            body = press_body(action_id, i, f"{app[0]}{action_id[-2:]}")
            headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(SECRET, body)}
            t0 = time.perf_counter()
            r = client.post(urls[app] + "/slack/events", content=body, headers=headers)
            out[app].append(time.perf_counter() - t0)
            if r.status_code != 200:
                raise SystemExit(f"{app} {action_id}: HTTP {r.status_code} {r.text[:200]}")
            if gap_s:
                time.sleep(gap_s)
    return out


def bench_acks(a: argparse.Namespace) -> dict[str, Any]:
    from specbot.slack import views

    conn = redis.Redis.from_url(a.redis)
    conn.flushdb()
    data_dir = tempfile.mkdtemp(prefix="specbot-bench-")
    fake_p, api_url = start(_fake_slack)
    real_p, real_port = start(serve_bot, api_url, a.redis, data_dir, None)
    bare_p, bare_port = start(serve_bot, api_url, a.redis, data_dir, _ack_every_button)
    urls = {"real": f"http://127.0.0.1:{real_port}", "bare": f"http://127.0.0.1:{bare_port}"}
    report: dict[str, Any] = {}
    try:
        with httpx.Client(timeout=10) as client:
            for action_id in (views.VOTE_UP, views.SOURCES):
                measure_acks(client, urls, action_id, a.warmup, 0.0)
                got = measure_acks(client, urls, action_id, a.n, a.gap_ms / 1000)
                row: dict[str, Any] = {}
                for app in ("bare", "real"):
                    xs = [x * 1000 for x in got[app]]
                    row[app] = {"p50": round(pct(xs, 50), 3), "p99": round(pct(xs, 99), 3),
                                "mean": round(statistics.mean(xs), 3)}  # fmt: skip
                row["ratio_p50"] = round(row["real"]["p50"] / row["bare"]["p50"], 3)
                row["ratio_p99"] = round(row["real"]["p99"] / row["bare"]["p99"], 3)
                report[action_id] = row
    finally:
        for p in (real_p, bare_p, fake_p):
            p.terminate()
        conn.flushdb()
    print(f"block_actions ack latency over {a.n} signed presses each, {a.gap_ms:g} ms apart (ms)")
    print(f"{'':30}{'p50':>8}{'p99':>8}{'mean':>8}")
    for action_id, row in report.items():
        for app in ("bare", "real"):
            label = f"{action_id.removeprefix('specbot_')} {'bare Bolt' if app == 'bare' else 'specbot'}"
            print(f"{label:30}{row[app]['p50']:8.2f}{row[app]['p99']:8.2f}{row[app]['mean']:8.2f}")
        print(f"{action_id.removeprefix('specbot_') + ' ratio':30}{row['ratio_p50']:8.2f}{row['ratio_p99']:8.2f}")
    return report


def bench_try_another(a: argparse.Namespace) -> dict[str, Any] | None:
    try:
        httpx.get(a.llm.rstrip("/") + "/models", timeout=5).raise_for_status()
    except httpx.HTTPError as e:
        print(f"try-another: skipped, no model server at {a.llm} ({type(e).__name__})")
        return None
    data_dir = tempfile.mkdtemp(prefix="specbot-bench-ta-")
    env = {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "REDIS_URL": a.redis,
           "SPECBOT_DATA_DIR": data_dir, "LLM_BASE_URL": a.llm, "SLACK_RATE_LIMIT": "1000000"}  # fmt: skip
    from tests.fakes.slack_fake import FakeSlack

    fake = FakeSlack().start()
    env["SLACK_API_URL"] = fake.url
    os.environ.update(env)
    from bot.app import build_app, serve_http, start_in_thread
    from indexer.pipeline import index_paths
    from specbot.contracts import alternative_job_id, job_id_for
    from specbot.process import stop_group
    from specbot.sample_spec import SAMPLE_NAME, make_sample_spec
    from specbot.settings import get_settings, reset_settings
    from specbot.slack import views
    from tests.fakes.slack_fake import TEAM_ID, SlackSender, block_actions, mention
    from workers.jobs import ANSWERED
    from workers.runner import spawn_workers

    reset_settings()
    conn = redis.Redis.from_url(a.redis)
    conn.flushdb()
    index_paths([make_sample_spec(Path(data_dir) / "specs" / SAMPLE_NAME)], progress=False)
    server = serve_http(build_app(get_settings()), "127.0.0.1", 0)
    start_in_thread(server)
    send = SlackSender(f"http://127.0.0.1:{server.server_address[1]}", SECRET)
    workers = spawn_workers({**os.environ, **env}, processes=1, log=Path(data_dir) / "worker.log")

    def wait(pred: Any, timeout: float = 600.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if v := pred():
                return v
            time.sleep(0.01)
        raise SystemExit("try-another: timed out (see the worker log in " + data_dir + ")")

    first, second, ab = [], [], []
    try:
        for i in range(a.tries):
            ev = mention(QUESTIONS[i % len(QUESTIONS)])
            t0 = time.perf_counter()
            send.event(ev)
            job_a = job_id_for(TEAM_ID, "C0CHAN01", ev["ts"])
            wait(lambda j=job_a: conn.get(ANSWERED.format(j)))
            first.append(time.perf_counter() - t0)
            a_ts = json.loads(conn.get(ANSWERED.format(job_a)))["message_ts"]
            msg = fake.messages[("C0CHAN01", a_ts)]
            value = views.answer_value(job_a, "en")
            payload = block_actions(views.TRY_ANOTHER, value, message={"ts": a_ts, **msg}, thread_ts=ev["ts"])
            n_posts = len(fake.of("chat.postMessage"))
            t0 = time.perf_counter()
            send.interaction(payload)
            job_b = alternative_job_id(job_a)
            wait(lambda j=job_b: conn.get(ANSWERED.format(j)))
            second.append(time.perf_counter() - t0)
            wait(lambda n=n_posts: any(views.AB_BLOCK in json.dumps(c.params.get("blocks"))
                                       for c in fake.of("chat.postMessage")[n:]))  # fmt: skip
            ab.append(time.perf_counter() - t0)
    finally:
        stop_group(workers)
        send.close()
        server.shutdown()
        fake.stop()
        conn.flushdb()
    row = {
        "tries": a.tries,
        "first_answer_s": [round(x, 2) for x in first],
        "second_answer_s": [round(x, 2) for x in second],
        "which_is_better_s": [round(x, 2) for x in ab],
        "median_first_s": round(statistics.median(first), 2),
        "median_second_s": round(statistics.median(second), 2),
        "ratio_second_to_first": round(statistics.median(second) / statistics.median(first), 3),
    }
    print(f"try another answer with the local model ({a.llm}), {a.tries} questions:")
    print(f"  first answer (mention -> answer)         median {row['median_first_s']:.2f} s  {row['first_answer_s']}")
    print(
        f"  Try another -> second answer              median {row['median_second_s']:.2f} s  {row['second_answer_s']}"
    )
    print(f"  Try another -> 'Which is better?'        {row['which_is_better_s']}")
    print(f"  ratio second/first (median)              {row['ratio_second_to_first']:.2f}")
    return row


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--gap-ms", type=float, default=10.0)
    ap.add_argument("--tries", type=int, default=3)
    ap.add_argument("--llm", default=os.environ.get("SPECBOT_TEST_LLM_URL") or "http://127.0.0.1:8000/v1")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/11")
    ap.add_argument("--skip-llm", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "slack_actions.json"))
    a = ap.parse_args()
    report: dict[str, Any] = {"n": a.n, "gap_ms": a.gap_ms, "unit": "ms", "acks": bench_acks(a)}
    if not a.skip_llm:
        report["try_another"] = bench_try_another(a)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(report, indent=2))
    print(f"written to {a.out}")
    return 0


if __name__ == "__main__":
    mp.set_start_method("fork", force=True)
    sys.exit(main())
