"""The Slack bot, tested the way slack-bolt tests itself: the real Bolt app on
its real (WSGI) HTTP adapter, requests signed with Slack's v0 scheme, and Web
API calls going to a local recording server (tests/fakes/slack_fake.py, a FAKE of
Slack, which cannot be reached from here). Redis is real.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis
from rq import Queue
from rq.job import Job

from specbot.contracts import ANSWERS_QUEUE, SERIALIZER, feedback_queue, fetch_job, job_id_for
from tests.fakes.slack_fake import BOT_USER_ID, TEAM_ID, FakeSlack, SlackSender, mention, new_ts

SECRET = "test-signing-secret-8f3a"
TOKEN = "xoxb-111-222-SeCrEtBoTtOkEn"


@dataclass
class Bot:
    url: str
    slack: FakeSlack
    send: SlackSender
    conn: redis.Redis

    def answers(self) -> Queue:
        return answers(self.conn)

    def feedback(self) -> Queue:
        return feedback_queue(self.conn)


def answers(conn: redis.Redis) -> Queue:
    return Queue(ANSWERS_QUEUE, connection=conn, serializer=SERIALIZER)


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


def start_bot(monkeypatch: pytest.MonkeyPatch, fake: FakeSlack, env: dict[str, str] | None = None, get_conn=None):
    from bot.app import build_app, serve_http, start_in_thread
    from specbot.settings import get_settings, reset_settings

    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("SLACK_API_URL", fake.url)
    for k, v in (env or {}).items():
        monkeypatch.setenv(k, v)
    reset_settings()
    s = get_settings()
    if get_conn is None:
        from bot.app import redis_factory

        get_conn = redis_factory(s)
    app = build_app(s, get_conn)
    server = serve_http(app, "127.0.0.1", 0, get_conn)
    start_in_thread(server)
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def bot(redis_url: str, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bot]:
    server, url = start_bot(monkeypatch, fake_slack)
    sender = SlackSender(url, SECRET)
    conn = redis.Redis.from_url(redis_url)
    yield Bot(url, fake_slack, sender, conn)
    sender.close()
    server.shutdown()
    server.server_close()


def wait_until(pred, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def fetch(conn: redis.Redis, job_id: str) -> Job:
    return wait_until(lambda: Job.exists(job_id, connection=conn) and fetch_job(conn, job_id))


# --- @mention ------------------------------------------------------------------
def test_mention_gets_eyes_and_queues_a_thread_answer(bot: Bot) -> None:
    ev = mention("What is the supply voltage range?")
    r = bot.send.event(ev)
    assert r.status_code == 200
    eyes = bot.slack.wait_method("reactions.add")
    assert eyes[0].params.items() >= {"channel": "C0CHAN01", "timestamp": ev["ts"], "name": "eyes"}.items()
    assert eyes[0].token == TOKEN  # Web API calls carry the bot token, to SLACK_API_URL
    job = fetch(bot.conn, job_id_for(TEAM_ID, "C0CHAN01", ev["ts"]))
    payload = job.args[0]
    assert payload["question"] == "What is the supply voltage range?"
    assert payload["thread_ts"] == ev["ts"] and payload["ts"] == ev["ts"]
    assert payload["source"] == "mention" and payload["history"] == []
    assert payload["user"] == "U0ALICE1" and payload["team"] == TEAM_ID


def test_asked_at_is_when_slack_says_the_question_was_asked(bot: Bot) -> None:
    # The message was posted 40 s ago (Slack was slow, or this is a redelivery):
    # end-to-end time starts then, not when the job was created.
    ts = f"{time.time() - 40:.6f}"
    bot.send.event(mention("How long is the debounce time?", ts=ts))
    job = fetch(bot.conn, job_id_for(TEAM_ID, "C0CHAN01", ts))
    assert job.args[0]["asked_at"] == float(ts)
    assert job.args[0]["version"] == 3
    # /spec carries no time: the moment the bot received it.
    t0 = time.time()
    bot.send.command("What is the pin count?")
    t1 = time.time()
    cmd = wait_until(lambda: [j for j in bot.answers().jobs if j.args[0]["source"] == "command"])[0]
    assert t0 <= cmd.args[0]["asked_at"] <= t1


def test_retried_event_is_handled_once(bot: Bot) -> None:
    ev = mention("Which connector pins carry CAN?")
    assert bot.send.event(ev, event_id="EvRETRY01").status_code == 200
    bot.slack.wait_method("reactions.add")
    # Slack retries the same event (HTTP: X-Slack-Retry-Num), twice.
    assert bot.send.event(ev, event_id="EvRETRY01", retry_num=1).status_code == 200
    assert bot.send.event(ev, event_id="EvRETRY01", retry_num=2).status_code == 200
    # A redelivery under a new event_id still maps to the same derived job.
    assert bot.send.event(ev, event_id="EvRETRY02", retry_num=1).status_code == 200
    time.sleep(0.5)
    assert bot.answers().count == 1
    assert len(bot.slack.of("reactions.add")) <= 2  # the 2nd event_id may react again (already_reacted)
    assert not bot.slack.of("chat.postMessage")


def test_follow_up_in_thread_sends_earlier_turns(bot: Bot) -> None:
    parent = new_ts()
    answer_ts, follow_ts = new_ts(), new_ts()
    bot.slack.add_thread(
        "C0CHAN01",
        [
            {"ts": parent, "user": "U0ALICE1", "text": f"<@{BOT_USER_ID}> What is the pin count?"},
            {"ts": answer_ts, "user": BOT_USER_ID, "bot_id": "BBOT0001", "text": "The connector has 24 pins."},
            {"ts": new_ts(), "user": "U0OTHER", "bot_id": "BOTHER", "text": "another bot's noise"},
            {"ts": follow_ts, "user": "U0ALICE1", "text": f"<@{BOT_USER_ID}> And which of them carry CAN?"},
        ],
    )
    ev = mention("And which of them carry CAN?", ts=follow_ts, thread_ts=parent)
    bot.send.event(ev)
    job = fetch(bot.conn, job_id_for(TEAM_ID, "C0CHAN01", follow_ts))
    p = job.args[0]
    assert p["thread_ts"] == parent  # the answer goes into the same thread
    assert p["history"] == [
        {"role": "user", "content": "What is the pin count?"},
        {"role": "assistant", "content": "The connector has 24 pins."},
    ]


def test_empty_mention_gets_help_in_thread(bot: Bot) -> None:
    ev = mention("")
    bot.send.event(ev)
    post = bot.slack.wait_method("chat.postMessage")[0]
    assert post.params["thread_ts"] == ev["ts"]
    assert "/spec" in post.params["text"] and "@specbot" in post.params["text"]
    assert bot.answers().count == 0


def test_bot_messages_are_ignored(bot: Bot) -> None:
    bot.send.event(mention("loop?", user="U0OTHERBOT", bot_id="B0OTHER"))
    bot.send.event(mention("me?", user=BOT_USER_ID))
    time.sleep(0.5)
    assert bot.answers().count == 0
    assert not [c for c in bot.slack.calls if c.method != "auth.test"]


def test_rate_limit_gets_a_friendly_reply(
    redis_url: str, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, url = start_bot(monkeypatch, fake_slack, {"SLACK_RATE_LIMIT": "2", "SLACK_RATE_WINDOW_S": "60"})
    send = SlackSender(url, SECRET)
    try:
        evs = [mention(f"question {i}") for i in range(3)]
        for ev in evs:
            send.event(ev)
        eph = fake_slack.wait_method("chat.postEphemeral")[0]
        # Lazy listeners run in parallel: whichever question came third is refused.
        assert eph.params["user"] == "U0ALICE1" and eph.params["thread_ts"] in {ev["ts"] for ev in evs}
        assert "try again in" in eph.params["text"]
        conn = redis.Redis.from_url(redis_url)
        wait_until(lambda: answers(conn).count == 2)
        time.sleep(0.3)
        assert answers(conn).count == 2
        # Another user is not limited by Alice's questions.
        send.event(mention("bob's question", user="U0BOB001"))
        wait_until(lambda: answers(conn).count == 3)
        # /spec counts against the same limit.
        r = send.command("one more", response_url=fake_slack.response_url())
        assert r.status_code == 200
        reply = fake_slack.wait_method("response_url")[0]
        assert "try again in" in reply.params["text"] and reply.params["response_type"] == "ephemeral"
    finally:
        send.close()
        server.shutdown()
        server.server_close()


def test_allowlist_limits_channels(redis_url: str, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
    server, url = start_bot(monkeypatch, fake_slack, {"SLACK_ALLOWED_CHANNELS": "C0ALLOWED"})
    send = SlackSender(url, SECRET)
    try:
        send.event(mention("not here", channel="C0CHAN01"))
        eph = fake_slack.wait_method("chat.postEphemeral")[0]
        assert "not enabled" in eph.params["text"]
        r = send.command("nor here", channel="C0CHAN01")
        assert "not enabled" in r.text
        send.event(mention("here", channel="C0ALLOWED"))
        conn = redis.Redis.from_url(redis_url)
        wait_until(lambda: answers(conn).count == 1)
    finally:
        send.close()
        server.shutdown()
        server.server_close()


def test_redis_down_gets_a_reply_and_the_listener_survives(
    fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    dead = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    server, url = start_bot(monkeypatch, fake_slack, get_conn=lambda: dead)
    send = SlackSender(url, SECRET)
    try:
        with caplog.at_level(logging.ERROR, logger="specbot.bot"):
            ev = mention("anyone there?")
            assert send.event(ev).status_code == 200
            post = fake_slack.wait_method("chat.postMessage")[0]
            assert post.params["thread_ts"] == ev["ts"]
            assert "I can't take questions right now" in post.params["text"]
            r = send.command("and via /spec?", response_url=fake_slack.response_url())
            assert r.status_code == 200
            reply = fake_slack.wait_method("response_url")[0]
            assert "I can't take questions right now" in reply.params["text"]
        assert "Redis unavailable" in caplog.text
        # Still serving.
        assert httpx.get(url + "/healthz").json() == {"ok": True, "redis": False}
        assert send.event(mention("still there?")).status_code == 200
        fake_slack.wait_method("chat.postMessage", n=2)
    finally:
        send.close()
        server.shutdown()
        server.server_close()


# --- /spec ---------------------------------------------------------------------
def test_spec_question_acks_fast_then_queues_a_channel_answer(bot: Bot) -> None:
    t0 = time.perf_counter()
    r = bot.send.command("What does 5.3.1 say?")
    elapsed = time.perf_counter() - t0
    assert r.status_code == 200
    assert "Looking it up" in r.text
    # Speed class only (figures are in bench/ack_latency.py): far inside Slack's 3 s.
    assert elapsed < 1.0
    wait_until(lambda: bot.answers().count == 1)
    job = bot.answers().jobs[0]
    p = job.args[0]
    assert p["source"] == "command" and p["channel"] == "C0CHAN01" and not p["thread_ts"]
    assert p["question"] == "What does 5.3.1 say?"


def test_spec_help(bot: Bot) -> None:
    for text in ("help", ""):
        r = bot.send.command(text)
        assert r.status_code == 200
        assert "/spec sources" in r.text and "@specbot" in r.text
    assert bot.answers().count == 0


def test_spec_sources_lists_indexed_documents(bot: Bot, indexed_sample) -> None:
    r = bot.send.command("sources", response_url=bot.slack.response_url())
    assert r.status_code == 200
    reply = bot.slack.wait_method("response_url")[0].params
    assert indexed_sample.name in reply["text"]
    assert "indexed 20" in reply["text"]  # with its indexing time
    assert reply["response_type"] == "ephemeral"


def test_spec_stats_shows_feedback_totals(bot: Bot) -> None:
    from feedback.jobs import record_correction, record_vote
    from feedback.store import record_answer
    from specbot.contracts import AnswerResult, QuestionJob

    for i in (1, 2):
        q = QuestionJob(question="q", channel="C0CHAN01")
        record_answer(f"ans-stats-{i}", q, AnswerResult(answer="a", message_ts=f"{i}.1"))
    vote = {"team": TEAM_ID, "channel": "C0CHAN01", "message_ts": "1.1", "added": True, "event_ts": "5.0"}
    record_vote({**vote, "user": "U1", "reaction": "+1", "event_id": "Ev1"})
    record_vote({**vote, "user": "U2", "reaction": "thumbsup", "event_id": "Ev2"})
    record_vote({**vote, "user": "U3", "reaction": "-1", "event_id": "Ev3"})
    record_vote({**vote, "user": "U4", "reaction": "tada", "event_id": "Ev4"})
    record_vote({**vote, "user": "U1", "reaction": "+1", "event_id": "Ev5", "added": False, "event_ts": "6.0"})
    record_correction({"channel": "C0CHAN01", "answer_ts": "2.1", "user": "U3", "text": "better", "event_id": "Ev6"})
    bot.send.command("stats", response_url=bot.slack.response_url())
    text = bot.slack.wait_method("response_url")[0].params["text"]
    # U1's retracted vote does not count.
    assert text == ("*Feedback so far:* 2 answers · :+1: 1 · :-1: 1 (50% helpful) · 1 other reaction · 1 correction")


def test_direct_message_is_a_question(bot: Bot) -> None:
    ts = new_ts()
    ev = {"type": "message", "channel": "D0ALICE1", "channel_type": "im", "user": "U0ALICE1", "text": "pin count?",
          "ts": ts, "event_ts": ts}  # fmt: skip
    bot.send.event(ev)
    job = fetch(bot.conn, job_id_for(TEAM_ID, "D0ALICE1", ts))
    assert job.args[0]["source"] == "dm" and job.args[0]["thread_ts"] == ts
    assert bot.slack.wait_method("reactions.add")[0].params["timestamp"] == ts


# --- signatures ----------------------------------------------------------------
def test_bad_signatures_are_rejected(bot: Bot) -> None:
    import json

    from tests.fakes.slack_fake import event_body, sign

    body = json.dumps(event_body(mention("sneaky")))
    h = {"Content-Type": "application/json"}
    wrong = sign("not-the-secret", body)
    assert httpx.post(bot.url + "/slack/events", content=body, headers={**h, **wrong}).status_code == 401
    assert httpx.post(bot.url + "/slack/events", content=body, headers=h).status_code == 401
    stale = sign(SECRET, body, timestamp=int(time.time()) - 3600)  # replayed old request
    assert httpx.post(bot.url + "/slack/events", content=body, headers={**h, **stale}).status_code == 401
    tampered = sign(SECRET, body)
    assert (
        httpx.post(bot.url + "/slack/events", content=body.replace("sneaky", "sneakier"), headers={**h, **tampered})
    ).status_code == 401
    time.sleep(0.3)
    assert bot.answers().count == 0
    assert not bot.slack.of("reactions.add")


def test_healthz_and_unknown_paths(bot: Bot) -> None:
    assert httpx.get(bot.url + "/healthz").json() == {"ok": True, "redis": True}
    assert httpx.get(bot.url + "/nope").status_code == 404


# --- reactions and corrections -------------------------------------------------
def _answer_in_thread(bot: Bot) -> tuple[str, str]:
    from specbot.slack.state import remember_answer

    question_ts, answer_ts = new_ts(), new_ts()
    remember_answer(bot.conn, "ans-x", "C0CHAN01", answer_ts, question_ts)
    return question_ts, answer_ts


def reaction(kind: str, ts: str, name: str = "+1", item_user: str = "U0SOMEONE", user: str = "U0ALICE1") -> dict:
    return {
        "type": kind,
        "user": user,
        "reaction": name,
        "item_user": item_user,
        "item": {"type": "message", "channel": "C0CHAN01", "ts": ts},
        "event_ts": new_ts(),
    }


def test_reactions_on_answers_become_queued_votes_and_retract(bot: Bot) -> None:
    _, answer_ts = _answer_in_thread(bot)
    bot.send.event(reaction("reaction_added", answer_ts, "+1::skin-tone-3"), event_id="EvVOTE1")
    bot.send.event(reaction("reaction_added", answer_ts, "+1::skin-tone-3"), event_id="EvVOTE1", retry_num=1)
    bot.send.event(reaction("reaction_added", answer_ts, "tada"), event_id="EvVOTE2")
    bot.send.event(reaction("reaction_removed", answer_ts, "+1::skin-tone-3"), event_id="EvVOTE3")
    q = bot.feedback()
    wait_until(lambda: q.count == 3)
    time.sleep(0.3)
    assert q.count == 3  # the retry did not add a second vote
    votes = {j.args[0]["event_id"]: j for j in q.jobs}
    up = votes["EvVOTE1"]
    assert up.func_name == "feedback.jobs.record_vote"
    assert up.args[0] | {"event_ts": None} == {
        "team": TEAM_ID,
        "channel": "C0CHAN01",
        "message_ts": answer_ts,
        "user": "U0ALICE1",
        "reaction": "+1",  # a skin tone does not change the vote
        "added": True,
        "event_id": "EvVOTE1",
        "event_ts": None,
        "value": 1,
        "version": 2,
    }
    # Retried long enough to outlast a feedback-database outage (FEEDBACK_RETRIES, ~26 h by default).
    assert up.retries_left == 30 and up.retry_intervals == [5, 30, 120, 600, 1800] + [3600] * 25
    assert votes["EvVOTE2"].args[0]["value"] is None  # other emoji: kept raw, no value
    removed = votes["EvVOTE3"].args[0]
    assert removed["added"] is False and removed["reaction"] == "+1"


def test_reactions_elsewhere_are_ignored_but_bot_messages_count(bot: Bot) -> None:
    bot.send.event(reaction("reaction_added", new_ts(), "+1"))  # someone's message
    # Redis forgot it (TTL), but Slack says the bot wrote it: still an answer.
    bot.send.event(reaction("reaction_added", new_ts(), "-1", item_user=BOT_USER_ID), event_id="EvBOTMSG")
    q = bot.feedback()
    wait_until(lambda: q.count == 1)
    time.sleep(0.3)
    assert q.count == 1 and q.jobs[0].args[0]["value"] == -1


def test_thread_reply_correction_is_queued(bot: Bot) -> None:
    question_ts, answer_ts = _answer_in_thread(bot)
    reply_ts = new_ts()
    ev = {
        "type": "message",
        "channel": "C0CHAN01",
        "user": "U0ALICE1",
        "text": "Correction: the range is 9–16 V, see 4.2.",
        "ts": reply_ts,
        "thread_ts": question_ts,
        "event_ts": reply_ts,
        "channel_type": "channel",
    }
    bot.send.event(ev, event_id="EvCORR1")
    bot.send.event(ev, event_id="EvCORR1", retry_num=1)
    q = bot.feedback()
    wait_until(lambda: q.count == 1)
    job = q.jobs[0]
    assert job.func_name == "feedback.jobs.record_correction"
    assert job.args[0] == {
        "team": TEAM_ID,
        "channel": "C0CHAN01",
        "thread_ts": question_ts,
        "answer_ts": answer_ts,
        "user": "U0ALICE1",
        "text": "the range is 9–16 V, see 4.2.",
        "event_id": "EvCORR1",
        "ts": reply_ts,
        "version": 2,
    }
    noted = bot.slack.wait_method("reactions.add")[0]
    assert noted.params.items() >= {"channel": "C0CHAN01", "timestamp": reply_ts, "name": "memo"}.items()
    # Ordinary thread chatter is not a correction.
    bot.send.event({**ev, "text": "thanks!", "ts": new_ts()})
    time.sleep(0.3)
    assert q.count == 1


# --- secrets -------------------------------------------------------------------
def test_tokens_never_reach_the_logs(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        for lg in ("slack_sdk", "slack_bolt", "specbot", "urllib3"):
            logging.getLogger(lg).setLevel(logging.DEBUG)
        bot.send.event(mention("log everything"))
        bot.slack.wait_method("reactions.add")
        bot.send.command("stats", response_url=bot.slack.response_url())
        bot.slack.wait_method("response_url")
    assert "Sending a request" in caplog.text  # the Web API client really logged its requests
    assert TOKEN not in caplog.text and SECRET not in caplog.text


def test_redaction_filter_masks_tokens_by_shape() -> None:
    from specbot.logs import RedactingFilter

    rec = logging.LogRecord("x", logging.INFO, __file__, 1, "token %s here", (TOKEN,), None)
    RedactingFilter(secrets=()).filter(rec)  # not a configured secret: caught by its xoxb- shape
    assert TOKEN not in rec.getMessage() and "REDACTED" in rec.getMessage()


# --- the Slack app manifest matches what the bot does ----------------------------
def test_manifest_subscribes_to_what_the_bot_handles() -> None:
    import yaml

    from tests.conftest import ROOT

    m = yaml.safe_load((ROOT / "deploy" / "slack-app-manifest.yaml").read_text())
    events = set(m["settings"]["event_subscriptions"]["bot_events"])
    assert {"app_mention", "reaction_added", "reaction_removed", "message.channels"} <= events
    assert [c["command"] for c in m["features"]["slash_commands"]] == ["/spec"]
    scopes = set(m["oauth_config"]["scopes"]["bot"])
    # One scope per Web API method / event the bot uses.
    needed = {"app_mentions:read", "chat:write", "commands", "reactions:read", "reactions:write", "channels:history"}
    assert needed <= scopes
    urls = {m["settings"]["event_subscriptions"]["request_url"], m["settings"]["interactivity"]["request_url"]}
    urls |= {c["url"] for c in m["features"]["slash_commands"]}
    assert {u.rsplit("/", 2)[-2:] == ["slack", "events"] for u in urls} == {True}


def test_rate_limit_holds_under_concurrent_questions(redis_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from bot.ratelimit import RateLimiter

    limiter, conn = RateLimiter(5, 60), redis.Redis.from_url(redis_url)
    with ThreadPoolExecutor(16) as pool:
        waits = list(pool.map(lambda _: limiter.hit(conn, TEAM_ID, "U0BURST"), range(40)))
    assert waits.count(0.0) == 5
    assert all(0 < w <= 60 for w in waits if w)


def test_specbot_bot_command_serves_http(redis_url: str, fake_slack: FakeSlack, tmp_path) -> None:
    """The real console script, as deployed: `specbot bot --port N` in HTTP mode."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from tests.conftest import free_port

    port = free_port()
    env = {**os.environ, "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake_slack.url}
    log = tmp_path / "bot.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "specbot"), "bot", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            try:
                return httpx.get(url + "/healthz", timeout=1).json() == {"ok": True, "redis": True}
            except httpx.HTTPError:
                assert proc.poll() is None, log.read_text()
                return False

        wait_until(healthy, timeout=60)
        send = SlackSender(url, SECRET)
        assert send.command("help").status_code == 200
        ev = mention("asked just before a rolling restart")
        assert send.event(ev).status_code == 200
        send.close()
        # SIGTERM right after the ack: the acked question is still queued before exit.
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        conn = redis.Redis.from_url(redis_url)
        assert Job.exists(job_id_for(TEAM_ID, "C0CHAN01", ev["ts"]), connection=conn)
        assert fake_slack.of("reactions.add")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)
    text = log.read_text()
    assert "HTTP mode" in text and "finishing acked work" in text
    assert TOKEN not in text and SECRET not in text


