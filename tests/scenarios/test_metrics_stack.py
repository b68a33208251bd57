"""One question through the whole stack: Slack -> bot -> Redis -> worker -> vLLM -> Slack.

Bot and worker run as the containers run them (`deploy/entrypoint.sh bot|worker`).
Real: Bolt app, Redis, RQ workers, vLLM on CPU. FAKE: Slack's Web API (tests/fakes/slack_fake.py),
since Slack cannot be reached from here; requests to the bot are signed like Slack signs them.

Checked afterwards: both /metrics pages, and the JSON logs of both processes: the
question's ID is on bot and worker lines, and no token appears anywhere.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.fakes.slack_fake import TEAM_ID, FakeSlack, SlackSender, event_body, mention
from tests.specbot.test_metrics import HISTOGRAMS, role_process, scrape, wait_for, worker

BOT_TOKEN = "xoxb-4242-4343-StackTestBotToken"
SIGNING_SECRET = "stack-test-signing-secret-8f2a"
LLM_KEY = "sk-stack-test-llm-key-31337"


def json_lines(path: Path) -> list[dict]:
    out = []
    for line in path.read_text(errors="replace").splitlines():
        if line.strip():
            out.append(json.loads(line))  # every line is one JSON object
    return out


@pytest.mark.slow
def test_question_through_bot_queue_worker(
    redis_url: str, llm_env: str, indexed_sample: Path, isolated_settings: Path, tmp_path: Path
) -> None:
    import redis

    from specbot.contracts import job_id_for
    from workers.jobs import ANSWERED

    slack = FakeSlack().start()
    env = {
        "REDIS_URL": redis_url,
        "LLM_BASE_URL": llm_env,
        "LLM_API_KEY": LLM_KEY,
        "LLM_MAX_TOKENS": "48",
        "SPECBOT_DATA_DIR": str(isolated_settings),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.url,
        "LOG_FORMAT": "json",
        # DEBUG: the most a library could print (request lines, headers) and still no token.
        "LOG_LEVEL": "DEBUG",
    }
    bot_port, bot_ops = free_port(), free_port()
    bot_log, worker_log = tmp_path / "bot.log", tmp_path / "worker.log"
    conn = redis.Redis.from_url(redis_url)
    try:
        with (
            worker(env, worker_log, processes=2) as worker_metrics,
            role_process("bot", {**env, "BOT_PORT": str(bot_port), "METRICS_PORT": str(bot_ops)}, bot_log) as bp,
        ):
            bot_url, bot_metrics = f"http://127.0.0.1:{bot_port}", f"http://127.0.0.1:{bot_ops}/metrics"
            wait_for(lambda: scrape(bot_metrics).get("specbot_redis_up") == 1, 60, "bot /metrics", bp)
            send = SlackSender(bot_url, SIGNING_SECRET)
            ev = mention("What must the EBC do when the pedal travel sensor fails?")
            assert send.event(ev).status_code == 200
            jid = job_id_for(TEAM_ID, ev["channel"], ev["ts"])
            done = wait_for(lambda: conn.get(ANSWERED.format(jid)), 240, "answer")
            result = json.loads(done)
            assert result["sources"] and result["message_ts"]
            # The answer reached the question's thread: one message posted there, the one the
            # worker reports, which now carries the answer's text and its sources.
            in_thread = [c for c in slack.of("chat.postMessage") if c.params.get("thread_ts") == ev["ts"]]
            assert [c.response["ts"] for c in in_thread] == [result["message_ts"]]
            final = slack.messages[(ev["channel"], result["message_ts"])]
            assert final["thread_ts"] == ev["ts"]

            def alnum(t: str) -> str:
                return "".join(ch for ch in t if ch.isalnum())

            assert alnum(result["answer"])[:20] in alnum(final["text"]), (result["answer"], final["text"])
            assert indexed_sample.name in str(final["blocks"])

            # A thumbs-up on the answer: the bot counts the vote.
            react = {
                "type": "reaction_added",
                "user": "U0ALICE1",
                "reaction": "+1",
                "item_user": "UBOT0001",
                "item": {"type": "message", "channel": ev["channel"], "ts": result["message_ts"]},
                "event_ts": "1700009999.000100",
            }
            assert send.raw(json.dumps(event_body(react)), "application/json").status_code == 200
            bot_m = wait_for(
                lambda: (m := scrape(bot_metrics)).get('specbot_votes_total{action="added",value="up"}') and m,
                30,
                "vote metric",
            )
            assert bot_m['specbot_questions_received_total{source="mention"}'] == 1
            assert 'specbot_queue_length{queue="answers"}' in bot_m

            wm = wait_for(
                lambda: (m := scrape(worker_metrics)).get('specbot_questions_total{outcome="answered"}') and m, 30
            )
            assert wm['specbot_questions_total{outcome="answered"}'] == 1
            for h in HISTOGRAMS:
                assert wm[f"{h}_count"] == 1, h
            assert wm['specbot_queue_length{queue="answers"}'] == 0
            send.close()
    finally:
        slack.stop()

    bot_lines, worker_lines = json_lines(bot_log), json_lines(worker_log)
    # The question ID follows the question: on the bot's line that queued it, and on
    # the worker's lines (the process that ran it and the work horse it forked).
    assert any(r.get("question_id") == jid and r["role"] == "bot" for r in bot_lines)
    mine = [r for r in worker_lines if r.get("question_id") == jid]
    assert any(r.get("event") == "question_finished" and r["outcome"] == "answered" for r in mine)
    assert len({r["pid"] for r in mine}) >= 2, "the work horse's lines must carry the ID too"
    # Never a token, secret or key, at any level.
    for path in (bot_log, worker_log):
        text = path.read_text(errors="replace")
        for secret in (BOT_TOKEN, SIGNING_SECRET, LLM_KEY, "xoxb-"):
            assert secret not in text, f"{secret[:8]}… leaked into {path.name}"


def test_socket_mode_bot_serves_metrics_on_metrics_port_and_survives_a_taken_port(
    redis_url: str, tmp_path: Path
) -> None:
    """Socket Mode has no HTTP endpoint of its own: /metrics goes on METRICS_PORT. A port already
    taken (a second bot on the host) is logged and the bot still connects and answers."""
    import socket

    from tests.fakes.slack_fake import FakeSocketMode

    slack, sock = FakeSlack().start(), FakeSocketMode()
    slack.socket_url = sock.url
    env = {
        "REDIS_URL": redis_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": "xapp-1-A0SPECBOT-4242-StackTestAppToken",
        "SLACK_API_URL": slack.url,
        "SLACK_SIGNING_SECRET": "",
    }
    port = free_port()
    try:
        with role_process("bot", {**env, "METRICS_PORT": str(port)}, tmp_path / "bot1.log") as bp:
            sock.wait_connected()
            m = wait_for(lambda: scrape(f"http://127.0.0.1:{port}/metrics"), 30, "socket-mode /metrics", bp)
            assert m["specbot_redis_up"] == 1
            assert 'specbot_queue_length{queue="answers"}' in m
        sock.stop()
        sock = FakeSocketMode()
        slack.socket_url = sock.url
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            busy = taken.getsockname()[1]
            with role_process("bot", {**env, "METRICS_PORT": str(busy)}, tmp_path / "bot2.log") as bp:
                sock.wait_connected()
                # Still serving without /metrics: a mention is acked and taken (👀 on it).
                ev = mention("still there without metrics?")
                sock.wait_ack(sock.send("events_api", event_body(ev)), timeout=30)
                eyes = slack.wait_method("reactions.add", timeout=30)
                assert eyes[-1].params["timestamp"] == ev["ts"]
                assert bp.poll() is None
    finally:
        sock.stop()
        slack.stop()
    lines2 = json_lines(tmp_path / "bot2.log")
    assert any("cannot serve metrics" in r["msg"] for r in lines2)
