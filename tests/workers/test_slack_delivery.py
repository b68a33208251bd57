"""SlackDelivery: one message per job, edited in place, across retried attempts.

Real Redis; Slack is the recording FAKE in tests/fakes/slack_fake.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import redis
from slack_sdk.errors import SlackApiError

from specbot.contracts import AnswerResult, QuestionJob
from specbot.slack.state import ANSWER_TS, THREAD_ANSWER
from tests.fakes.slack_fake import FakeSlack
from workers.delivery import make_delivery
from workers.slack_delivery import SlackDelivery

RESULT = AnswerResult.from_wire(
    {
        "answer": "The supply range is 9–16 V.",
        "sources": [{"doc": "spec.docx", "section": "4.2", "title": "Supply", "text": "…", "score": 1.0}],
        "model": "smollm2-135m-instruct",
    }
)


@pytest.fixture
def slack(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeSlack, redis.Redis]]:
    from specbot.settings import reset_settings

    fake = FakeSlack().start()
    monkeypatch.setenv("SLACK_API_URL", fake.url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-delivery-test")
    reset_settings()
    yield fake, redis.Redis.from_url(redis_url)
    fake.stop()


def payload(
    thread: str | None = "1700000000.000100", source: str = "mention", response_url: str | None = None
) -> QuestionJob:
    return QuestionJob.from_wire({"question": "What is the supply range?", "user": "U0ALICE1", "channel": "C0CHAN01",
                                  "ts": thread, "thread_ts": thread, "source": source, "version": 3,
                                  "response_url": response_url})  # fmt: skip


def test_streaming_is_throttled_and_final_answer_edits_the_same_message(slack) -> None:
    fake, conn = slack
    d = make_delivery(payload(), conn, "ans-stream")
    assert isinstance(d, SlackDelivery)
    text = ""
    for i in range(200):  # tokens arriving far faster than Slack may be edited
        text += f"w{i} "
        d.update(text)
    assert len(fake.of("chat.postMessage")) == 1 and not fake.of("chat.update")
    first = fake.of("chat.postMessage")[0]
    assert first.params["thread_ts"] == "1700000000.000100" and first.params["text"].startswith("w0")
    time.sleep(1.05)
    d.update(text + "more")
    assert len(fake.of("chat.update")) == 1
    ts = d.finish(RESULT)
    assert ts == fake.of("chat.postMessage")[0].response["ts"]
    updates = fake.of("chat.update")
    assert len(updates) == 2 and all(u.params["ts"] == ts for u in updates)
    final = updates[-1].params
    assert final["text"] == RESULT.answer
    assert "spec.docx · § 4.2 Supply" in str(final["blocks"])
    assert len(fake.of("chat.postMessage")) == 1
    # Reactions and corrections can now find this answer.
    assert conn.get(ANSWER_TS.format(channel="C0CHAN01", ts=ts)) == b"ans-stream"
    assert conn.get(THREAD_ANSWER.format(channel="C0CHAN01", thread_ts="1700000000.000100")) == ts.encode()


def test_retried_attempts_edit_the_one_message(slack) -> None:
    fake, conn = slack
    SlackDelivery(payload(), conn, "ans-retry").update("The supply")  # attempt 1 streams, then dies
    posted = fake.of("chat.postMessage")[0]
    ts = posted.response["ts"]
    SlackDelivery(payload(), conn, "ans-retry").notice("Having trouble answering; retrying shortly…")
    assert SlackDelivery(payload(), conn, "ans-retry").finish(RESULT) == ts  # attempt 2
    assert len(fake.of("chat.postMessage")) == 1, "a retry must not post a second answer"
    notice, final = fake.of("chat.update")
    assert notice.params["ts"] == ts and "retrying" in notice.params["text"]
    assert final.params["ts"] == ts and final.params["text"] == RESULT.answer
    assert posted.params["channel"] == "C0CHAN01"


def test_fail_posts_an_error_answer_when_nothing_was_posted(slack) -> None:
    fake, conn = slack
    SlackDelivery(payload(), conn, "ans-fail").fail("I could not answer this right now: the model is down.")
    post = fake.of("chat.postMessage")[0].params
    assert post["thread_ts"] == "1700000000.000100" and "could not answer" in post["text"]


def test_deleted_placeholder_gets_a_new_message(slack) -> None:
    fake, conn = slack
    d = SlackDelivery(payload(), conn, "ans-gone")
    d.update("partial")
    fake.messages.clear()  # a user deleted the placeholder
    ts = d.finish(RESULT)
    posts = fake.of("chat.postMessage")
    assert len(posts) == 2 and ts != "" and fake.messages[("C0CHAN01", ts)]["text"] == RESULT.answer


def test_command_answer_goes_to_the_channel_with_the_question(slack) -> None:
    fake, conn = slack
    SlackDelivery(payload(thread=None, source="command"), conn, "ans-cmd").finish(RESULT)
    post = fake.of("chat.postMessage")[0].params
    assert "thread_ts" not in post
    assert "<@U0ALICE1> asked: What is the supply range?" in str(post["blocks"])


def test_slack_refusing_the_final_answer_fails_the_attempt(slack) -> None:
    fake, conn = slack
    fake.errors["chat.postMessage"] = "internal_error"  # Slack's own trouble: a retry may succeed
    with pytest.raises(SlackApiError):  # RQ then retries the job
        SlackDelivery(payload(), conn, "ans-refused").finish(RESULT)
    SlackDelivery(payload(), conn, "ans-refused").update("streaming failures are not fatal")


@pytest.mark.parametrize("error", ["not_in_channel", "channel_not_found", "is_archived"])
def test_spec_where_the_bot_cannot_post_is_answered_through_the_response_url(slack, error: str) -> None:
    """/spec in a private channel or a DM the bot is not in: chat.postMessage can never
    work there. The answer goes through the command's response_url, and the attempt
    succeeds (a retry would run the model again for nothing)."""
    fake, conn = slack
    fake.errors["chat.postMessage"] = error
    q = payload(thread=None, source="command", response_url=fake.response_url("priv1"))
    d = SlackDelivery(q, conn, f"ans-priv-{error}")
    d.update("The supply")  # the placeholder fails: no streaming through a 5-use response_url
    d.update("The supply range is")
    d.notice("Having trouble answering; retrying shortly…")  # only the asker sees notices
    assert d.finish(RESULT) is None  # no message ts: nothing for reactions to find
    assert len(fake.of("chat.postMessage")) == 1, "Slack's answer was believed the first time"
    notice, answer = fake.wait_method("response_url", n=2)
    assert notice.params["response_type"] == "ephemeral" and "retrying" in notice.params["text"]
    assert answer.params["response_type"] == "in_channel" and answer.params["text"] == RESULT.answer
    assert "spec.docx · § 4.2 Supply" in str(answer.params["blocks"])
    assert "<@U0ALICE1> asked: What is the supply range?" in str(answer.params["blocks"])
    # The last-attempt error answer takes the same way.
    SlackDelivery(q, conn, f"ans-priv-{error}").fail("I could not answer this right now: it took too long.")
    assert "could not answer" in fake.wait_method("response_url", n=3)[-1].params["text"]


def test_closed_channel_without_response_url_is_final_not_retried(slack, caplog) -> None:
    fake, conn = slack
    fake.errors["chat.postMessage"] = "not_in_channel"
    with caplog.at_level("ERROR", logger="specbot.slack"):
        assert SlackDelivery(payload(), conn, "ans-closed").finish(RESULT) is None  # no exception: no retry
    assert "not delivered" in caplog.text and "not_in_channel" in caplog.text
    assert not fake.of("response_url")


def test_response_url_must_be_slacks(slack) -> None:
    """A job is data from Redis: its response_url cannot make the worker POST anywhere."""
    fake, conn = slack
    fake.errors["chat.postMessage"] = "not_in_channel"
    q = payload(thread=None, source="command", response_url="http://169.254.169.254/latest/meta-data")
    assert SlackDelivery(q, conn, "ans-ssrf").finish(RESULT) is None
    from specbot.slack.client import response_url_allowed

    assert response_url_allowed("https://hooks.slack.com/commands/T1/123/abc")
    assert not response_url_allowed("http://hooks.slack.com/commands/T1/123/abc")
    assert not response_url_allowed("https://hooks.slack.com.evil.example/x")


def test_sources_link_to_the_template_or_the_slack_file_and_buttons_carry_the_job(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Source lines link via SPEC_LINK_TEMPLATE, else to the Slack file a spec was added from,
    else stay plain; the answer carries its buttons, in the asker's language."""
    from feedback.interactions import record_spec_upload
    from specbot.settings import reset_settings
    from specbot.slack.views import ANSWER_ACTIONS_BLOCK, parse_answer_value

    fake = FakeSlack().start()
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1-2-x")
    monkeypatch.setenv("SLACK_API_URL", fake.url)
    monkeypatch.setenv("SLACK_INDEXERS", "U0IDX001")  # only indexers add specs from Slack
    reset_settings()
    conn = redis.Redis.from_url(redis_url)
    record_spec_upload(doc="slack.docx", source="slack", status="indexed", added_by="U0IDX001",
                       permalink="https://test.slack.com/files/U0IDX001/F1/slack.docx")  # fmt: skip
    sources = [{"doc": "slack.docx", "section": "1.2", "title": "A"}, {"doc": "cli.docx", "section": "3", "title": "B"}]
    result = AnswerResult.from_wire({"answer": "x", "sources": sources, "model": "m"})
    try:

        def deliver(job: str, lang: str | None = None) -> str:
            q = QuestionJob(question="q?", source="mention", channel="C1", thread_ts="1.1", lang=lang)
            ts = SlackDelivery(q, conn, job).finish(result)
            return json.dumps(fake.messages[("C1", str(ts))]["blocks"], ensure_ascii=False)

        blocks = deliver("j1", "ko")
        assert "<https://test.slack.com/files/U0IDX001/F1/slack.docx|slack.docx · § 1.2 A>" in blocks
        assert "• cli.docx · § 3 B" in blocks  # no template, not from Slack: plain
        assert "출처" in blocks and "수정 제안" in blocks
        (actions,) = [b for b in fake.messages[("C1", fake.of("chat.postMessage")[0].response["ts"])]["blocks"]
                      if b.get("block_id") == ANSWER_ACTIONS_BLOCK]  # fmt: skip
        assert parse_answer_value(actions["elements"][0]["value"]) == {"job": "j1", "lang": "ko", "alternative": False}

        monkeypatch.setenv("SPEC_LINK_TEMPLATE", "https://intranet/specs/{doc}#{section}")
        reset_settings()
        blocks = deliver("j2")
        assert "<https://intranet/specs/slack.docx#1.2|slack.docx · § 1.2 A>" in blocks
        assert "<https://intranet/specs/cli.docx#3|cli.docx · § 3 B>" in blocks
        assert "Sources" in blocks and "Suggest a correction" in blocks
    finally:
        fake.stop()
