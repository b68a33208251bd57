"""Block Kit for the interactive parts: answer buttons, "Which is better?", the
correction modal, the sources message, the App Home tab, linked source lines.

Pure functions: data in, Slack JSON out, no Web API calls, so every view can be
checked against Slack's published limits (specbot/slack/limits.py; a test runs
every builder through it with oversized input). Texts come from the message
catalog (specbot/i18n.py) in the viewer's language. Anything that came from a
document, a user or the model is escaped before it goes into mrkdwn, so it can
never become a ping or a hidden link.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from specbot.i18n import t
from specbot.slack.limits import MESSAGE_BLOCKS_TEXT, blocks_text

Block = dict[str, Any]

# Slack's published limits that the builders cut to (limits.py holds the full table).
SECTION_TEXT = 3000
BUTTON_TEXT = 75
MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
ALT_TEXT = 2000

# action_id / callback_id / block_id the bot's listeners match on.
VOTE_UP = "specbot_vote_up"
VOTE_DOWN = "specbot_vote_down"
SOURCES = "specbot_sources"
TRY_ANOTHER = "specbot_try_another"
CORRECT = "specbot_correct"
AB_A = "specbot_ab_a"
AB_B = "specbot_ab_b"
AB_NEITHER = "specbot_ab_neither"
REVIEW_APPROVE = "specbot_review_approve"
REVIEW_REJECT = "specbot_review_reject"
ANSWER_ACTIONS_BLOCK = "specbot_answer_actions"
AB_BLOCK = "specbot_ab"
CORRECTION_CALLBACK = "specbot_correction"
CORRECTION_BLOCK = "correction"
CORRECTION_INPUT = "text"
SHORTCUT_CALLBACK = "ask_specbot"

SPARK = "▁▂▃▄▅▆▇█"
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")


def escape(text: str) -> str:
    """Slack treats &, < and > as control characters in message text.

    Escaping them is what keeps untrusted text (model output, document titles, the
    question) from becoming a broadcast (`<!channel>`, `<!here>`, `<!everyone>`), a
    user, group or channel mention (`<@U…>`, `<!subteam^…>`, `<#C…>`) or a masked link
    (`<https://…|docs>`): Slack shows `&lt;!channel&gt;` as the literal text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plain(text: str, limit: int = BUTTON_TEXT) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def mrkdwn_section(text: str, **extra: Any) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SECTION_TEXT)}, **extra}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text, SECTION_TEXT)}]}


def button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    b: dict[str, Any] = {"type": "button", "text": plain(text), "action_id": action_id, "value": value[:2000]}
    if style:
        b["style"] = style
    return b


def split_text(text: str, limit: int = SECTION_TEXT) -> list[str]:
    """Split at paragraph, then line, then word boundaries; cut mid-word only for a huge word."""
    text = text.strip()
    parts: list[str] = []
    while len(text) > limit:
        window = text[:limit]
        cut = window.rfind("\n\n")
        if cut < limit // 2:
            cut = window.rfind("\n")
        if cut < limit // 2:
            cut = window.rfind(" ")
        if cut < limit // 2:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        parts.append(text)
    return parts


# --- sources that link ------------------------------------------------------------
def source_url(doc: str, section: str, template: str = "", permalink: str | None = None) -> str | None:
    """SPEC_LINK_TEMPLATE first (the intranet copy, with the section anchor), else the
    Slack file the spec was added from, else nothing (plain text, as before)."""
    if template:
        return template.replace("{doc}", quote(doc, safe="")).replace("{section}", quote(section or "", safe=""))
    if permalink and permalink.startswith("https://"):
        return permalink
    return None


def where(hit: dict[str, Any]) -> str:
    """`doc · § number title` (a section Word did not number shows just its title). Plain text."""
    number = str(hit.get("section") or "").strip()
    title = str(hit.get("title") or "").strip()
    place = f"§ {number} {title}".strip() if number else title
    return f"{hit.get('doc') or '?'} · {place}".rstrip(" ·")


