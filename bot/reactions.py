"""Feedback from people: reactions on answers and `correction: …` thread replies.

They become VoteEvent / CorrectionEvent jobs on the `feedback` queue rather than
database writes, so that a database outage only delays them: the job retries
with backoff until it lands (feedback/jobs.py applies them).
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.deps import deps_of
from bot.events import event_key, strip_mentions, team_of
from bot.language import quick_lang
from specbot import metrics
from specbot.contracts import CorrectionEvent, VoteEvent, base_emoji, enqueue_correction, enqueue_vote
from specbot.i18n import t
from specbot.slack import state
from specbot.slack.client import api_error, react, whisper

log = logging.getLogger("specbot.bot")
NOTED = "memo"


# --- listeners -----------------------------------------------------------------------
def on_reaction_added(ack: Ack, body: dict[str, Any], event: dict[str, Any], context: BoltContext) -> None:
    ack()
    deps_of(context).later(take_vote, body, event, context, True)


def on_reaction_removed(ack: Ack, body: dict[str, Any], event: dict[str, Any], context: BoltContext) -> None:
    ack()
    deps_of(context).later(take_vote, body, event, context, False)


def on_correction_reply(
    ack: Ack, body: dict[str, Any], event: dict[str, Any], context: BoltContext, client: WebClient
) -> None:
    ack()
    deps_of(context).later(take_correction, body, event, context, client, strip_mentions(event.get("text", "")))


def is_correction_reply(event: dict[str, Any], context: BoltContext) -> bool:
    """Matcher: a person's thread reply that starts with the correction prefix.

    In a channel, a reply that mentions the bot arrives again as `app_mention`,
    which takes it (bot/questions.py); in a DM there is no `app_mention`."""
    if event.get("subtype") not in (None, "thread_broadcast") or event.get("user") == context.bot_user_id:
        return False
    thread = event.get("thread_ts")
    if not thread or thread == event.get("ts"):
        return False
    raw = event.get("text", "")
    if event.get("channel_type") != "im" and context.bot_user_id and f"<@{context.bot_user_id}" in raw:
        return False
    return deps_of(context).is_correction(strip_mentions(raw))


def ignore_message(ack: Ack) -> None:
    """Every other message in the channels the bot is in: acked, nothing to do."""
    ack()


# --- the work after the ack ----------------------------------------------------------
def take_vote(body: dict[str, Any], event: dict[str, Any], context: BoltContext, added: bool) -> None:
    deps = deps_of(context)
    item = event.get("item") or {}
    if item.get("type") != "message" or event.get("user") == context.bot_user_id:
        return
    channel, ts = item.get("channel", ""), item.get("ts", "")
    reaction = base_emoji(event.get("reaction", ""))
    vote = VoteEvent(
        team=team_of(body, event),
        channel=channel,
        message_ts=ts,
        user=event.get("user", ""),
        reaction=reaction,
        added=added,
        value=deps.emoji.get(reaction),
        event_id=event_key(body),
        event_ts=event.get("event_ts"),
    )
    try:
        conn = deps.get_conn()
        ours = state.is_answer(conn, channel, ts) or (
            bool(context.bot_user_id) and event.get("item_user") == context.bot_user_id
        )
        if not ours:
            return
        enqueue_vote(conn, vote)
        metrics.vote(vote.value, added=added)
    except redis.RedisError as e:
        # Enough to find the event, never the voter: raw user IDs stay out of logs.
        log.error(
            "Redis unavailable, vote not queued: %s (event %s, %s %s on %s:%s)",
            type(e).__name__,
            vote.event_id,
            "added" if added else "removed",
            vote.reaction,
            channel,
            ts,
        )


def take_correction(
    body: dict[str, Any], event: dict[str, Any], context: BoltContext, client: WebClient, text: str
) -> None:
    deps = deps_of(context)
    team, channel, ts = team_of(body, event), event["channel"], event["ts"]
    thread = event["thread_ts"]
    try:
        conn = deps.get_conn()
        answer_ts = state.latest_answer_in_thread(conn, channel, thread)
        if answer_ts is None:
            answer_ts = _last_bot_message(client, channel, thread, ts, context.bot_user_id)
        if answer_ts is None:
            return  # a thread without an answer of ours: not a correction to anything
        corr = CorrectionEvent(
            team=team,
            channel=channel,
            thread_ts=thread,
            answer_ts=answer_ts,
            user=event.get("user", ""),
            text=deps.correction_body(text),
            event_id=body.get("event_id"),
            ts=ts,
        )
        enqueue_correction(conn, corr)
        react(client, channel, ts, NOTED)  # the author sees it was taken
    except redis.RedisError as e:
        log.error("Redis unavailable, correction %s:%s not queued: %s", channel, ts, type(e).__name__)
        whisper(
            client,
            channel=channel,
            user=event.get("user", ""),
            thread_ts=thread,
            text=t("correction_not_saved", quick_lang(deps, event.get("user"), text)),
        )


def _last_bot_message(
    client: WebClient, channel: str, thread_ts: str, before_ts: str, bot_user_id: str | None
) -> str | None:
    """Fallback when Redis no longer knows the thread: the bot's latest message before the reply."""
    try:
        resp = client.conversations_replies(channel=channel, ts=thread_ts, limit=200)
    except Exception as e:
        log.warning("conversations.replies failed: %s", api_error(e))
        return None
    found = None
    for m in resp.get("messages") or []:
        if float(m.get("ts", "0")) < float(before_ts) and bot_user_id and m.get("user") == bot_user_id:
            found = m["ts"]
    return found