def test_specbot_bot_without_token_is_one_clear_line() -> None:
    from tests.conftest import run_cli

    r = run_cli("bot", env={"SLACK_BOT_TOKEN": "", "REDIS_URL": "redis://127.0.0.1:1/0"}, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "SLACK_BOT_TOKEN is not set" in r.stderr


def test_url_verification_challenge_is_answered(bot: Bot) -> None:
    """Slack's first request when the Request URL is saved in the app settings."""
    import json

    body = json.dumps({"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                       "type": "url_verification"})  # fmt: skip
    r = bot.send.raw(body, "application/json")
    assert r.status_code == 200
    assert r.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


def test_unexpected_failure_still_gets_a_reply(fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        """Stands in for a Redis client that fails in a way nobody planned for."""

        def __getattr__(self, name: str) -> Any:
            def fail(*a: Any, **k: Any) -> Any:
                raise RuntimeError("unplanned")

            return fail

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    server, url = start_bot(monkeypatch, fake_slack, get_conn=lambda: Broken())
    send = SlackSender(url, SECRET)
    try:
        ev = mention("will this vanish?")
        assert send.event(ev).status_code == 200
        post = fake_slack.wait_method("chat.postMessage")[0].params
        assert post["thread_ts"] == ev["ts"] and "something went wrong" in post["text"]
    finally:
        send.close()
        server.shutdown()
        server.server_close()
