"""How an answer looks in Slack: Block Kit blocks plus fallback text.

Used by the workers (workers/slack_delivery.py) for answers and by the bot for help text.
Slack limits respected here: 3,000 characters per section text, 50 blocks per
message; the fallback `text` is always set (notifications, screen readers and
clients that cannot render blocks show it).
"""

from __future__ import annotations

import re
from typing import Any

from specbot.contracts import AnswerResult, Hit
from specbot.i18n import t
from specbot.slack import views
from specbot.slack.views import answer_actions, answer_footer, escape, split_text

SECTION_LIMIT = 3000
MAX_BLOCKS = 50
# Fallback text is shown in notifications; Slack truncates far beyond this.
FALLBACK_LIMIT = 3000
TRUNCATED = t("truncated")

Block = dict[str, Any]
__all__ = ["escape", "split_text"]  # shared with the views: one definition each


_BOLD = re.compile(r"\*\*(.+?)\*\*")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$", re.M)
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")


def _shown_link(m: re.Match[str]) -> str:
    label, url = m.group(1), m.group(2)
    return url if label.strip() == url else f"{label} ({url})"


def to_mrkdwn(text: str) -> str:
    """The model writes Markdown; Slack's mrkdwn spells bold and headings differently.

    Model text is untrusted: everything is escaped first, and a Markdown link
    `[docs](https://…)` becomes `docs (https://…)`, never a masked link that hides
    where it goes (Slack turns the bare URL into a link that shows itself)."""
    text = escape(text)
    text = _HEADING.sub(r"*\1*", text)
    text = _BOLD.sub(r"*\1*", text)
    return _LINK.sub(_shown_link, text)


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_LIMIT]}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:SECTION_LIMIT]}]}


def where(hit: Hit) -> str:
    """`doc · § number title`; a section Word did not number shows just its title. Plain text."""
    return views.where(hit.model_dump())


def source_line(hit: Hit) -> str:
    return views.source_line(hit.model_dump())


def fallback(text: str) -> str:
    """The message's `text`: what notifications show. Slack parses it like the blocks,
    so it is escaped the same way (a `<!channel>` here would ping everyone)."""
    text = to_mrkdwn(text.strip() or "(empty answer)")
    return text if len(text) <= FALLBACK_LIMIT else text[: FALLBACK_LIMIT - 1] + "…"


def asked_by(user: str | None, question: str | None, lang: str | None = None) -> Block | None:
    """For /spec answers in the channel: nobody saw the question, so show it."""
    if not question:
        return None
    who = f"<@{user}>" if user else t("someone", lang)
    q = question if len(question) <= 500 else question[:499] + "…"
    return context(t("asked", lang, who=who, question=escape(q)))


def format_answer(
    result: AnswerResult,
    *,
    question: str | None = None,
    user: str | None = None,
    correction_prefix: str = "correction:",
    lang: str | None = None,
    job_id: str | None = None,
    alternative: bool = False,
    link_template: str = "",
    permalinks: dict[str, str] | None = None,
    heading: str | None = None,
) -> tuple[str, list[Block]]:
    """(fallback text, blocks) for a finished answer.

    With `job_id`, the buttons (👍 0 · 👎 0 · Sources · Suggest a correction) sit above the
    footer; source lines link to SPEC_LINK_TEMPLATE or the Slack file a spec came from.
    The bot's own words are in `lang`; the answer is as the model wrote it.
    """
    answer = result.answer
    head: list[Block] = []
    if heading:
        head.append(section(heading))
    if (b := asked_by(user, question, lang)) is not None:
        head.append(b)
    tail: list[Block] = []
    lines = views.source_lines([h.model_dump() for h in result.sources], link_template, permalinks)
    if lines:
        tail.append({"type": "divider"})
        title = t("sources", lang)
        for i, chunk in enumerate(split_text("\n".join(lines))):
            tail.append(section((f"*{title}*\n" if i == 0 else "") + chunk))
    if not result.error:
        if job_id:
            tail.append(answer_actions(job_id, lang or "en", alternative=alternative))
        tail.append(answer_footer(lang or "en", result.model, correction_prefix))
    # The tail (sources, buttons, footer) may itself be long: keep at least one answer block.
    tail = tail[-(MAX_BLOCKS - len(head) - 2) :] if len(tail) > MAX_BLOCKS - len(head) - 2 else tail
    body = [section(p) for p in split_text(to_mrkdwn(answer))] or [section("_(no answer)_")]
    room = MAX_BLOCKS - len(head) - len(tail)
    if len(body) > room:
        body = body[: room - 1] + [section(t("truncated", lang))]
    return fallback(answer), head + body + tail


def format_partial(
    text: str, *, question: str | None = None, user: str | None = None, lang: str | None = None
) -> tuple[str, list[Block]]:
    """While the model is still writing."""
    head = [b for b in [asked_by(user, question, lang)] if b is not None]
    body = [section(p) for p in split_text(to_mrkdwn(text))][: MAX_BLOCKS - len(head) - 2]
    return fallback(text), head + body + [context(t("writing", lang))]


def format_notice(
    text: str, *, question: str | None = None, user: str | None = None, lang: str | None = None
) -> tuple[str, list[Block]]:
    head = [b for b in [asked_by(user, question, lang)] if b is not None]
    return fallback(text), head + [section(f":hourglass_flowing_sand: {escape(text)}")]


def format_error(
    text: str, *, question: str | None = None, user: str | None = None, lang: str | None = None
) -> tuple[str, list[Block]]:
    head = [b for b in [asked_by(user, question, lang)] if b is not None]
    return fallback(text), head + [section(f":warning: {escape(text)}")]


def help_text(correction_prefix: str = "correction:", lang: str | None = None) -> str:
    return t("help", lang, prefix=correction_prefix)
