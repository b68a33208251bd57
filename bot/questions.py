"""Questions: `@specbot …` in a channel or thread, and direct messages.

Each listener acks at once and hands the work to the thread pool, so Slack gets
its HTTP 200 within milliseconds whatever Redis or the Web API do. The work
builds one QuestionJob and queues it; nothing here raises into Bolt: a failure
becomes a polite reply and a log line.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.deps import deps_of
from bot.events import asked_at, from_bot, strip_mentions, team_of
from bot.language import user_lang
from bot.ratelimit import wait_text
from bot.specs import is_index_request, take_index_request
from specbot import metrics
from specbot.contracts import QuestionJob, QuestionSource, Turn, enqueue_question, job_id_for
from specbot.i18n import t
from specbot.slack.client import api_error, react, say, whisper
from specbot.slack.formatting import help_text

log = logging.getLogger("specbot.bot")
UNAVAILABLE = t("unavailable")
UNEXPECTED = t("unexpected")
EYES = "eyes"
HISTORY_TURNS = 10
HELP_WORDS = ("help", "?", "도움말")


# --- listeners -----------------------------------------------------------------------
def on_mention(ack: Ack, body: dict[str, Any], event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    ack()
    deps_of(context).later(take_question, body, event, context, client, "mention")


def on_direct_message(
    ack: Ack, body: dict[str, Any], event: dict[str, Any], context: BoltContext, client: WebClient
) -> None:
    ack()
    deps_of(context).later(take_question, body, event, context, client, "dm")


def is_direct_message(event: dict[str, Any], context: BoltContext) -> bool:
    """Matcher: a person's message to the bot in its DM channel."""
    return (
        event.get("channel_type") == "im"
        and event.get("subtype") in (None, "thread_broadcast")
        and event.get("user") != context.bot_user_id
    )


# --- the work after the ack ----------------------------------------------------------
def take_question(
    body: dict[str, Any], event: dict[str, Any], context: BoltContext, client: WebClient, source: QuestionSource
) -> None:
    """A question in a channel thread (mention) or a direct message (dm) -> the answers queue."""
    from bot.reactions import take_correction

    deps = deps_of(context)
    s = deps.settings
    team, channel, user, ts = team_of(body, event), event["channel"], event.get("user", ""), event["ts"]
    thread = event.get("thread_ts") or ts
    in_thread = thread != ts
    text = strip_mentions(event.get("text", ""))
    lang = user_lang(deps, client, user, text)
    if not text or text.lower() in HELP_WORDS:
        say(client, channel=channel, thread_ts=thread, text=help_text(s.slack_correction_prefix, lang))
        return
    if in_thread and deps.is_correction(text):
        take_correction(body, event, context, client, text)
        return
    if is_index_request(text):
        # `@specbot index` in the thread where a .docx was shared (or in a DM: its latest share).
        take_index_request(deps, client, user, team, channel, thread if in_thread else None, lang, reply_ts=thread)
        return
    try:
        conn = deps.get_conn()
        wait = deps.limiter.hit(conn, team, user)
        if wait:
            whisper(client, channel=channel, user=user, thread_ts=thread, text=wait_text(wait, lang))
            return
        react(client, channel, ts, EYES)
        history = thread_history(client, channel, thread, ts, context.bot_user_id, context.bot_id) if in_thread else []
        question = QuestionJob(
            question=text,
            source=source,
            asked_at=asked_at(body, event),
            user=user,
            team=team,
            channel=channel,
            ts=ts,
            thread_ts=thread,
            history=tuple(history),
            lang=lang,
        )
        job = enqueue_question(conn, question, job_id=job_id_for(team, channel, ts), settings=s)
        log.info("queued %s from %s in %s", job.id, source, channel, extra={"question_id": job.id})
        metrics.question_received(source)
    except redis.RedisError as e:
        log.error("Redis unavailable, question in %s not queued: %s", channel, type(e).__name__)
        say(client, channel=channel, thread_ts=thread, text=t("unavailable", lang))
    except Exception:  # whatever it was, the asker hears about it
        log.exception("question in %s not queued", channel)
        say(client, channel=channel, thread_ts=thread, text=t("unexpected", lang))


def thread_history(
    client: WebClient, channel: str, thread_ts: str, before_ts: str, bot_user_id: str | None, bot_id: str | None
) -> list[Turn]:
    """Earlier turns of a thread as chat messages, oldest first (follow-up context)."""
    try:
        resp = client.conversations_replies(channel=channel, ts=thread_ts, limit=100)
    except Exception as e:  # without history the question is still answerable
        log.warning("conversations.replies failed: %s; answering without thread context", api_error(e))
        return []
    turns: list[Turn] = []
    for m in resp.get("messages") or []:
        if float(m.get("ts", "0")) >= float(before_ts):
            continue
        mine = (bot_user_id and m.get("user") == bot_user_id) or (bot_id and m.get("bot_id") == bot_id)
        if not mine and from_bot(m):
            continue  # other bots' chatter is not part of the conversation
        text = (m.get("text") or "").strip() if mine else strip_mentions(m.get("text", ""))
        if text:
            turns.append(Turn(role="assistant" if mine else "user", content=text))
    return turns[-HISTORY_TURNS:]
