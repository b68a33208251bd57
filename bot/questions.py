"""Questions: `@specbot …` in a channel or thread, and direct messages.

Acked means queued. A listener first builds the QuestionJob and queues it (a few
Redis calls; for a follow-up in a thread, also the thread's history from the Web
API), then acks; every other Slack call (👀, replies) runs after the ack in the
thread pool. A bot that dies before the ack has queued nothing and acked nothing,
so Slack retries the event, and the short event claim (bot/dedupe.py) has expired
by then. When queueing fails the claim is released and the asker is told. Nothing
here raises into Bolt: a failure becomes a polite reply and a log line.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

import redis
from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.deps import deps_of
from bot.events import asked_at, from_bot, strip_mentions, team_of
from bot.language import known_lang, user_lang
from bot.ratelimit import wait_text
from bot.specs import is_index_request, queue_files, take_index_request, word_files
from specbot import metrics
from specbot.contracts import Lang, QuestionJob, QuestionSource, QueueFull, Turn, enqueue_question, job_id_for
from specbot.i18n import t
from specbot.slack.client import api_error, react, say, whisper

log = logging.getLogger("specbot.bot")
UNAVAILABLE = t("unavailable")
UNEXPECTED = t("unexpected")
EYES = "eyes"
HISTORY_TURNS = 10
HELP_WORDS = ("help", "?", "도움말")
NO_QUESTION_TEXT = t("no_question")


def too_long_text(length: int, limit: int, lang: str | None = None) -> str:
    return t("too_long", lang, length=f"{length:,}", limit=f"{limit:,}")


def say_in_lang(
    client: WebClient, deps: Any, user: str, text: str | None, channel: str, thread: str | None, key: str, **values: Any
) -> None:
    """After the ack: a reply from the catalog in the asker's language (users.info may be asked)."""
    say(client, channel=channel, thread_ts=thread, text=t(key, user_lang(deps, client, user, text), **values))


# --- listeners -----------------------------------------------------------------------
def on_mention(ack: Ack, body: dict[str, Any], event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    try:
        take_question(body, event, context, client, "mention")
    finally:
        ack()


def on_direct_message(
    ack: Ack, body: dict[str, Any], event: dict[str, Any], context: BoltContext, client: WebClient
) -> None:
    try:
        take_question(body, event, context, client, "dm")
    finally:
        ack()


def is_direct_message(event: dict[str, Any], context: BoltContext) -> bool:
    """Matcher: a person's message to the bot in its DM channel (with or without files)."""
    return (
        event.get("channel_type") == "im"
        and event.get("subtype") in (None, "thread_broadcast", "file_share")
        and event.get("user") != context.bot_user_id
    )


# --- the work before the ack ---------------------------------------------------------
def take_question(
    body: dict[str, Any], event: dict[str, Any], context: BoltContext, client: WebClient, source: QuestionSource
) -> None:
    """A question in a channel thread (mention) or a direct message (dm) -> the answers
    queue, before the listener acks. Slack calls go to the pool (`deps.later`)."""
    from bot.reactions import take_correction

    deps = deps_of(context)
    s = deps.settings
    later = deps.later
    team, channel, user, ts = team_of(body, event), event["channel"], event.get("user", ""), event["ts"]
    thread = event.get("thread_ts") or ts
    in_thread = thread != ts
    text = strip_mentions(event.get("text", ""))
    # Before the ack no Web API call: the text's language or a cached locale; None lets the
    # worker ask Slack (users.info, cached) for the asker's locale.
    lang: Lang | None = known_lang(deps, user, text)
    if not text and event.get("files"):
        later(take_file_message, body, event, context, client)
        return
    if not text or text.lower() in HELP_WORDS:
        later(partial(say_in_lang, client, deps, user, text, channel, thread, "help", prefix=s.slack_correction_prefix))
        return
    if in_thread and deps.is_correction(text):
        later(take_correction, body, event, context, client, text)
        return
    if is_index_request(text):
        # `@specbot index` in the thread where a .docx was shared (or in a DM: its latest share).
        later(index_request, deps, client, user, team, channel, thread if in_thread else None, text, thread)
        return
    if len(text) > s.question_max_chars:
        later(partial(say_in_lang, client, deps, user, text, channel, thread, "too_long",
                      length=f"{len(text):,}", limit=f"{s.question_max_chars:,}"))  # fmt: skip
        return
    key = context.get("event_key")
    try:
        conn = deps.get_conn()
        wait = deps.limiter.hit(conn, team, user)
        if wait:
            later(partial(whisper, client, channel=channel, user=user, thread_ts=thread, text=wait_text(wait, lang)))
            return
        history = (
            thread_history(client, channel, thread, ts, user, context.bot_user_id, context.bot_id) if in_thread else []
        )
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
    except Exception as e:  # whatever it was, the claim goes and the asker hears about it
        if key:
            deps.deduper.release(key)
        values: dict[str, Any] = {}
        if isinstance(e, QueueFull):
            log.warning("queue full (%d waiting), question in %s not queued", e.ahead, channel)
            metrics.question_refused("busy")
            reply, values = "busy", {"ahead": e.ahead}
        elif isinstance(e, redis.RedisError):
            log.error("Redis unavailable, question in %s not queued: %s", channel, type(e).__name__)
            reply = "unavailable"
        else:
            log.exception("question in %s not queued", channel)
            reply = "unexpected"
        later(partial(say_in_lang, client, deps, user, text, channel, thread, reply, **values))
        return
    log.info("queued %s from %s in %s", job.id, source, channel, extra={"question_id": job.id})
    metrics.question_received(source)
    if key:
        later(deps.deduper.confirm, key)
    later(react, client, channel, ts, EYES)


def take_file_message(body: dict[str, Any], event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """A DM or mention that carries files and no question text.

    A Word file from someone in SLACK_INDEXERS is indexed (bot/specs.py); everyone else
    (and every other file) gets a clear reply, never silence and never the help text."""
    deps = deps_of(context)
    user = str(event.get("user") or "")
    thread = event.get("thread_ts") or event["ts"]
    lang = user_lang(deps, client, user)
    files = word_files(event.get("files"))
    if files and user in deps.settings.indexers:
        queue_files(deps, client, files, user, team_of(body, event), event["channel"], thread, event["ts"], lang)
        return
    say(client, channel=event["channel"], thread_ts=thread, text=t("no_question", lang))


def index_request(
    deps: Any, client: WebClient, user: str, team: str, channel: str, thread: str | None, text: str, reply: str
) -> None:
    take_index_request(deps, client, user, team, channel, thread, user_lang(deps, client, user, text), reply_ts=reply)


def thread_history(
    client: WebClient,
    channel: str,
    thread_ts: str,
    before_ts: str,
    asker: str,
    bot_user_id: str | None,
    bot_id: str | None,
) -> list[Turn]:
    """Earlier turns of a thread as chat messages, oldest first (follow-up context).

    Only the asker's messages and the bot's answers: a thread is open to everyone in
    the channel, and anyone else's reply would otherwise speak to the model as the user."""
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
        if not mine and (from_bot(m) or m.get("user") != asker):
            continue  # other people's and other bots' messages are not this conversation
        text = (m.get("text") or "").strip() if mine else strip_mentions(m.get("text", ""))
        if text:
            turns.append(Turn(role="assistant" if mine else "user", content=text))
    return turns[-HISTORY_TURNS:]
