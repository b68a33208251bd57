"""End to end: Slack (FAKE Web API + signed requests) -> the real bot -> real
Redis -> a real `specbot worker` process -> real vLLM on CPU -> the answer, with
sources, posted back in the thread; then reactions and a correction become
feedback records through the same worker.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from specbot.contracts import job_id_for
from tests.bot.test_bot import SECRET, start_bot, wait_until
from tests.fakes.slack_fake import BOT_USER_ID, TEAM_ID, FakeSlack, SlackSender, mention, new_ts
from tests.workers_helpers import worker_process
from workers.jobs import ANSWERED

pytestmark = pytest.mark.slow


def test_mention_and_spec_answered_once_with_sources_then_feedback_recorded(
    indexed_sample: Path, llm_env: str, redis_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = FakeSlack().start()
    server, url = start_bot(monkeypatch, fake)
    send = SlackSender(url, SECRET)
    conn = redis.Redis.from_url(redis_url)
    env = {"LLM_BASE_URL": llm_env, "REDIS_URL": redis_url, "SPECBOT_DATA_DIR": os.environ["SPECBOT_DATA_DIR"]}
    try:
        with worker_process(env, log=tmp_path / "worker.log"):
            ev = mention("What is the maximum brake pedal force?")
            assert send.event(ev, event_id="EvE2E1").status_code == 200
            # Slack thinks it missed our ack and retries, once with a new envelope.
            assert send.event(ev, event_id="EvE2E1", retry_num=1).status_code == 200
            r = send.command("What happens if the pedal travel sensor fails?")
            assert r.status_code == 200 and "Looking it up" in r.text

            job_id = job_id_for(TEAM_ID, "C0CHAN01", ev["ts"])
            wait_until(lambda: conn.get(ANSWERED.format(job_id)), timeout=240)
            in_thread = [c for c in fake.of("chat.postMessage") if c.params.get("thread_ts") == ev["ts"]]
            assert len(in_thread) == 1, "one answer per question, retries included"
            answer_ts = in_thread[0].response["ts"]
            final = fake.messages[("C0CHAN01", answer_ts)]
            assert "500" in final["text"]
            blocks = str(final["blocks"])
            assert f"{indexed_sample.name} · § 3.1 Brake Pedal" in blocks
            assert "smollm2-135m-instruct" in blocks and ":+1:" in blocks
            eyes = fake.of("reactions.add")[0].params
            assert eyes["timestamp"] == ev["ts"] and eyes["name"] == "eyes"

            # /spec: the answer appears in the channel itself, showing who asked what.
            channel_posts = wait_until(
                lambda: [c for c in fake.of("chat.postMessage") if "thread_ts" not in c.params], timeout=240
            )
            assert len(channel_posts) == 1
            spec_ts = channel_posts[0].response["ts"]
            wait_until(lambda: "3.1.1" in str(fake.messages[("C0CHAN01", spec_ts)]["blocks"]), timeout=240)
            assert "<@U0ALICE1> asked: What happens if the pedal travel sensor fails?" in str(
                fake.messages[("C0CHAN01", spec_ts)]["blocks"]
            )

            # Feedback: 👍 then retracted, 👎 by someone else, and a correction in the thread.
            def react(kind: str, name: str, user: str, eid: str) -> None:
                item = {"type": "message", "channel": "C0CHAN01", "ts": answer_ts}
                event = {"type": kind, "user": user, "reaction": name, "item_user": BOT_USER_ID, "item": item}
                send.event({**event, "event_ts": new_ts()}, event_id=eid)

            react("reaction_added", "+1", "U0ALICE1", "EvV1")
            react("reaction_added", "-1", "U0BOB001", "EvV2")
            react("reaction_added", "-1", "U0BOB001", "EvV2")  # a duplicate delivery
            corr_ts = new_ts()
            send.event(
                {"type": "message", "channel": "C0CHAN01", "user": "U0BOB001", "ts": corr_ts, "thread_ts": ev["ts"],
                 "text": "correction: REQ-BRK-0042 limits the pedal force to 500 N.", "event_ts": corr_ts},
                event_id="EvC1",
            )  # fmt: skip
            from feedback.models import Correction, Vote
            from feedback.store import get_engine

            def rows(model):
                with Session(get_engine()) as db:
                    return db.scalars(select(model)).all()

            wait_until(lambda: len(rows(Vote)) == 2 and len(rows(Correction)) == 1, timeout=60)
            # The asker (Alice asked the mention) and a reviewer correct too: the bot passes the
            # asker's identity to the worker's record, and the hashes must match for trust.
            for user, body in (("U0ALICE1", "The asker: 500 N."), ("U0REVIEW1", "The reviewer: 500 N.")):
                ts = new_ts()
                send.event(
                    {"type": "message", "channel": "C0CHAN01", "user": user, "ts": ts, "thread_ts": ev["ts"],
                     "text": f"correction: {body}", "event_ts": ts},
                )  # fmt: skip
            wait_until(lambda: len(rows(Correction)) == 3, timeout=60)
            time.sleep(0.5)
            react("reaction_removed", "+1", "U0ALICE1", "EvV3")
            wait_until(lambda: any(v.removed_at is not None for v in rows(Vote)), timeout=60)
        votes = {v.value: v for v in rows(Vote)}
        assert set(votes) == {1, -1}
        assert votes[1].removed_at is not None and votes[-1].removed_at is None
        corrections = {c.text for c in rows(Correction)}
        assert "REQ-BRK-0042 limits the pedal force to 500 N." in corrections and len(corrections) == 3

        # Trust rules, end to end: the asker's and the reviewer's corrections are training
        # data; the bystander's (Bob) only with --include-unreviewed.
        from feedback.export import export
        from specbot.settings import reset_settings

        monkeypatch.setenv("FEEDBACK_REVIEWERS", "U0REVIEW1")
        reset_settings()

        def exported(include_unreviewed: bool) -> set[str]:
            out = tmp_path / f"sft-{include_unreviewed}.jsonl"
            export("sft", out, get_engine(), include_unreviewed=include_unreviewed)
            rows_ = [json.loads(line) for line in out.read_text().splitlines()]
            return {r["messages"][-1]["content"] for r in rows_}

        assert {"The asker: 500 N.", "The reviewer: 500 N."} <= exported(False)
        assert "REQ-BRK-0042 limits the pedal force to 500 N." not in exported(False)
        assert "REQ-BRK-0042 limits the pedal force to 500 N." in exported(True)
        assert len(fake.of("chat.postMessage")) == 2  # still exactly two answers
    finally:
        send.close()
        server.shutdown()
        server.server_close()
        fake.stop()


def test_llm_outage_gets_a_retry_notice_then_one_quoted_answer_in_the_thread(
    indexed_sample: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tests.conftest import free_port

    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens here
    retry = {"JOB_RETRIES": "1", "JOB_RETRY_INTERVALS": "1"}
    fake = FakeSlack().start()
    server, url = start_bot(monkeypatch, fake, retry)
    send = SlackSender(url, SECRET)
    env = {"LLM_BASE_URL": dead, "REDIS_URL": redis_url, "SPECBOT_DATA_DIR": os.environ["SPECBOT_DATA_DIR"], **retry}
    try:
        with worker_process(env, log=tmp_path / "worker.log"):
            ev = mention("What is the maximum brake pedal force?")
            send.event(ev)
            notice = fake.wait_for(lambda calls: any("retrying" in c.params.get("text", "") for c in calls), 60)
            assert notice
            fake.wait_for(
                lambda calls: (
                    any("quoted from the document" in str(c.params) for c in calls)
                    and any(c.method == "chat.update" for c in calls)
                ),
                90,
            )
        posts = [c for c in fake.of("chat.postMessage") if c.params.get("thread_ts") == ev["ts"]]
        assert len(posts) == 1, "the notice and the answer share one message"
        ts = posts[0].response["ts"]
        final = fake.messages[("C0CHAN01", ts)]
        # The model never came back: the last attempt quotes the top section, labelled.
        assert final["text"].startswith("The language model is not available right now; quoted from the document")
        assert "500 N" in final["text"]
        assert "retrying" not in final["text"]
    finally:
        send.close()
        server.shutdown()
        server.server_close()
        fake.stop()


def test_spec_in_a_private_channel_is_answered_once_through_the_response_url(
    indexed_sample: Path, llm_env: str, redis_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The bot is not in the channel: chat.postMessage says not_in_channel. The answer
    comes back through the command's response_url, from the first attempt: no retry,
    so the model runs once."""
    from rq.job import Job

    from specbot.contracts import SERIALIZER

    fake = FakeSlack().start()
    fake.errors["chat.postMessage"] = "not_in_channel"
    server, url = start_bot(monkeypatch, fake)
    send = SlackSender(url, SECRET)
    conn = redis.Redis.from_url(redis_url)
    env = {"LLM_BASE_URL": llm_env, "REDIS_URL": redis_url, "SPECBOT_DATA_DIR": os.environ["SPECBOT_DATA_DIR"]}
    try:
        with worker_process(env, log=tmp_path / "worker.log"):
            r = send.command("What is the maximum brake pedal force?", channel="G0PRIVATE",
                             response_url=fake.response_url("private"))  # fmt: skip
            assert r.status_code == 200 and "Looking it up" in r.text
            answer = fake.wait_method("response_url", timeout=240)[0].params
            jid = next(k.decode().removeprefix("rq:job:") for k in conn.scan_iter("rq:job:ans-*"))
            job = Job.fetch(jid, connection=conn, serializer=SERIALIZER)
            wait_until(lambda: job.get_status(refresh=True) == "finished", timeout=60)
        assert answer["response_type"] == "in_channel" and "500" in answer["text"]
        assert f"{indexed_sample.name} · § 3.1 Brake Pedal" in str(answer["blocks"])
        assert job.retries_left == 3, "no retry: Slack's not_in_channel is final"
        assert len(fake.of("chat.postMessage")) == 1 and len(fake.of("response_url")) == 1
    finally:
        send.close()
        server.shutdown()
        server.server_close()
        fake.stop()
