"""Raw Slack user IDs never reach a log line: not the bot's "Redis down" lines, not
RQ's failed-job lines in the worker (which print the job's arguments), not a
library's debug dump. Checked on captured logs of the real bot and a real worker."""

from __future__ import annotations

import io
import json
import logging
import time
from pathlib import Path

import pytest
import redis

from tests.bot.test_bot import SECRET, start_bot
from tests.fakes.slack_fake import BOT_USER_ID, FakeSlack, SlackSender, new_ts

VOTER = "U0VOTER7Q2"  # the shape of a real Slack user ID


def test_bot_redis_down_vote_is_logged_without_the_voter(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeSlack().start()
    dead = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    server, url = start_bot(monkeypatch, fake, get_conn=lambda: dead)
    send = SlackSender(url, SECRET)
    try:
        with caplog.at_level(logging.DEBUG):
            item = {"type": "message", "channel": "C0CHAN01", "ts": "1700000000.000200"}
            ev = {"type": "reaction_added", "user": VOTER, "reaction": "+1", "item_user": BOT_USER_ID, "item": item}
            assert send.event({**ev, "event_ts": new_ts()}, event_id="EvLog1").status_code == 200
            deadline = time.monotonic() + 30
            while not any("vote not queued" in r.getMessage() for r in caplog.records):
                assert time.monotonic() < deadline, "the lost vote must be logged"
                time.sleep(0.1)
    finally:
        send.close()
        server.shutdown()
        server.server_close()
        fake.stop()
    (line,) = [r.getMessage() for r in caplog.records if "vote not queued" in r.getMessage()]
    assert "EvLog1" in line  # what an operator needs to find the event
    assert VOTER not in caplog.text


def test_redactor_removes_user_ids_and_keeps_other_slack_ids() -> None:
    from specbot.logs import JsonFormatter, RedactingFilter

    flt = RedactingFilter(secrets=[])
    buf = io.StringIO()
    h = logging.StreamHandler(buf)
    h.addFilter(flt)
    h.setFormatter(JsonFormatter("worker", flt.redact))
    lg = logging.getLogger("test.user_ids")
    lg.addHandler(h)
    lg.propagate = False
    try:
        # As RQ logs a failed job: its arguments (a payload with the user) as an extra field.
        lg.error(
            "job %s failed for %s in C0CHAN01 (team T0TEAM001, job vote-3f2a)",
            "vote-3f2a",
            "W0ENTUSER9",
            extra={"arguments": [{"user": VOTER, "channel": "C0CHAN01"}], "queue": "feedback"},
        )
    finally:
        lg.removeHandler(h)
    out = json.loads(buf.getvalue())
    assert VOTER not in buf.getvalue() and "W0ENTUSER9" not in buf.getvalue()
    assert "arguments" not in out  # job payloads are not log material
    assert "C0CHAN01" in out["msg"] and "T0TEAM001" in out["msg"] and "vote-3f2a" in out["msg"]


@pytest.mark.slow
def test_worker_failed_feedback_job_is_logged_without_the_user(redis_url: str, tmp_path: Path) -> None:
    """RQ logs every failed attempt with the job's arguments; a vote's arguments name the voter."""
    import os

    from specbot.contracts import VoteEvent, enqueue_vote, fetch_job
    from tests.workers_helpers import worker_process

    conn = redis.Redis.from_url(redis_url)
    log = tmp_path / "worker.log"
    env = {"REDIS_URL": redis_url, "SPECBOT_DATA_DIR": os.environ["SPECBOT_DATA_DIR"], "LOG_FORMAT": "json",
           "LOG_LEVEL": "DEBUG", "FEEDBACK_RETRY_INTERVALS": "1"}  # fmt: skip
    with worker_process(env, log=log):
        # A vote on an answer that was never recorded: the attempt fails and is retried.
        job = enqueue_vote(
            conn,
            VoteEvent(team="T1", channel="C1", message_ts="1700000000.000300", user=VOTER, reaction="+1",
                      added=True, value=1, event_id="EvLog2", event_ts="1700000001.000100"),
        )  # fmt: skip
        assert job is not None
        deadline = time.monotonic() + 60
        while (fetch_job(conn, job.id).retries_left or 0) >= 30 or "AnswerNotFound" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
    text = log.read_text(errors="replace")
    assert job.id in text
    assert VOTER not in text