def source_line(hit: dict[str, Any], url: str | None = None) -> str:
    """A source line in mrkdwn; with a URL the whole line is the link's visible text."""
    label = escape(where(hit))
    if not url:
        return label
    # `|` ends the URL part of a Slack link and `>` the link: neither may stay in the URL.
    safe = url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C").replace(" ", "%20")
    return f"<{safe}|{label}>"


def source_lines(
    hits: Iterable[dict[str, Any]], template: str = "", permalinks: dict[str, str] | None = None
) -> list[str]:
    seen: set[tuple[str, str, str]] = set()
    lines = []
    for h in hits:
        key = (str(h.get("doc", "")), str(h.get("section", "")), str(h.get("title", "")))
        if key in seen:  # several chunks of one section are one source to the reader
            continue
        seen.add(key)
        url = source_url(key[0], key[1], template, (permalinks or {}).get(key[0]))
        lines.append("• " + source_line(h, url))
    return lines


# --- buttons under an answer -----------------------------------------------------
def answer_value(job_id: str, lang: str = "en", alternative: bool = False) -> str:
    """What every button under an answer carries: the answer's job ID, the language of the
    buttons, and whether it is a second answer (no further "Try another answer")."""
    return json.dumps({"j": job_id, "l": lang, "a": int(alternative)}, separators=(",", ":"))


def parse_answer_value(value: str) -> dict[str, Any]:
    d = json.loads(value)
    return {"job": str(d["j"]), "lang": "ko" if d.get("l") == "ko" else "en", "alternative": bool(d.get("a"))}


def answer_actions(
    job_id: str, lang: str = "en", up: int = 0, down: int = 0, try_another: bool = False, alternative: bool = False
) -> Block:
    """👍 n · 👎 n · Sources · [Try another answer, once the answer has a 👎] · Suggest a correction.

    A second answer (`alternative`) offers no further retry.
    """
    value = answer_value(job_id, lang, alternative)
    elements = [
        button(t("btn_up", lang, n=up), VOTE_UP, value),
        button(t("btn_down", lang, n=down), VOTE_DOWN, value),
        button(t("btn_sources", lang), SOURCES, value),
    ]
    if try_another and not alternative:
        elements.append(button(t("btn_try_another", lang), TRY_ANOTHER, value, style="primary"))
    elements.append(button(t("btn_correct", lang), CORRECT, value))
    return {"type": "actions", "block_id": ANSWER_ACTIONS_BLOCK, "elements": elements}


def with_actions(blocks: Sequence[Block], actions: Block) -> list[Block]:
    """The message's blocks with its actions block replaced (or added last, within 50 blocks)."""
    out = [b for b in blocks if b.get("block_id") != actions.get("block_id")]
    # The buttons sit just above the footer (a trailing context block), if there is one.
    at = len(out) - 1 if out and out[-1].get("type") == "context" else len(out)
    body, tail = out[:at], out[at:]
    return body[: MESSAGE_BLOCKS - 1 - len(tail)] + [actions] + tail


def answer_footer(lang: str, model: str | None, prefix: str) -> Block:
    hint = t("footer_hint", lang, prefix=escape(prefix))
    return context((t("footer_model", lang, model=escape(model)) + " · " if model else "") + hint)


