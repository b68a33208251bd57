"""Ack latency of the Slack bot: how fast Slack gets its HTTP 200.

500 signed `app_mention` events and 500 `/spec` commands against the real app
(bot/app.py: Bolt + our listeners + Redis, served by the bot's HTTP server),
and the same against a bare Bolt app that only acks, on the same server, in
the same run. Reported as p50/p99 and the ratio real/bare.

Each app runs in its own process; the Web API calls the real app makes after
acking go to the FAKE Slack server (tests/fakes/slack_fake.py) in a third process.
The real app enqueues real jobs in a scratch Redis DB (flushed before and after).

    .venv/bin/python bench/ack_latency.py [--n 500] [--redis redis://127.0.0.1:6379/11]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench-token"


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def _fake_slack(conn: Any) -> None:
    from tests.fakes.slack_fake import FakeSlack

    fake = FakeSlack().start()
    conn.send(fake.url)
    conn.recv()  # until the parent says stop
    fake.stop()


def serve_bot(api_url: str, redis_url: str, data_dir: str, bare: Callable[[Any], None] | None, conn: Any) -> None:
    """Serve the real app (bot/app.py) when `bare` is None; otherwise the baseline: a bare
    Bolt app (same Bolt version, same signature check, same HTTP server) whose only
    listeners are the ones `bare` adds, each of which only acks. Sends its port on `conn`."""
    os.environ.update(
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=api_url,
        REDIS_URL=redis_url,
        SPECBOT_DATA_DIR=data_dir,
        SLACK_RATE_LIMIT="1000000",
    )
    import logging

    logging.basicConfig(level=logging.ERROR)
    from slack_bolt import App

    from bot.app import build_app, redis_factory, serve_http
    from specbot.settings import get_settings
    from specbot.slack.client import web_client

    s = get_settings()
    if bare is None:
        app = build_app(s, redis_factory(s))
    else:
        app = App(client=web_client(s), signing_secret=SECRET, process_before_response=True)
        bare(app)
    server = serve_http(app, "127.0.0.1", 0, s)
    conn.send(server.server_address[1])
    server.serve_forever()


def _ack_mentions_and_commands(app: Any) -> None:  # the baseline for events and /spec
    app.event("app_mention")(lambda ack: ack())
    app.command("/spec")(lambda ack: ack("Looking it up…"))


def start(target, *args) -> tuple[mp.Process, Any]:
    parent, child = mp.Pipe()
    p = mp.get_context("fork").Process(target=target, args=(*args, child), daemon=True)
    p.start()
    return p, parent.recv()


def request(kind: str, i: int, tag: str) -> tuple[str, str]:
    from tests.fakes.slack_fake import command_body, event_body, mention

    if kind == "mention":
        return json.dumps(event_body(mention(f"what is REQ-{i}?", user=f"U{tag}{i:06d}"))), "application/json"
    return command_body(f"what is REQ-{i}?", user=f"U{tag}{i:06d}"), "application/x-www-form-urlencoded"


def measure(client: httpx.Client, urls: dict[str, str], kind: str, n: int, gap_s: float) -> dict[str, list[float]]:
    """Interleaved (bare, real, real, bare, …) so both apps see the same machine load."""
    from tests.fakes.slack_fake import sign

    out: dict[str, list[float]] = {app: [] for app in urls}
    for i in range(n):
        order = ("bare", "real") if i % 2 == 0 else ("real", "bare")
        for app in order:
            body, ctype = request(kind, i, f"{app[0]}{kind[0]}{n}")
            headers = {"Content-Type": ctype, **sign(SECRET, body)}
            t0 = time.perf_counter()
            r = client.post(urls[app] + "/slack/events", content=body, headers=headers)
            out[app].append(time.perf_counter() - t0)
            if r.status_code != 200:
                raise SystemExit(f"{app} {kind}: HTTP {r.status_code} {r.text[:200]}")
            if gap_s:
                time.sleep(gap_s)
    return out


def drain(conn: redis.Redis, expected: int, timeout: float = 60.0) -> None:
    """Wait until the real app's lazy listeners have queued everything (they compete for CPU)."""
    deadline = time.monotonic() + timeout
    while conn.llen("rq:queue:answers") < expected and time.monotonic() < deadline:
        time.sleep(0.1)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--warmup", type=int, default=50)
    # Slack delivers a workspace's events far apart; back to back (0) also measures
    # the previous request's after-ack work competing for the same CPU.
    ap.add_argument("--gap-ms", type=float, default=10.0, help="pause between requests")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/11")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "ack_latency.json"))
    a = ap.parse_args()

    import tempfile

    conn = redis.Redis.from_url(a.redis)
    conn.flushdb()
    data_dir = tempfile.mkdtemp(prefix="specbot-bench-")
    fake_p, api_url = start(_fake_slack)
    real_p, real_port = start(serve_bot, api_url, a.redis, data_dir, None)
    bare_p, bare_port = start(serve_bot, api_url, a.redis, data_dir, _ack_mentions_and_commands)
    urls = {"real": f"http://127.0.0.1:{real_port}", "bare": f"http://127.0.0.1:{bare_port}"}
    results: dict[str, dict[str, list[float]]] = {"real": {}, "bare": {}}
    queued = 0
    try:
        with httpx.Client(timeout=10) as client:
            for kind in ("mention", "command"):
                measure(client, urls, kind, a.warmup, 0.0)
                queued += a.warmup
                got = measure(client, urls, kind, a.n, a.gap_ms / 1000)
                queued += a.n
                for app in got:
                    results[app][kind] = got[app]
                drain(conn, queued)
        assert conn.llen("rq:queue:answers") == queued, "every question was queued exactly once"
    finally:
        for p in (real_p, bare_p):
            p.terminate()
        conn.flushdb()
    fake_p.terminate()

    report: dict[str, Any] = {"n": a.n, "gap_ms": a.gap_ms, "unit": "ms", "results": {}}
    print(f"ack latency over {a.n} signed requests each, {a.gap_ms:g} ms apart (ms)")
    print(f"{'':22}{'p50':>8}{'p99':>8}{'mean':>8}")
    for kind in ("mention", "command"):
        row = {}
        for app in ("bare", "real"):
            xs = [x * 1000 for x in results[app][kind]]
            row[app] = {
                "p50": round(pct(xs, 50), 3),
                "p99": round(pct(xs, 99), 3),
                "mean": round(statistics.mean(xs), 3),
            }
            label = f"{kind} {'bare Bolt' if app == 'bare' else 'specbot'}"
            print(f"{label:22}{row[app]['p50']:8.2f}{row[app]['p99']:8.2f}{row[app]['mean']:8.2f}")
        row["ratio_p50"] = round(row["real"]["p50"] / row["bare"]["p50"], 3)
        row["ratio_p99"] = round(row["real"]["p99"] / row["bare"]["p99"], 3)
        print(f"{kind + ' ratio':22}{row['ratio_p50']:8.2f}{row['ratio_p99']:8.2f}")
        report["results"][kind] = row
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(report, indent=2))
    print(f"written to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
