"""The Home tab: `app_home_opened` -> views.publish, and the reviewers' Approve / Reject.

What it shows (specbot/slack/views.home_view): the indexed documents (sections,
tables, when, and who added them from Slack), approval over the last 8 weeks as a
PNG uploaded with files.uploadV2 (cached per data, so opening the tab again costs
no upload) or a text sparkline when the upload is refused or matplotlib is
missing, and for reviewers (FEEDBACK_REVIEWERS) the latest 👎 answers and
unreviewed corrections with Approve / Reject. A part whose source is away (index,
database) is left out with a note; the tab still opens.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from typing import Any

import redis
from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.deps import Deps, deps_of
from bot.language import user_lang
from specbot.i18n import t
from specbot.slack import views
from specbot.slack.client import api_error
from specbot.slack.files import upload_png

log = logging.getLogger("specbot.bot")
CHART_KEY = "specbot:home:chart:{digest}"
CHART_KEEP_S = 6 * 3600


# --- listeners -----------------------------------------------------------------------
def on_home_opened(ack: Ack, event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    ack()
    if event.get("tab") not in (None, "home"):
        return  # the Messages tab: nothing to draw
    deps_of(context).later(publish_home, str(event.get("user") or ""), context, client)


def on_review(ack: Ack, body: dict[str, Any], action: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    ack()
    deps_of(context).later(take_review, body, action, context, client)


# --- the work after the ack ----------------------------------------------------------
def take_review(body: dict[str, Any], action: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """A reviewer's decision is written at once (an admin action, rare), then the tab is redrawn."""
    from feedback.interactions import record_review

    deps = deps_of(context)
    user = (body.get("user") or {}).get("id") or ""
    note = None
    if user not in deps.settings.reviewers:
        note = t("not_reviewer", user_lang(deps, client, user))
    else:
        kind, target = views.parse_review_value(action.get("value") or "")
        decision = "approve" if action.get("action_id") == views.REVIEW_APPROVE else "reject"
        try:
            record_review(kind=kind, target_id=target, decision=decision, reviewer=user)
        except Exception as e:
            log.error("review not recorded: %s", type(e).__name__)
            note = t("unexpected", user_lang(deps, client, user))
    publish_home(user, context, client, note=note)


def publish_home(user: str, context: BoltContext, client: WebClient, note: str | None = None) -> None:
    deps = deps_of(context)
    lang = user_lang(deps, client, user)
    docs, missing = home_documents()
    points: list[dict[str, Any]] = []
    reviews: list[dict[str, Any]] | None = None
    try:
        from feedback.interactions import review_queue, weekly_approval

        points = weekly_approval(8)
        if user in deps.settings.reviewers:
            reviews = review_queue(10)
    except Exception as e:
        log.warning("Home tab without feedback figures: %s", type(e).__name__)
        missing.append("feedback")
    chart = chart_file_id(deps, client, points) if any(p["rated"] for p in points) else None
    notes = [n for n in [note, *(t("read_failed", lang, name=m) for m in missing)] if n]
    view = views.home_view(docs, points, lang, chart_file_id=chart, reviews=reviews,
                           template=deps.settings.spec_link_template, note=" · ".join(notes) or None)  # fmt: skip
    try:
        client.views_publish(user_id=user, view=view)
    except Exception as e:
        log.error("views.publish failed: %s", api_error(e))


def home_documents() -> tuple[list[dict[str, Any]], list[str]]:
    """The index's documents, with what the upload records add (sections, tables, who, link)."""
    missing: list[str] = []
    try:
        from indexer.catalog import indexed_documents

        docs = indexed_documents()
    except Exception as e:
        log.warning("Home tab without the document list: %s", type(e).__name__)
        return [], ["index"]
    try:
        from feedback.interactions import latest_uploads

        uploads = latest_uploads()
    except Exception as e:
        log.warning("Home tab without upload records: %s", type(e).__name__)
        uploads, missing = {}, ["feedback"]
    out = []
    for d in docs:
        u = uploads.get(d.doc)
        row: dict[str, Any] = {"doc": d.doc, "chunks": d.chunks, "indexed_at": d.indexed_at}
        if u is not None:
            row |= {"sections": u.sections, "tables": u.tables, "permalink": u.permalink,
                    "added_by": u.added_by if u.source == "slack" else None}  # fmt: skip
        out.append(row)
    return out, missing


def chart_file_id(deps: Deps, client: WebClient, points: list[dict[str, Any]]) -> str | None:
    """The approval chart as an uploaded PNG; the same figures reuse the same upload."""
    digest = hashlib.sha1(json.dumps(points, sort_keys=True).encode()).hexdigest()[:16]
    key = CHART_KEY.format(digest=digest)
    conn: redis.Redis | None
    try:
        conn = deps.get_conn()
        cached = conn.get(key)
        if cached:
            return cached.decode() if isinstance(cached, bytes) else str(cached)
    except redis.RedisError:
        conn = None
    from feedback.stats import approval_png

    png = approval_png(points)
    if png is None:
        return None  # no matplotlib here: the sparkline
    file_id = upload_png(client, png, "specbot-approval.png", "Approval, last 8 weeks")
    if file_id and conn is not None:
        with contextlib.suppress(redis.RedisError):  # uncached: the next open uploads again
            conn.set(key, file_id, ex=CHART_KEEP_S)
    return file_id
