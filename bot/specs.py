"""Specs added from Slack, by the people in SLACK_INDEXERS.

Two ways in:
- share a file in a DM to the bot (anyone else's file gets bot/questions.py's "a file but
  no question" reply, which says adding documents is for an admin);
- `@specbot index` in the thread where a .docx was shared (Slack does not deliver
  slash commands typed in a thread, so the mention is the in-thread way), or
  `/spec index` in the channel or DM, which takes the latest .docx shared there.

The bot only checks who asks and finds the file; an IndexJob on the `index` queue
downloads it with the bot token under the size cap, indexes it and replies in the
thread with the indexer's report (workers/slack_index.py). Everyone else gets a
polite refusal.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.deps import Deps, deps_of
from bot.events import strip_mentions, team_of
from bot.language import user_lang
from specbot.contracts import IndexJob, Lang, enqueue_index
from specbot.i18n import t
from specbot.slack.client import api_error, say, whisper
from specbot.slack.views import escape

log = logging.getLogger("specbot.bot")
INDEX_WORDS = ("index", "색인")
WORD_SUFFIXES = (".docx", ".docm", ".doc")


def is_index_request(text: str) -> bool:
    return strip_mentions(text).strip().lower() in INDEX_WORDS


def word_files(files: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [f for f in files or [] if str(f.get("name") or "").lower().endswith(WORD_SUFFIXES)]


# --- listeners -----------------------------------------------------------------------
def is_dm_file_share(event: dict[str, Any], context: BoltContext) -> bool:
    """Matcher: files an indexer shares with the bot in a DM, to be indexed.

    An indexer's non-Word file with a question in the text is a question; anyone
    else's file goes to bot/questions.py (a question, or the "file but no question"
    reply, which says that adding documents is for an admin)."""
    if event.get("channel_type") != "im" or not event.get("files") or event.get("user") == context.bot_user_id:
        return False
    if event.get("subtype") not in (None, "file_share"):
        return False
    if event.get("user") not in deps_of(context).settings.indexers:
        return False
    return bool(word_files(event.get("files"))) or not strip_mentions(event.get("text"))


def on_dm_file_share(
    ack: Ack, body: dict[str, Any], event: dict[str, Any], context: BoltContext, client: WebClient
) -> None:
    ack()
    deps_of(context).later(take_file_share, body, event, context, client)


# --- the work after the ack ----------------------------------------------------------
def take_file_share(body: dict[str, Any], event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    deps = deps_of(context)
    user, channel = str(event.get("user") or ""), str(event.get("channel") or "")
    lang = user_lang(deps, client, user, event.get("text"))
    thread = event.get("thread_ts") or event.get("ts")
    # Word files, or (none) every file, so that a PDF hears why it was not taken.
    files = word_files(event.get("files")) or list(event.get("files") or [])
    queue_files(deps, client, files, user, team_of(body, event), channel, thread, str(event.get("ts")), lang)


def take_index_request(
    deps: Deps,
    client: WebClient,
    user: str,
    team: str,
    channel: str,
    thread_ts: str | None,
    lang: Lang,
    reply_ts: str | None = None,
) -> None:
    """`@specbot index` in a thread (thread_ts) or `/spec index` (the latest share in the conversation)."""
    if user not in deps.settings.indexers:
        whisper(client, channel=channel, user=user, thread_ts=reply_ts, text=t("index_refused", lang))
        return
    files, where = find_shared_files(client, channel, thread_ts)
    if not files:
        whisper(client, channel=channel, user=user, thread_ts=reply_ts, text=t("index_no_file", lang))
        return
    queue_files(deps, client, files, user, team, channel, thread_ts or where, where or "", lang)


def find_shared_files(
    client: WebClient, channel: str, thread_ts: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """The Word files of the latest message that has any: in the thread, or in the conversation."""
    try:
        if thread_ts:
            messages = list(client.conversations_replies(channel=channel, ts=thread_ts, limit=200)["messages"] or [])
            messages.reverse()  # newest first
        else:
            messages = list(client.conversations_history(channel=channel, limit=50)["messages"] or [])
    except Exception as e:
        log.warning("cannot read the conversation for files: %s", api_error(e))
        return [], None
    for m in messages:
        files = word_files(m.get("files"))
        if files:
            return files, str(m.get("ts"))
    return [], None


def queue_files(
    deps: Deps,
    client: WebClient,
    files: list[dict[str, Any]],
    user: str,
    team: str,
    channel: str,
    thread_ts: str | None,
    share_ts: str,
    lang: Lang,
) -> None:
    for f in files:
        name = str(f.get("name") or f.get("id"))
        job = IndexJob(file_id=str(f["id"]), user=user, team=team, channel=channel, thread_ts=thread_ts, lang=lang)
        try:
            queued = enqueue_index(deps.get_conn(), job, key=f"{f['id']}:{share_ts}", settings=deps.settings)
        except redis.RedisError as e:
            log.error("Redis unavailable, spec not queued for indexing: %s", type(e).__name__)
            say(client, channel=channel, thread_ts=thread_ts, text=t("unavailable", lang))
            return
        if queued is not None:
            say(client, channel=channel, thread_ts=thread_ts, text=t("index_queued", lang, name=escape(name)))
