"""The buttons under an answer, "Which is better?", and the correction modal.

Every listener acks at once (Slack shows an error if it waits over 3 s) and hands
the work to the thread pool. What must not be lost (votes, choices, corrections)
goes onto the `feedback` queue, where the job records it and then edits the
message; what only the presser needs (sources, notes) is an ephemeral reply.

Permission: anyone may vote, read sources, ask for another answer or suggest a
correction (trusted only from the asker or a reviewer: feedback/export.py); only
the asker or a reviewer (FEEDBACK_REVIEWERS) may choose between A and B.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Literal

import redis
from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.deps import deps_of
from bot.language import user_lang
from specbot import metrics
from specbot.contracts import (
    AlternativeJob,
    ButtonVote,
    ChoiceEvent,
    CorrectionEvent,
    enqueue_alternative,
    enqueue_button_vote,
    enqueue_choice,
    enqueue_correction,
)
from specbot.i18n import t
from specbot.slack import views
from specbot.slack.client import api_error, whisper

log = logging.getLogger("specbot.bot")
Choice = Literal["a", "b", "neither"]
CHOICES: dict[str, Choice] = {views.AB_A: "a", views.AB_B: "b", views.AB_NEITHER: "neither"}


# --- what a block_actions payload says ---------------------------------------------
def _where(body: dict[str, Any]) -> dict[str, Any]:
    container = body.get("container") or {}
    message = body.get("message") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id") or ""
    ts = container.get("message_ts") or message.get("ts") or ""
    return {
        "team": (body.get("team") or {}).get("id") or "",
        "channel": channel,
        "ts": ts,
        "thread_ts": container.get("thread_ts") or message.get("thread_ts"),
        "user": (body.get("user") or {}).get("id") or "",
    }


def _note(client: WebClient, where: dict[str, Any], text: str) -> None:
    whisper(client, channel=where["channel"], user=where["user"], thread_ts=where["thread_ts"], text=text)


# --- listeners -----------------------------------------------------------------------
def on_vote(ack: Ack, body: dict[str, Any], action: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    ack()
    deps_of(context).later(take_vote_press, body, action, context, client)


def on_sources(ack: Ack, body: dict[str, Any], action: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    ack()
    deps_of(context).later(show_sources, body, action, context, client)


def on_try_another(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], context: BoltContext, client: WebClient
) -> None:
    ack()
    deps_of(context).later(take_try_another, body, action, context, client)


def on_choice(ack: Ack, body: dict[str, Any], action: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    ack()
    deps_of(context).later(take_choice, body, action, context, client)


def on_correct(ack: Ack, body: dict[str, Any], action: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    ack()
    # views.open must follow within 3 s of the press (the trigger_id expires): no queue in between.
    deps_of(context).later(open_correction_modal, body, action, context, client)


def on_correction_submitted(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext, client: WebClient
) -> None:
    state = (view.get("state") or {}).get("values") or {}
    text = ((state.get(views.CORRECTION_BLOCK) or {}).get(views.CORRECTION_INPUT) or {}).get("value") or ""
    meta = views.parse_modal_metadata(view.get("private_metadata") or "")
    if not text.strip():
        ack(response_action="errors", errors={views.CORRECTION_BLOCK: t("modal_empty", meta["lang"])})
        return
    ack()  # closes the modal
    deps_of(context).later(take_modal_correction, body, view, meta, text.strip(), context, client)


# --- the work after the ack ----------------------------------------------------------
def take_vote_press(body: dict[str, Any], action: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    deps = deps_of(context)
    where = _where(body)
    answer = views.parse_answer_value(action.get("value") or "")
    vote = ButtonVote(
        team=where["team"],
        channel=where["channel"],
        message_ts=where["ts"],
        answer_job_id=answer["job"],
        user=where["user"],
        value=1 if action.get("action_id") == views.VOTE_UP else -1,
        action_ts=str(action.get("action_ts") or time.time()),
        lang=answer["lang"],
        alternative=answer["alternative"],
        blocks=tuple((body.get("message") or {}).get("blocks") or ()),
    )
    try:
        if enqueue_button_vote(deps.get_conn(), vote) is not None:
            metrics.vote(vote.value, added=True)
    except redis.RedisError as e:
        log.error("Redis unavailable, button vote not queued: %s", type(e).__name__)
        _note(client, where, t("unavailable", answer["lang"]))


def show_sources(body: dict[str, Any], action: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """The full text of each cited section, privately, in as many messages as Slack's limits need."""
    from feedback.interactions import AnswerNotFound, answer_info

    deps = deps_of(context)
    where = _where(body)
    answer = views.parse_answer_value(action.get("value") or "")
    lang = answer["lang"]
    try:
        info = answer_info(job_id=answer["job"])
    except AnswerNotFound:
        _note(client, where, t("answer_gone", lang))
        return
    except Exception as e:  # the database is away: say so, nothing is lost by asking again later
        log.warning("sources for %s unavailable: %s", answer["job"], type(e).__name__)
        _note(client, where, t("read_failed", lang, name=type(e).__name__))
        return
    sections = cited_sections(info)
    for text, blocks in views.sources_messages(sections, lang, deps.settings.spec_link_template, _permalinks()):
        whisper(client, channel=where["channel"], user=where["user"], thread_ts=where["thread_ts"], text=text,
                blocks=blocks)  # fmt: skip


