"""What an answer looks like in Slack, within Slack's block limits."""

from __future__ import annotations

from specbot.contracts import AnswerResult, Hit
from specbot.slack.formatting import (
    MAX_BLOCKS,
    SECTION_LIMIT,
    format_answer,
    format_error,
    format_notice,
    format_partial,
    source_line,
    split_text,
    to_mrkdwn,
)

HITS = [
    {"doc": "ECU_spec_v3.docx", "section": "5.3.1", "title": "Bottom View", "text": "…", "score": 0.9},
    {"doc": "ECU_spec_v3.docx", "section": "5.3.1", "title": "Bottom View", "text": "… more", "score": 0.8},
    {"doc": "커넥터_사양.docx", "section": "8.2.2.1", "title": "핀 배열", "text": "…", "score": 0.7},
    {"doc": "ECU_spec_v3.docx", "section": "", "title": "Revision History", "text": "…", "score": 0.5},
]


def texts(blocks: list[dict]) -> list[str]:
    out = []
    for b in blocks:
        if b["type"] == "section":
            out.append(b["text"]["text"])
        elif b["type"] == "context":
            out.extend(e["text"] for e in b["elements"])
    return out


def test_answer_sources_and_footer() -> None:
    text, blocks = format_answer(
        AnswerResult.from_wire({"answer": "The supply range is **9–16 V**.", "sources": HITS, "model": "llama-3"})
    )
    assert text == "The supply range is *9–16 V*."  # fallback text always set, in mrkdwn
    all_text = "\n".join(texts(blocks))
    assert "The supply range is *9–16 V*." in all_text  # Markdown bold -> Slack bold
    assert "• ECU_spec_v3.docx · § 5.3.1 Bottom View" in all_text
    assert all_text.count("§ 5.3.1 Bottom View") == 1  # two chunks of one section: one source
    assert "• 커넥터_사양.docx · § 8.2.2.1 핀 배열" in all_text
    assert "• ECU_spec_v3.docx · Revision History" in all_text  # unnumbered section: no empty §
    footer = texts(blocks)[-1]
    assert "llama-3" in footer and ":+1:" in footer and ":-1:" in footer and "correction:" in footer


def test_long_answer_is_split_under_slack_limits() -> None:
    para = ("Requirement REQ-PWR-0012 applies to the supply line. " * 40).strip()
    answer = "\n\n".join([para] * 20)  # ~44k characters
    text, blocks = format_answer(AnswerResult.from_wire({"answer": answer, "sources": HITS, "model": "m"}))
    assert all(len(t) <= SECTION_LIMIT for t in texts(blocks))
    assert len(blocks) <= MAX_BLOCKS
    assert 0 < len(text) <= 3000
    body = "".join(t for t in texts(blocks) if "REQ-PWR" in t)
    assert body.replace("\n", "").replace(" ", "") == answer.replace("\n", "").replace(" ", "")  # nothing lost


def test_huge_answer_is_truncated_to_50_blocks_with_a_note() -> None:
    answer = "word " * 200_000
    _, blocks = format_answer(AnswerResult.from_wire({"answer": answer, "sources": HITS * 30, "model": "m"}))
    assert len(blocks) == MAX_BLOCKS
    assert any("shortened" in t for t in texts(blocks))
    assert "Sources" in "".join(texts(blocks))  # sources survive truncation of the answer
    assert all(len(t) <= SECTION_LIMIT for t in texts(blocks))


def test_split_never_loses_or_cuts_words() -> None:
    text = "alpha beta gamma " * 500
    parts = split_text(text, 100)
    assert all(len(p) <= 100 for p in parts)
    assert " ".join(parts).split() == text.split()


def test_slack_control_characters_are_escaped() -> None:
    assert to_mrkdwn("a < b && c > d") == "a &lt; b &amp;&amp; c &gt; d"
    # A Markdown link never becomes a masked Slack link: the reader sees where it goes.
    assert to_mrkdwn("see [spec](https://x.example/s)") == "see spec (https://x.example/s)"
    assert source_line(Hit(doc="a<b>.docx", section="1", title="T&C")) == "a&lt;b&gt;.docx · § 1 T&amp;C"


def test_error_answer_has_no_rating_invitation() -> None:
    _, blocks = format_answer(
        AnswerResult.from_wire({"answer": "I could not answer", "sources": [], "model": None, "error": True})
    )
    assert not any(":+1:" in t for t in texts(blocks))


def test_command_answer_shows_the_question_and_partial_marks_progress() -> None:
    _, blocks = format_answer(
        AnswerResult.from_wire({"answer": "x", "sources": [], "model": "m"}), question="What is 5.3.1?", user="U1"
    )
    assert texts(blocks)[0] == "<@U1> asked: What is 5.3.1?"
    text, blocks = format_partial("The supply")
    assert text == "The supply" and "writing" in texts(blocks)[-1]


HOSTILE = (
    "Log in at [the portal](https://evil.example/login) now <!channel> <!here> <!everyone> "
    "<!subteam^S123|@eng> ping <@U0BOSS01> and <#C0SECRET|secret> or <https://evil.example|docs>"
)


def _no_control_markup(s: str) -> None:
    for bad in ("<!channel>", "<!here>", "<!everyone>", "<!subteam", "<@U0BOSS01>", "<#C0SECRET", "|the portal>",
                "<https://evil.example"):  # fmt: skip
        assert bad not in s, (bad, s)


def test_model_and_document_text_never_pings_or_hides_a_link() -> None:
    """Model output (and document text quoted by it) is untrusted: in the blocks AND in
    the fallback `text` (the notification), no broadcast, no mention, no masked link."""
    hostile_hit = Hit(doc="<!channel>.docx", section="1", title="<@U0BOSS01> [x](https://evil.example/a)")
    result = AnswerResult(answer=HOSTILE, sources=(hostile_hit,), model="m<!here>")
    for text, blocks in (
        format_answer(result, question=HOSTILE, user="U0ALICE1"),
        format_partial(HOSTILE),
        format_notice(HOSTILE),
        format_error(HOSTILE),
    ):
        _no_control_markup(text)
        for t in texts(blocks):
            _no_control_markup(t)
        assert "https://evil.example/login" in text  # the URL is shown, not hidden
    _, blocks = format_answer(result)
    assert "the portal (https://evil.example/login)" in texts(blocks)[0]
