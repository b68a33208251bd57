"""The message shortcut "Ask specbot about this message" (callback_id `ask_specbot`).

The message's text is the question; the answer goes into that message's thread,
like a mention there. Allowlist and rate limit apply as for any question.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.deps import deps_of
from bot.events import strip_mentions
from bot.language import user_lang
from bot.ratelimit import wait_text
from specbot import metrics
from specbot.contracts import QuestionJob, enqueue_question, job_id_for
from specbot.i18n import t
from specbot.slack.client import react, say, whisper

log = logging.getLogger("specbot.bot")


def on_ask_shortcut(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    ack()
    deps_of(context).later(take_shortcut_question, body, context, client, time.time())


def take_shortcut_question(body: dict[str, Any], context: BoltContext, client: WebClient, received: float) -> None:
    deps = deps_of(context)
    message = body.get("message") or {}
    channel = str((body.get("channel") or {}).get("id") or "")
    user = str((body.get("user") or {}).get("id") or "")
    team = str((body.get("team") or {}).get("id") or "")
    ts = str(message.get("ts") or "")
    thread = str(message.get("thread_ts") or ts)
    text = strip_mentions(message.get("text"))
    lang = user_lang(deps, client, user, text)
    if not deps.allowed(team, channel):
        whisper(client, channel=channel, user=user, text=t("not_enabled", lang))
        return
    if not text:
        whisper(client, channel=channel, user=user, thread_ts=thread, text=t("shortcut_no_text", lang))
        return
    try:
        conn = deps.get_conn()
        wait = deps.limiter.hit(conn, team, user)
        if wait:
            whisper(client, channel=channel, user=user, thread_ts=thread, text=wait_text(wait, lang))
            return
        question = QuestionJob(question=text, source="shortcut", asked_at=received, user=user, team=team,
                               channel=channel, ts=ts, thread_ts=thread, lang=lang)  # fmt: skip
        # One answer per message and person: asking twice about the same message is one question.
        job = enqueue_question(conn, question, job_id=job_id_for(team, channel, f"shortcut:{ts}:{user}"),
                               settings=deps.settings)  # fmt: skip
        react(client, channel, ts, "eyes")
        log.info("queued %s from the shortcut in %s", job.id, channel, extra={"question_id": job.id})
        metrics.question_received("shortcut")
    except redis.RedisError as e:
        log.error("Redis unavailable, shortcut question in %s not queued: %s", channel, type(e).__name__)
        say(client, channel=channel, thread_ts=thread, text=t("unavailable", lang))