def cited_sections(info: dict[str, Any]) -> list[dict[str, Any]]:
    """Each cited (doc, section) once, with the section's whole text from the index when it
    can be read, else the text of the chunks the answer was given."""
    from indexer.catalog import section_text

    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for s in info.get("sources") or []:
        key = (str(s.get("doc") or ""), str(s.get("section") or ""))
        if key in seen:
            continue
        seen.add(key)
        chunks = [h.get("text") or "" for h in info.get("hits") or [] if (h.get("doc"), h.get("section")) == key]
        try:
            full = section_text(key[0], key[1], str(s.get("title") or ""))
        except Exception as e:
            log.warning("index unavailable for the full section text: %s", type(e).__name__)
            full = None
        out.append({**s, "text": full or "\n\n".join(dict.fromkeys(chunks)) or s.get("text") or ""})
    return out


def _permalinks() -> dict[str, str]:
    try:
        from feedback.interactions import permalinks

        return permalinks()
    except Exception:
        return {}


def take_try_another(body: dict[str, Any], action: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    deps = deps_of(context)
    where = _where(body)
    answer = views.parse_answer_value(action.get("value") or "")
    lang = answer["lang"]
    if answer["alternative"]:
        _note(client, where, t("try_already", lang))
        return
    alt = AlternativeJob(
        answer_job_id=answer["job"],
        team=where["team"],
        channel=where["channel"],
        # The second answer goes where the first is: its thread (a /spec answer starts one).
        thread_ts=where["thread_ts"] or where["ts"],
        user=where["user"],
        lang=lang,
        asked_at=float(action.get("action_ts") or time.time()),
    )
    try:
        job = enqueue_alternative(deps.get_conn(), alt, deps.settings)
    except redis.RedisError as e:
        log.error("Redis unavailable, second answer not queued: %s", type(e).__name__)
        _note(client, where, t("unavailable", lang))
        return
    _note(client, where, t("try_started" if job is not None else "try_already", lang))


def take_choice(body: dict[str, Any], action: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    from feedback.interactions import is_asker

    deps = deps_of(context)
    where = _where(body)
    pair = views.parse_ab_value(action.get("value") or "")
    lang = user_lang(deps, client, where["user"])
    role: Literal["asker", "reviewer"]
    if where["user"] in deps.settings.reviewers:
        role = "reviewer"
    else:
        try:
            asker = is_asker(pair["a"], where["user"])
        except Exception as e:
            log.error("cannot check who asked %s: %s", pair["a"], type(e).__name__)
            _note(client, where, t("unavailable", lang))
            return
        if not asker:
            _note(client, where, t("ab_only_asker", lang))
            return
        role = "asker"
    choice = ChoiceEvent(
        team=where["team"],
        channel=where["channel"],
        message_ts=where["ts"],
        a_job=pair["a"],
        b_job=pair["b"],
        choice=CHOICES[str(action.get("action_id"))],
        user=where["user"],
        role=role,
        action_ts=str(action.get("action_ts") or time.time()),
        lang=lang,
    )
    try:
        enqueue_choice(deps.get_conn(), choice)
    except redis.RedisError as e:
        log.error("Redis unavailable, A/B choice not queued: %s", type(e).__name__)
        _note(client, where, t("unavailable", lang))


def open_correction_modal(
    body: dict[str, Any], action: dict[str, Any], context: BoltContext, client: WebClient
) -> None:
    from feedback.interactions import answer_info

    where = _where(body)
    answer = views.parse_answer_value(action.get("value") or "")
    try:
        question = str(answer_info(job_id=answer["job"])["question"])
    except Exception as e:  # the modal still works without showing the question
        log.warning("question of %s unavailable for the modal: %s", answer["job"], type(e).__name__)
        question = ""
    modal = views.correction_modal(answer["job"], question or "…", answer["lang"], where["channel"], where["ts"])
    try:
        client.views_open(trigger_id=body.get("trigger_id"), view=modal)
    except Exception as e:
        log.error("views.open failed: %s", api_error(e))


def take_modal_correction(
    body: dict[str, Any],
    view: dict[str, Any],
    meta: dict[str, str],
    text: str,
    context: BoltContext,
    client: WebClient,
) -> None:
    """The same record as a `correction:` reply; trusted when the asker or a reviewer wrote it."""
    from feedback.interactions import is_asker

    deps = deps_of(context)
    user = (body.get("user") or {}).get("id") or ""
    team = (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id") or ""
    lang = meta["lang"] or "en"
    where = {"channel": meta["channel"], "user": user, "thread_ts": None}
    corr = CorrectionEvent(
        team=team,
        channel=meta["channel"],
        answer_ts=meta["ts"] or None,
        user=user,
        text=text,
        event_id="modal:" + str(view.get("id") or view.get("hash") or time.time_ns()),
        ts=None,
    )
    try:
        enqueue_correction(deps.get_conn(), corr)
    except redis.RedisError as e:
        log.error("Redis unavailable, modal correction not queued: %s", type(e).__name__)
        _note(client, where, t("correction_not_saved", lang))
        return
    trusted = user in deps.settings.reviewers or _safe_is_asker(is_asker, meta["job"], user)
    _note(client, where, t("correction_saved" if trusted else "correction_review", lang))


def _safe_is_asker(check: Any, job: str, user: str) -> bool:
    try:
        return bool(check(job, user))
    except Exception:
        return False
