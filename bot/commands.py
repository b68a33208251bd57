"""`/spec …`: a question, or the read-only views `sources`, `stats` and `help`.

A question is queued before the ack, and the ack carries the outcome ("looking it
up", or why not: too long, rate limited, queue unreachable), so an acked question is
a queued one. The views run after the ack and answer through the response_url.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

import redis
from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient

from bot.deps import deps_of
from bot.language import quick_lang, user_lang
from bot.middleware import HELP_WORDS
from bot.questions import too_long_text
from bot.ratelimit import wait_text
from bot.specs import INDEX_WORDS, take_index_request
from specbot import metrics
from specbot.contracts import Lang, QuestionJob, QueueFull, enqueue_question, job_id_for
from specbot.i18n import t
from specbot.slack.formatting import escape, help_text

log = logging.getLogger("specbot.bot")
LOOKING = t("looking")
VIEWS = {"sources": "listing_docs", "stats": "counting"}


# --- listener ------------------------------------------------------------------------
def on_spec(ack: Ack, command: dict[str, Any], context: BoltContext, respond: Respond, client: WebClient) -> None:
    # Slack sends no time with a command: the moment it reached us is when it was asked.
    received = time.time()
    text = (command.get("text") or "").strip()
    word = text.lower()
    deps = deps_of(context)
    # The ack must be quick: the text's language, or the user's locale if it is cached.
    lang = quick_lang(deps, command.get("user_id"), text)
    if word in HELP_WORDS:
        ack(help_text(deps.settings.slack_correction_prefix, lang))
        return
    if word in INDEX_WORDS:
        ack()
        deps.later(take_command_index, command, context, client, lang)
        return
    if word in VIEWS:
        ack(t(VIEWS[word], lang))
        deps.later(show_view, word, respond, lang)
        return
    reply = t("unexpected", lang)
    try:
        reply = take_command_question(command, context, received, lang)
    finally:
        ack(reply)


# --- the work after the ack ----------------------------------------------------------
def show_view(word: str, respond: Respond, lang: Lang = "en") -> None:
    try:
        reply = sources_text() if word == "sources" else stats_text()
    except Exception as e:
        log.exception("/spec %s failed", word)
        reply = t("read_failed", lang, name=type(e).__name__)
    reply_privately(respond, reply)


def take_command_index(command: dict[str, Any], context: BoltContext, client: WebClient, lang: Lang) -> None:
    """`/spec index`: the latest .docx shared in this conversation (or in the command's
    thread, should Slack ever send one: today it does not deliver commands typed in threads)."""
    deps = deps_of(context)
    user, channel, team = command.get("user_id", ""), command.get("channel_id", ""), command.get("team_id", "")
    lang = user_lang(deps, client, user) if lang == "en" else lang  # now there is time to ask Slack
    take_index_request(deps, client, user, team, channel, command.get("thread_ts"), lang)


def take_command_question(command: dict[str, Any], context: BoltContext, received: float, lang: Lang = "en") -> str:
    """Queue a `/spec` question; the text for the ack: LOOKING, or why it was not queued."""
    deps = deps_of(context)
    text = (command.get("text") or "").strip()
    team, channel, user = command.get("team_id", ""), command.get("channel_id", ""), command.get("user_id", "")
    if len(text) > deps.settings.question_max_chars:
        return too_long_text(len(text), deps.settings.question_max_chars, lang)
    try:
        conn = deps.get_conn()
        wait = deps.limiter.hit(conn, team, user)
        if wait:
            return wait_text(wait, lang)
        question = QuestionJob(
            question=text,
            source="command",
            asked_at=received,
            user=user,
            team=team,
            channel=channel,
            # The way back when the bot is not in this conversation (private channel, DM).
            response_url=command.get("response_url") or None,
            lang=lang,
        )
        # Slack does not retry slash commands; the trigger ID is unique per invocation.
        jid = job_id_for(team, channel, "cmd:" + str(command.get("trigger_id")))
        job = enqueue_question(conn, question, job_id=jid, settings=deps.settings)
    except QueueFull as e:
        log.warning("queue full (%d waiting), /spec question in %s not queued", e.ahead, channel)
        metrics.question_refused("busy")
        return t("busy", lang, ahead=e.ahead)
    except redis.RedisError as e:
        log.error("Redis unavailable, /spec question in %s not queued: %s", channel, type(e).__name__)
        return t("unavailable", lang)
    except Exception:  # the asker hears about it in the ack
        log.exception("/spec question in %s not queued", channel)
        return t("unexpected", lang)
    log.info("queued %s from /spec in %s", job.id, channel, extra={"question_id": job.id})
    metrics.question_received("command")
    return t("looking", lang)


def reply_privately(respond: Respond, text: str) -> None:
    try:
        respond(text=text, response_type="ephemeral", replace_original=False)
    except Exception as e:
        log.error("response_url reply failed: %s", type(e).__name__)


# --- the views -----------------------------------------------------------------------
def _when(iso: str) -> str:
    try:
        dt = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return iso or "unknown time"
    return dt.strftime("%Y-%m-%d %H:%M") + (" UTC" if dt.utcoffset() is not None and not dt.utcoffset() else "")


def sources_text() -> str:
    from indexer.catalog import indexed_documents

    docs = indexed_documents()
    if not docs:
        return "No documents are indexed yet. An admin adds them with `specbot index <folder>`."
    lines = [f"*{len(docs)} indexed document{'s' if len(docs) != 1 else ''}:*"]
    for d in docs:
        lines.append(f"• {escape(d.doc)} — {d.chunks} chunks, indexed {_when(d.indexed_at)}")
    return "\n".join(lines)[:3000]


def stats_text() -> str:
    """The same totals as `specbot feedback stats` (feedback/stats.py), as one Slack line."""
    from feedback.stats import slack_summary, totals

    return slack_summary(totals())
