"""Slack listeners: @mentions, /spec, reactions and corrections.

Every listener acks at once (a trivial ack function run in the request thread)
and hands its work to a thread pool, so Slack gets its
HTTP 200 within milliseconds whatever Redis, the database or the Web API do.
Nothing in here may raise into Bolt: a failure becomes a polite reply and a log line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import redis
from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import state
from bot.dedupe import EventDeduper
from bot.formatting import help_text
from bot.ratelimit import RateLimiter, wait_text
from bot.reactions import DEFAULT_EMOJI, enqueue_correction, enqueue_vote, parse_emoji_map, vote_value
from specbot import metrics
from specbot.settings import Settings
from workers.queue import enqueue_answer, job_id_for

log = logging.getLogger("specbot.bot")
UNAVAILABLE = "I can't take questions right now — the question queue is unreachable. Please try again in a few minutes."
UNEXPECTED = "Sorry, something went wrong on my side and your question was not taken. Please ask again."
NOT_ENABLED = "I'm not enabled in this channel. Ask an admin to add it to specbot's allowlist."
LOOKING = "Looking it up… the answer will appear in this channel."
EYES = "eyes"
NOTED = "memo"
HISTORY_TURNS = 10
_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")


@dataclass
class Deps:
    """What the listeners need; one per bot process."""

    settings: Settings
    get_conn: Callable[[], redis.Redis]
    limiter: RateLimiter = field(init=False)
    deduper: EventDeduper = field(init=False)
    emoji: dict[str, int] = field(init=False)
    # Threads doing the work after the ack (Web API calls, Redis); Slack's own
    # rate limits keep this small pool ahead of real traffic.
    pool_size: int = 16
    pool: ThreadPoolExecutor = field(init=False)

    def __post_init__(self) -> None:
        s = self.settings
        self.limiter = RateLimiter(s.slack_rate_limit, s.slack_rate_window_s)
        self.deduper = EventDeduper(self.get_conn, s.slack_event_ttl_s)
        self.emoji = parse_emoji_map(getattr(s, "feedback_emoji", DEFAULT_EMOJI))
        self.pool = ThreadPoolExecutor(max_workers=self.pool_size, thread_name_prefix="specbot-listener")

    def drain(self) -> None:
        """On shutdown: finish what was acked (queue it, or tell the user), take nothing new."""
        self.pool.shutdown(wait=True, cancel_futures=False)

    def allowed(self, team: str | None, channel: str | None) -> bool:
        teams, channels = self.settings.allowed_teams, self.settings.allowed_channels
        return (not teams or team in teams) and (not channels or channel in channels)

    def is_correction(self, text: str) -> bool:
        prefix = self.settings.slack_correction_prefix.strip().lower()
        return bool(prefix) and text.lower().startswith(prefix)

    def correction_body(self, text: str) -> str:
        return text[len(self.settings.slack_correction_prefix.strip()) :].strip()


def strip_mentions(text: str) -> str:
    return _MENTION.sub(" ", text or "").strip()


def team_of(body: dict[str, Any], event: dict[str, Any]) -> str:
    return str(body.get("team_id") or event.get("team") or "")


def from_bot(event: dict[str, Any]) -> bool:
    return bool(event.get("bot_id") or event.get("subtype") == "bot_message" or event.get("bot_profile"))


def _say(client: WebClient, **kwargs: Any) -> None:
    """Post and never raise: the listener must survive a Web API failure."""
    try:
        client.chat_postMessage(**kwargs)
    except Exception as e:  # noqa: BLE001
        log.error("chat.postMessage to %s failed: %s", kwargs.get("channel"), _api_error(e))


def _whisper(client: WebClient, **kwargs: Any) -> None:
    try:
        client.chat_postEphemeral(**kwargs)
    except Exception as e:  # noqa: BLE001
        log.error("chat.postEphemeral to %s failed: %s", kwargs.get("channel"), _api_error(e))


def _react(client: WebClient, channel: str, ts: str, name: str) -> None:
    try:
        client.reactions_add(channel=channel, timestamp=ts, name=name)
    except SlackApiError as e:
        if e.response.get("error") != "already_reacted":  # a retried event reacts twice: fine
            log.warning("reactions.add %s failed: %s", name, _api_error(e))
    except Exception as e:  # noqa: BLE001
        log.warning("reactions.add %s failed: %s", name, _api_error(e))


def _api_error(e: Exception) -> str:
    if isinstance(e, SlackApiError):
        return str(e.response.get("error"))
    return type(e).__name__


def thread_history(
    client: WebClient, channel: str, thread_ts: str, before_ts: str, bot_user_id: str | None, bot_id: str | None
) -> list[dict[str, str]]:
    """Earlier turns of a thread as chat messages, oldest first (follow-up context)."""
    try:
        resp = client.conversations_replies(channel=channel, ts=thread_ts, limit=100)
    except Exception as e:  # noqa: BLE001 - without history the question is still answerable
        log.warning("conversations.replies failed: %s; answering without thread context", _api_error(e))
        return []
    turns: list[dict[str, str]] = []
    for m in resp.get("messages") or []:
        if float(m.get("ts", "0")) >= float(before_ts):
            continue
        mine = (bot_user_id and m.get("user") == bot_user_id) or (bot_id and m.get("bot_id") == bot_id)
        if not mine and from_bot(m):
            continue  # other bots' chatter is not part of the conversation
        text = (m.get("text") or "").strip() if mine else strip_mentions(m.get("text", ""))
        if text:
            turns.append({"role": "assistant" if mine else "user", "content": text})
    return turns[-HISTORY_TURNS:]


def register(app: App, deps: Deps) -> None:
    s = deps.settings

    pool = deps.pool

    def later(fn: Callable[..., None], *args: Any) -> None:
        """Run fn after the ack. Cheaper than Bolt's lazy listeners (no deep copy of the request)."""

        def run() -> None:
            try:
                fn(*args)
            except Exception:  # noqa: BLE001 - the listener survives anything one event does
                log.exception("listener %s failed", fn.__name__)

        pool.submit(run)

    def event_listener(fn: Callable[[dict, dict, BoltContext, WebClient], None]) -> Callable[..., None]:
        def listener(ack: Ack, body: dict, event: dict, context: BoltContext, client: WebClient) -> None:
            ack()
            later(fn, body, event, context, client)

        return listener

    # --- @specbot <question> ---------------------------------------------
    def on_mention(body: dict, event: dict, context: BoltContext, client: WebClient) -> None:
        if not deps.deduper.first_time(body.get("event_id") or f"mention:{event.get('channel')}:{event.get('ts')}"):
            return
        if from_bot(event) or event.get("user") == context.bot_user_id:
            return
        _question(body, event, context, client, "mention")

    def _question(body: dict, event: dict, context: BoltContext, client: WebClient, source: str) -> None:
        """A question in a channel thread (mention) or a direct message (dm)."""
        team, channel, user, ts = team_of(body, event), event["channel"], event.get("user", ""), event["ts"]
        thread = event.get("thread_ts") or ts
        in_thread = thread != ts
        if not deps.allowed(team, channel):
            _whisper(client, channel=channel, user=user, thread_ts=event.get("thread_ts"), text=NOT_ENABLED)
            return
        text = strip_mentions(event.get("text", ""))
        if not text or text.lower() in ("help", "?", "도움말"):
            _say(client, channel=channel, thread_ts=thread, text=help_text(s.slack_correction_prefix))
            return
        if in_thread and deps.is_correction(text):
            _correction(body, event, context, client, text)
            return
        try:
            conn = deps.get_conn()
            wait = deps.limiter.hit(conn, team, user)
            if wait:
                _whisper(client, channel=channel, user=user, thread_ts=thread, text=wait_text(wait))
                return
            _react(client, channel, ts, EYES)
            history = (
                thread_history(client, channel, thread, ts, context.bot_user_id, context.bot_id) if in_thread else []
            )
            payload = {
                "question": text,
                "user": user,
                "team": team,
                "channel": channel,
                "ts": ts,
                "thread_ts": thread,
                "history": history,
                "source": source,
            }
            job = enqueue_answer(conn, payload, job_id=job_id_for(team, channel, ts), settings=s)
            log.info("queued %s from %s in %s", job.id, source, channel, extra={"question_id": job.id})
            metrics.question_received(source)
        except redis.RedisError as e:
            log.error("Redis unavailable, question in %s not queued: %s", channel, type(e).__name__)
            _say(client, channel=channel, thread_ts=thread, text=UNAVAILABLE)
        except Exception:  # noqa: BLE001 - whatever it was, the asker hears about it
            log.exception("question in %s not queued", channel)
            _say(client, channel=channel, thread_ts=thread, text=UNEXPECTED)

    app.event("app_mention")(event_listener(on_mention))

    # --- thread replies: `correction: …` ----------------------------------
    def _correction(body: dict, event: dict, context: BoltContext, client: WebClient, text: str) -> None:
        team, channel, ts = team_of(body, event), event["channel"], event["ts"]
        thread = event["thread_ts"]
        try:
            conn = deps.get_conn()
            answer_ts = state.latest_answer_in_thread(conn, channel, thread)
            if answer_ts is None:
                answer_ts = _last_bot_message(client, channel, thread, ts, context.bot_user_id)
            if answer_ts is None:
                return  # a thread without an answer of ours: not a correction to anything
            corr = {
                "team": team,
                "channel": channel,
                "thread_ts": thread,
                "answer_ts": answer_ts,
                "user": event.get("user"),
                "text": deps.correction_body(text),
                "event_id": body.get("event_id"),
                "ts": ts,
            }
            enqueue_correction(conn, corr)
            _react(client, channel, ts, NOTED)  # the author sees it was taken
        except redis.RedisError as e:
            log.error("Redis unavailable, correction %s:%s not queued: %s", channel, ts, type(e).__name__)
            _whisper(
                client,
                channel=channel,
                user=event.get("user", ""),
                thread_ts=thread,
                text="I couldn't save your correction right now; please post it again in a few minutes.",
            )

    def on_message(body: dict, event: dict, context: BoltContext, client: WebClient) -> None:
        # Only plain human thread replies that start with the correction prefix matter here.
        if event.get("subtype") not in (None, "thread_broadcast") or from_bot(event):
            return
        thread = event.get("thread_ts")
        if event.get("channel_type") == "im" and event.get("user") != context.bot_user_id:
            # A direct message to the bot is a question (or, in a thread, maybe a correction).
            if thread and thread != event.get("ts") and deps.is_correction(strip_mentions(event.get("text", ""))):
                if deps.deduper.first_time(body.get("event_id") or f"msg:{event.get('channel')}:{event.get('ts')}"):
                    _correction(body, event, context, client, strip_mentions(event.get("text", "")))
                return
            if deps.deduper.first_time(body.get("event_id") or f"dm:{event.get('channel')}:{event.get('ts')}"):
                _question(body, event, context, client, "dm")
            return
        if not thread or thread == event.get("ts"):
            return
        raw = event.get("text", "")
        if context.bot_user_id and f"<@{context.bot_user_id}" in raw:
            return  # the app_mention event carries this one
        text = strip_mentions(raw)
        if not deps.is_correction(text):
            return
        if not deps.deduper.first_time(body.get("event_id") or f"msg:{event.get('channel')}:{event.get('ts')}"):
            return
        _correction(body, event, context, client, text)

    app.event("message")(event_listener(on_message))

    # --- reactions on answers --------------------------------------------
    def on_reaction(body: dict, event: dict, context: BoltContext, added: bool) -> None:
        item = event.get("item") or {}
        if item.get("type") != "message" or event.get("user") == context.bot_user_id:
            return
        event_id = body.get("event_id") or f"{event.get('user')}:{event.get('reaction')}:{event.get('event_ts')}"
        if not deps.deduper.first_time(event_id):
            return
        channel, ts = item.get("channel", ""), item.get("ts", "")
        vote = {
            "team": team_of(body, event),
            "channel": channel,
            "message_ts": ts,
            "user": event.get("user"),
            "reaction": event.get("reaction"),
            "added": added,
            "event_id": event_id,
            "event_ts": event.get("event_ts"),
            "value": vote_value(event.get("reaction", ""), deps.emoji),
        }
        try:
            conn = deps.get_conn()
            ours = state.is_answer(conn, channel, ts) or (
                bool(context.bot_user_id) and event.get("item_user") == context.bot_user_id
            )
            if not ours:
                return
            enqueue_vote(conn, vote)
            metrics.vote(vote["value"], added=added)
        except redis.RedisError as e:
            # Logged in full (no secrets in it) so it can be replayed by hand.
            log.error("Redis unavailable, vote not queued: %s %s", type(e).__name__, vote)

    def on_reaction_added(body: dict, event: dict, context: BoltContext, client: WebClient) -> None:
        on_reaction(body, event, context, True)

    def on_reaction_removed(body: dict, event: dict, context: BoltContext, client: WebClient) -> None:
        on_reaction(body, event, context, False)

    app.event("reaction_added")(event_listener(on_reaction_added))
    app.event("reaction_removed")(event_listener(on_reaction_removed))

    # --- /spec -----------------------------------------------------------
    def spec_ack(ack: Ack, command: dict, respond: Respond, client: WebClient) -> None:
        text = (command.get("text") or "").strip()
        word = text.lower()
        if word in ("", "help", "?"):
            ack(help_text(s.slack_correction_prefix))
        elif not deps.allowed(command.get("team_id"), command.get("channel_id")):
            ack(NOT_ENABLED)
        elif word == "sources":
            ack("Listing the indexed documents…")
        elif word == "stats":
            ack("Counting the feedback…")
        else:
            ack(LOOKING)
        later(spec_work, command, respond, client)

    def spec_work(command: dict, respond: Respond, client: WebClient) -> None:
        from bot import commands

        text = (command.get("text") or "").strip()
        word = text.lower()
        team, channel, user = command.get("team_id", ""), command.get("channel_id", ""), command.get("user_id", "")
        if word in ("", "help", "?") or not deps.allowed(team, channel):
            return
        if word in ("sources", "stats"):
            try:
                reply = commands.sources_text() if word == "sources" else commands.stats_text()
            except Exception as e:  # noqa: BLE001
                log.exception("/spec %s failed", word)
                reply = f"Sorry, I couldn't read that right now ({type(e).__name__})."
            _respond(respond, reply)
            return
        try:
            conn = deps.get_conn()
            wait = deps.limiter.hit(conn, team, user)
            if wait:
                _respond(respond, wait_text(wait))
                return
            payload = {
                "question": text,
                "user": user,
                "team": team,
                "channel": channel,
                "ts": None,
                "thread_ts": None,
                "history": [],
                "source": "command",
            }
            # Slack does not retry slash commands; the trigger ID is unique per invocation.
            jid = job_id_for(team, channel, "cmd:" + str(command.get("trigger_id")))
            job = enqueue_answer(conn, payload, job_id=jid, settings=s)
            log.info("queued %s from /spec in %s", job.id, channel, extra={"question_id": job.id})
            metrics.question_received("command")
        except redis.RedisError as e:
            log.error("Redis unavailable, /spec question in %s not queued: %s", channel, type(e).__name__)
            _respond(respond, UNAVAILABLE)

    app.command("/spec")(spec_ack)


def _respond(respond: Respond, text: str) -> None:
    try:
        respond(text=text, response_type="ephemeral", replace_original=False)
    except Exception as e:  # noqa: BLE001
        log.error("response_url reply failed: %s", type(e).__name__)


def _last_bot_message(
    client: WebClient, channel: str, thread_ts: str, before_ts: str, bot_user_id: str | None
) -> str | None:
    """Fallback when Redis no longer knows the thread: the bot's latest message before the reply."""
    try:
        resp = client.conversations_replies(channel=channel, ts=thread_ts, limit=200)
    except Exception as e:  # noqa: BLE001
        log.warning("conversations.replies failed: %s", _api_error(e))
        return None
    found = None
    for m in resp.get("messages") or []:
        if float(m.get("ts", "0")) < float(before_ts) and bot_user_id and m.get("user") == bot_user_id:
            found = m["ts"]
    return found