# --- "Sources": the full text of each cited section, ephemeral --------------------
def sources_messages(
    sections: Sequence[dict[str, Any]],
    lang: str = "en",
    template: str = "",
    permalinks: dict[str, str] | None = None,
    max_messages: int = 3,
) -> list[tuple[str, list[Block]]]:
    """[(fallback text, blocks)]: one or more ephemeral messages, each within 50 blocks,
    every section text within 3,000 characters (long sections continue in the next block)."""
    if not sections:
        return [(t("sources_none", lang), [mrkdwn_section(t("sources_none", lang))])]
    blocks: list[Block] = []
    for s in sections:
        key = (str(s.get("doc", "")), str(s.get("section", "")))
        url = source_url(key[0], key[1], template, (permalinks or {}).get(key[0]))
        blocks.append({"type": "header", "text": plain(where(s), 150)})
        if url:
            blocks.append(context(source_line(s, url)))
        body = escape(str(s.get("text") or "").strip()) or "—"
        blocks += [mrkdwn_section(p) for p in split_text(body)]
        blocks.append({"type": "divider"})
    # Pack into messages by block count and by total text (Slack's msg_blocks_too_long),
    # keeping one block and some characters for the "… more not shown" note.
    messages: list[list[Block]] = []
    current: list[Block] = []
    size = 0
    for b in blocks:
        n = blocks_text([b])
        if current and (len(current) + 1 > MESSAGE_BLOCKS - 1 or size + n > MESSAGE_BLOCKS_TEXT - 300):
            messages.append(current)
            current, size = [], 0
        current.append(b)
        size += n
    if current:
        messages.append(current)
    left_blocks = [b for m in messages[max_messages:] for b in m]
    messages = messages[:max_messages]
    if left_blocks:
        left = sum(1 for b in left_blocks if b["type"] == "header")
        messages[-1].append(context(t("sources_more", lang, n=max(left, 1))))
    title = t("sources", lang)
    return [(f"{title} ({i + 1}/{len(messages)})" if len(messages) > 1 else title, m) for i, m in enumerate(messages)]


# --- "Which is better?" -------------------------------------------------------------
def ab_value(a_job: str, b_job: str, asker: str | None) -> str:
    return json.dumps({"a": a_job, "b": b_job, "u": asker or ""}, separators=(",", ":"))


def parse_ab_value(value: str) -> dict[str, str]:
    d = json.loads(value)
    return {"a": str(d["a"]), "b": str(d["b"]), "u": str(d.get("u") or "")}


def ab_message(a_job: str, b_job: str, asker: str | None, lang: str = "en") -> tuple[str, list[Block]]:
    value = ab_value(a_job, b_job, asker)
    blocks = [
        mrkdwn_section(t("ab_question", lang)),
        {
            "type": "actions",
            "block_id": AB_BLOCK,
            "elements": [
                button(t("btn_a", lang), AB_A, value),
                button(t("btn_b", lang), AB_B, value),
                button(t("btn_neither", lang), AB_NEITHER, value),
            ],
        },
    ]
    return t("ab_question", lang).replace("*", ""), blocks


def ab_result(choice: str, user: str, lang: str = "en") -> tuple[str, list[Block]]:
    """What the A/B message becomes once chosen (buttons gone, so a stale second press is rare)."""
    who = f"<@{user}>" if _USER_ID.match(user or "") else t("someone", lang)
    label = t(f"ab_choice_{choice}", lang)
    text = t("ab_chosen", lang, who=who, choice=label)
    return text.replace("*", ""), [mrkdwn_section(t("ab_question", lang)), context(text)]


# --- the correction modal -----------------------------------------------------------
def correction_modal(
    job_id: str, question: str, lang: str = "en", channel: str = "", message_ts: str = "", draft: str = ""
) -> dict[str, Any]:
    meta = json.dumps({"job": job_id, "channel": channel, "ts": message_ts, "lang": lang}, separators=(",", ":"))
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": CORRECTION_INPUT,
        "multiline": True,
        "min_length": 1,
        "max_length": 3000,
        "placeholder": plain(t("modal_placeholder", lang), 150),
    }
    if draft:
        element["initial_value"] = clip(draft, 3000)
    return {
        "type": "modal",
        "callback_id": CORRECTION_CALLBACK,
        "private_metadata": meta[:3000],
        "title": plain(t("modal_title", lang), 24),
        "submit": plain(t("modal_submit", lang), 24),
        "close": plain(t("modal_close", lang), 24),
        "blocks": [
            mrkdwn_section(t("modal_question", lang, question=escape(clip(question, 2800)))),
            {
                "type": "input",
                "block_id": CORRECTION_BLOCK,
                "label": plain(t("modal_label", lang), 2000),
                "hint": plain(t("modal_hint", lang), 2000),
                "element": element,
            },
        ],
    }


def parse_modal_metadata(meta: str) -> dict[str, str]:
    d = json.loads(meta or "{}")
    return {k: str(d.get(k) or "") for k in ("job", "channel", "ts", "lang")}


