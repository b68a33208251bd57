"""Structured JSON logs: one object per line, the question ID on it, and never a secret.

The whole path (bot -> worker, both processes' logs) is checked in
tests/scenarios/test_metrics_stack.py; these tests pin the formatter and the redaction.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from specbot import logs

BOT_TOKEN = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp"
USER_TOKEN = "xoxp-1111-2222-3333-ZyXwVuTsRq"
APP_TOKEN = "xapp-1-A0SPECBOT-1234567890-abcdef0123456789"
SIGNING = "8f14e45fceea167a5a36dedd4bea2543"
LLM_KEY = "sk-local-vllm-key-8d7f6e5d"
WEAVIATE_KEY = "weaviate-admin-key-77aa88bb"


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_APP_TOKEN", APP_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING)
    monkeypatch.setenv("LLM_API_KEY", LLM_KEY)
    monkeypatch.setenv("WEAVIATE_API_KEY", WEAVIATE_KEY)
    monkeypatch.setenv("HF_TOKEN", "hf_abcdefghijklmnopqrstuvwxyz")
    from specbot.settings import reset_settings

    reset_settings()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buf = io.StringIO()
    logs.setup("worker", level="DEBUG", fmt="json", stream=buf)
    yield buf
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in saved[0]:
        root.addHandler(h)
    root.setLevel(saved[1])


def lines(buf: io.StringIO) -> list[dict]:
    return [json.loads(x) for x in buf.getvalue().splitlines() if x.strip()]


def test_every_line_is_json_with_the_question_id(captured: io.StringIO) -> None:
    log = logging.getLogger("specbot.worker")
    log.info("before")
    with logs.question("ans-0123456789abcdef0123"):
        log.info("retrieving for %s", "5.3.1", extra={"hits": 6})
        logging.getLogger("rq.worker").warning("library line")
    log.info("after")
    recs = lines(captured)
    assert [r["msg"] for r in recs] == ["before", "retrieving for 5.3.1", "library line", "after"]
    assert [r["question_id"] for r in recs] == [None, "ans-0123456789abcdef0123", "ans-0123456789abcdef0123", None]
    assert recs[1]["hits"] == 6 and recs[1]["role"] == "worker" and recs[1]["level"] == "info"
    assert recs[2]["logger"] == "rq.worker"


def test_tokens_and_configured_secrets_never_appear(captured: io.StringIO) -> None:
    log = logging.getLogger("specbot.bot")
    log.info("posting with %s", BOT_TOKEN)
    log.warning("user token %s and app token %s", USER_TOKEN, APP_TOKEN)
    log.info("headers: {'Authorization': 'Bearer %s'}", LLM_KEY)
    log.info("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig")
    log.info("signing secret was %s", SIGNING)
    log.info("weaviate key %s", WEAVIATE_KEY)
    log.info("connecting to redis://:hunter2pass@redis:6379/0 and postgresql+psycopg://specbot:pw9876@db/specbot")
    log.info("request", extra={"token": BOT_TOKEN, "url": "https://slack.com/api/chat.postMessage"})
    try:
        raise RuntimeError(f"Slack said invalid_auth for {BOT_TOKEN}")
    except RuntimeError:
        log.exception("delivery failed")
    text = captured.getvalue()
    for secret in (BOT_TOKEN, USER_TOKEN, APP_TOKEN, SIGNING, LLM_KEY, WEAVIATE_KEY, "hunter2pass", "pw9876"):
        assert secret not in text
    assert "eyJhbGciOiJIUzI1NiJ9" not in text
    recs = lines(captured)
    assert len(recs) == 9
    assert all("[REDACTED]" in r["msg"] or "[REDACTED]" in json.dumps(r) for r in recs)
    # What is not secret survives, so the line is still useful.
    assert "redis://[REDACTED]@redis:6379/0" in recs[6]["msg"]
    assert recs[7]["url"] == "https://slack.com/api/chat.postMessage"
    assert "RuntimeError" in recs[8]["exc"] and "invalid_auth" in recs[8]["exc"]


def test_placeholders_are_not_treated_as_secrets(captured: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> None:
    # LLM_API_KEY=EMPTY (the default) must not blank out the word EMPTY everywhere.
    monkeypatch.setenv("LLM_API_KEY", "EMPTY")
    from specbot.settings import reset_settings

    reset_settings()
    flt = logs.RedactingFilter()
    rec = logging.LogRecord("x", logging.INFO, __file__, 1, "queue EMPTY, model specbot", None, None)
    flt.filter(rec)
    assert rec.getMessage() == "queue EMPTY, model specbot"


def test_text_format_is_redacted_too(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buf = io.StringIO()
    try:
        logs.setup("bot", level="INFO", fmt="text", stream=buf)
        logging.getLogger("specbot.bot").info("token %s", BOT_TOKEN)
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])
    assert BOT_TOKEN not in buf.getvalue() and "token [REDACTED]" in buf.getvalue()