# --- the App Home tab --------------------------------------------------------------
def sparkline(values: Sequence[float | None]) -> str:
    """▁…█ for 0…100 %, `·` for a week without rated answers."""
    out = []
    for v in values:
        if v is None:
            out.append("·")
        else:
            out.append(SPARK[min(len(SPARK) - 1, max(0, round(v * (len(SPARK) - 1))))])
    return "".join(out)


def slack_date(when: datetime | str | None) -> str:
    """A date Slack shows in the viewer's own time zone and language."""
    if isinstance(when, str):
        try:
            when = datetime.fromisoformat(when)
        except ValueError:
            return escape(str(when))
    if when is None:
        return "?"
    fallback = when.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(when.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def mention(user: str | None, lang: str) -> str:
    return f"<@{user}>" if user and _USER_ID.match(user) else t("someone", lang)


def doc_line(d: dict[str, Any], lang: str, template: str = "") -> str:
    name = str(d["doc"])
    url = source_url(name, "", template, d.get("permalink")) if (template or d.get("permalink")) else None
    label = f"<{url}|{escape(name)}>" if url else escape(name)
    when = slack_date(d.get("indexed_at"))
    if d.get("sections") is not None:
        line = t("home_doc", lang, name=label, sections=d["sections"], tables=d.get("tables", 0), when=when)
    else:
        line = t("home_doc_chunks", lang, name=label, chunks=d.get("chunks", 0), when=when)
    if d.get("added_by"):
        line += t("home_by", lang, who=mention(d["added_by"], lang))
    return "• " + line


def approval_blocks(
    points: Sequence[dict[str, Any]], lang: str, chart_file_id: str | None = None, chart_url: str | None = None
) -> list[Block]:
    """The chart as an image block (a PNG uploaded with files.uploadV2), else a text sparkline."""
    blocks: list[Block] = [{"type": "header", "text": plain(t("home_approval", lang), 150)}]
    rated = sum(int(p.get("rated") or 0) for p in points)
    if not rated:
        return blocks + [mrkdwn_section(t("home_approval_none", lang))]
    values = [p.get("approval") for p in points]
    approved = sum(int(p.get("approved") or 0) for p in points)
    last = next((v for v in reversed(values) if v is not None), None)
    pct = f"{round(100 * approved / rated)}%"
    line = t("home_approval_line", lang, spark=sparkline(values), rate=pct, rated=rated,
             last="—" if last is None else f"{round(100 * last)}%")  # fmt: skip
    alt = t("home_approval_alt", lang, values=", ".join("—" if v is None else f"{round(100 * v)}%" for v in values))
    if chart_file_id or chart_url:
        img: Block = {"type": "image", "alt_text": clip(alt, ALT_TEXT), "title": plain(t("home_approval", lang), 2000)}
        img["slack_file"] = {"id": chart_file_id} if chart_file_id else {"url": chart_url}
        blocks.append(img)
        blocks.append(context(line))
    else:
        blocks.append(mrkdwn_section(line))
    return blocks


def review_item_blocks(item: dict[str, Any], lang: str) -> list[Block]:
    q = escape(clip(str(item.get("question") or ""), 300))
    body = escape(clip(str(item.get("text") or ""), 1200))
    key = "home_review_down" if item["kind"] == "answer" else "home_review_correction"
    text = t(key, lang, question=q, answer=body) if item["kind"] == "answer" else t(key, lang, question=q, text=body)
    value = f"{item['kind']}:{item['id']}"
    return [
        mrkdwn_section(text),
        {
            "type": "actions",
            "block_id": f"review_{item['kind']}_{item['id']}",
            "elements": [
                button(t("btn_approve", lang), REVIEW_APPROVE, value, style="primary"),
                button(t("btn_reject", lang), REVIEW_REJECT, value, style="danger"),
            ],
        },
    ]


def parse_review_value(value: str) -> tuple[str, int]:
    kind, _, ident = value.partition(":")
    if kind not in ("answer", "correction"):
        raise ValueError(f"not a review target: {value!r}")
    return kind, int(ident)


def home_view(
    docs: Sequence[dict[str, Any]],
    points: Sequence[dict[str, Any]],
    lang: str = "en",
    *,
    chart_file_id: str | None = None,
    reviews: Sequence[dict[str, Any]] | None = None,
    template: str = "",
    note: str | None = None,
) -> dict[str, Any]:
    """The Home tab: approval over 8 weeks, the review queue (for reviewers: `reviews`
    given), then the documents. Always within 100 blocks and 3,000 characters per section:
    review items are dropped whole, documents share blocks and end with "… and N more"."""
    head: list[Block] = [
        {"type": "header", "text": plain(t("home_title", lang), 150)},
        mrkdwn_section(t("home_intro", lang)),
    ]
    if note:
        head.append(context(escape(note)))
    head.append({"type": "divider"})
    head += approval_blocks(points, lang, chart_file_id)
    head.append({"type": "divider"})
    budget = VIEW_BLOCKS - len(head)
    review_blocks: list[Block] = []
    if reviews is not None:
        review_blocks.append({"type": "header", "text": plain(t("home_review", lang), 150)})
        if not reviews:
            review_blocks.append(mrkdwn_section(t("home_review_none", lang)))
        for item in reviews:
            more = review_item_blocks(item, lang)
            # Keep room for the divider and at least three blocks of documents.
            if len(review_blocks) + len(more) + 1 > budget - 3:
                break
            review_blocks += more
        review_blocks.append({"type": "divider"})
    docs_blocks = _doc_blocks(docs, lang, template, max_blocks=budget - len(review_blocks))
    return {"type": "home", "blocks": head + review_blocks + docs_blocks}


def _doc_blocks(docs: Sequence[dict[str, Any]], lang: str, template: str, max_blocks: int) -> list[Block]:
    out: list[Block] = [{"type": "header", "text": plain(t("home_docs", lang, n=len(docs)), 150)}]
    if not docs:
        return out + [mrkdwn_section(t("home_no_docs", lang))]
    chunk: list[str] = []
    shown = 0
    for d in docs:
        line = clip(doc_line(d, lang, template), 1000)
        if len("\n".join([*chunk, line])) > SECTION_TEXT:
            # This block, the last one and the "… and N more" note must all fit.
            if len(out) + 3 > max_blocks:
                break
            out.append(mrkdwn_section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
        shown += 1
    if chunk:
        out.append(mrkdwn_section("\n".join(chunk)))
    if shown < len(docs):
        out.append(context(t("home_more_docs", lang, n=len(docs) - shown)))
    return out


# --- specs added from Slack: the indexer's report -----------------------------------
def ocr_images(report: dict[str, Any]) -> int:
    """Pictures the indexer read with OCR (as tables or as text), from `specbot index --json`."""
    if "ocr_tables" in report or "ocr_texts" in report:
        return int(report.get("ocr_tables") or 0) + int(report.get("ocr_texts") or 0)
    return int(report.get("images") or 0)


def index_report_text(report: dict[str, Any], name: str, lang: str = "en", replaced: bool = False) -> str:
    """The same facts and reasons as `specbot index`, as one Slack message."""
    n = escape(name)
    status = report.get("status")
    if status == "unchanged":
        return t("index_unchanged", lang, name=n)
    if status != "indexed":
        return t("index_failed", lang, name=n, reason=escape(str(report.get("error") or "unknown error")))
    text = t("index_done", lang, name=n, sections=report.get("sections", 0), tables=report.get("tables", 0),
             images=ocr_images(report), chunks=report.get("chunks", 0),
             seconds=f"{float(report.get('seconds') or 0):.1f}")  # fmt: skip
    if replaced:
        text += " " + t("index_replaced", lang, name=n)
    # What went wrong inside a file that was indexed anyway (pictures OCR could not read, …).
    failures = [*(report.get("image_problems") or []), *(report.get("failures") or [])]
    if report.get("ocr_skipped"):
        failures.append(str(report["ocr_skipped"]))
    if failures:
        text += "\n" + t("index_failures", lang, failures=escape("; ".join(map(str, failures))))
    return clip(text, SECTION_TEXT)
