"""Block Kit builders: what users see, and Slack's published limits for every view.

Slack rejects a message or view that breaks a limit (`invalid_blocks`), and the
user then sees nothing, so each builder is fed oversized input here and checked
with specbot/slack/limits.py: 50 blocks per message, 100 per Home tab or modal,
3,000 characters per section text, 75 per button text, 150 per header, 24 for a
modal's title/submit/close, 2,000 per button value, 3,000 private_metadata…
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from specbot.slack import views as v
from specbot.slack.limits import violations

LONG = "Lorem ipsum dolor sit amet, <!channel> & <@U0EVIL> " * 400  # ~20k characters, with would-be pings


def all_text(blocks: list[dict[str, Any]]) -> str:
    import json

    return json.dumps(blocks, ensure_ascii=False)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_answer_buttons_within_limits_and_counts_shown(lang: str) -> None:
    b = v.answer_actions("ans-" + "x" * 20, lang, up=12345, down=3, try_another=True)
    assert violations("message", [b], text="x") == []
    labels = [e["text"]["text"] for e in b["elements"]]
    assert labels[:2] == ["👍 12345", "👎 3"]
    assert [e["action_id"] for e in b["elements"]] == [v.VOTE_UP, v.VOTE_DOWN, v.SOURCES, v.TRY_ANOTHER, v.CORRECT]
    (value,) = {e["value"] for e in b["elements"]}
    assert v.parse_answer_value(value) == {"job": "ans-" + "x" * 20, "lang": lang, "alternative": False}
    # "Try another answer" only after a 👎, and never under a second answer.
    assert v.TRY_ANOTHER not in [e["action_id"] for e in v.answer_actions("j", lang)["elements"]]
    alt = v.answer_actions("j", lang, down=1, try_another=True, alternative=True)
    assert v.TRY_ANOTHER not in [e["action_id"] for e in alt["elements"]]


def test_with_actions_replaces_the_buttons_and_keeps_50_blocks() -> None:
    body = [v.mrkdwn_section(f"part {i}") for i in range(49)] + [v.context("footer")]
    first = v.with_actions(body, v.answer_actions("j", up=0))
    assert len(first) == 50 and first[-1] == v.context("footer") and first[-2]["block_id"] == v.ANSWER_ACTIONS_BLOCK
    again = v.with_actions(first, v.answer_actions("j", up=1))
    assert len(again) == 50 and sum(b.get("block_id") == v.ANSWER_ACTIONS_BLOCK for b in again) == 1
    assert again[-2]["elements"][0]["text"]["text"] == "👍 1"
    assert violations("message", again, text="x") == []


def test_source_links_template_then_slack_file_then_plain() -> None:
    hit = {"doc": "ECU Spec v2 (final).docx", "section": "8.2.2.1", "title": "CAN <timing> & more"}
    tpl = "https://intranet/specs/{doc}#{section}"
    (line,) = v.source_lines([hit, hit], template=tpl)  # chunks of one section are one source
    assert line == (
        "• <https://intranet/specs/ECU%20Spec%20v2%20%28final%29.docx#8.2.2.1|"
        "ECU Spec v2 (final).docx · § 8.2.2.1 CAN &lt;timing&gt; &amp; more>"
    )
    permalink = "https://test.slack.com/files/U1/F1/ecu.docx"
    (line,) = v.source_lines([hit], permalinks={hit["doc"]: permalink})
    assert line.startswith(f"• <{permalink}|")
    (line,) = v.source_lines([hit])
    assert line == "• ECU Spec v2 (final).docx · § 8.2.2.1 CAN &lt;timing&gt; &amp; more"
    # A permalink that is not Slack's https link is not used; a hostile doc name cannot close the link.
    assert v.source_url("a.docx", "1", "", "javascript:alert(1)") is None
    evil = {"doc": "x|<https://evil>.docx", "section": "1", "title": ""}
    (line,) = v.source_lines([evil], template=tpl)
    # The name stays inside the intranet URL (encoded) and in the visible text: one link, no second one.
    assert line.startswith("• <https://intranet/specs/x%7C%3Chttps%3A%2F%2Fevil%3E.docx#1|")
    assert line.count("<") == 1 and line.count(">") == 1


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_sources_message_split_within_limits_without_losing_text(lang: str) -> None:
    sections = [{"doc": f"doc{i}.docx", "section": f"{i}.1", "title": "T" * 300, "text": LONG[: 4000 + i * 900]}
                for i in range(3)]  # fmt: skip
    msgs = v.sources_messages(sections, lang, template="https://intranet/{doc}#{section}")
    assert 1 < len(msgs) <= 3
    for text, blocks in msgs:
        assert violations("message", blocks, text=text) == []
    shown = "".join(b["text"]["text"] for _, bl in msgs for b in bl if b["type"] == "section")
    assert shown.replace("\n", "").replace(" ", "") == "".join(
        v.escape(s["text"]).replace("\n", "").replace(" ", "") for s in sections
    )
    assert "<!channel>" not in all_text([b for _, bl in msgs for b in bl])  # escaped, never a ping
    many = [{"doc": "d.docx", "section": str(i), "title": "t", "text": LONG} for i in range(40)]
    msgs = v.sources_messages(many, lang)
    assert len(msgs) == 3 and all(violations("message", bl, text=t) == [] for t, bl in msgs)
    assert msgs[-1][1][-1]["type"] == "context"  # "… N more not shown"
    (none,) = v.sources_messages([], lang)
    assert violations("message", none[1], text=none[0]) == []


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_ab_message_and_result(lang: str) -> None:
    text, blocks = v.ab_message("ans-" + "a" * 40, "alt-" + "b" * 40, "U0ALICE1", lang)
    assert violations("message", blocks, text=text) == []
    buttons = blocks[1]["elements"]
    assert [b["action_id"] for b in buttons] == [v.AB_A, v.AB_B, v.AB_NEITHER]
    assert v.parse_ab_value(buttons[0]["value"]) == {"a": "ans-" + "a" * 40, "b": "alt-" + "b" * 40, "u": "U0ALICE1"}
    text, blocks = v.ab_result("neither", "U0ALICE1", lang)
    assert violations("message", blocks, text=text) == []
    assert "<@U0ALICE1>" in text and not any(b["type"] == "actions" for b in blocks)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_correction_modal_within_limits(lang: str) -> None:
    view = v.correction_modal("ans-1", LONG, lang, channel="C0CHAN01", message_ts="1700000000.000100", draft=LONG)
    assert violations("modal", view) == []
    assert view["callback_id"] == v.CORRECTION_CALLBACK
    assert v.parse_modal_metadata(view["private_metadata"]) == {
        "job": "ans-1", "channel": "C0CHAN01", "ts": "1700000000.000100", "lang": lang}  # fmt: skip
    # The question is shown as mrkdwn: escaped. (The draft is an input's plain value: no markup there.)
    assert "<!channel>" not in view["blocks"][0]["text"]["text"]


def docs(n: int) -> list[dict[str, Any]]:
    at = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    return [
        {"doc": f"{'Very long specification name ' * 6}{i}.docx", "sections": 100 + i, "tables": i, "chunks": 300,
         "indexed_at": at - timedelta(days=i), "added_by": "U0IDX001" if i % 2 else None,
         "permalink": f"https://test.slack.com/files/U0IDX001/F{i}/x.docx" if i % 2 else None}
        for i in range(n)
    ]  # fmt: skip


def points(rated: bool = True) -> list[dict[str, Any]]:
    vals = [0.5, None, 1.0, 0.0, 0.25, 0.75, None, 0.6]
    return [{"week": f"2026-10-{5 + 7 * i:02d}", "rated": 5 if (x is not None and rated) else 0,
             "approved": round(5 * x) if (x is not None and rated) else 0, "approval": x if rated else None}
            for i, x in enumerate(vals)]  # fmt: skip


def reviews(n: int) -> list[dict[str, Any]]:
    return [{"kind": "answer" if i % 2 else "correction", "id": i, "question": LONG, "text": LONG, "down": 2}
            for i in range(n)]  # fmt: skip


@pytest.mark.parametrize("lang", ["en", "ko"])
@pytest.mark.parametrize("n_docs", [0, 3, 600])
@pytest.mark.parametrize("n_reviews", [None, 0, 4, 80])
@pytest.mark.parametrize("chart", [None, "F0CHART1"])
def test_home_view_within_limits(lang: str, n_docs: int, n_reviews: int | None, chart: str | None) -> None:
    view = v.home_view(docs(n_docs), points(), lang, chart_file_id=chart,
                       reviews=None if n_reviews is None else reviews(n_reviews),
                       template="https://intranet/specs/{doc}", note="Chart unavailable")  # fmt: skip
    assert violations("home", view) == [], violations("home", view)[:5]
    blocks = view["blocks"]
    # Every review item shown keeps its Approve/Reject buttons.
    sections = [i for i, b in enumerate(blocks) if b["type"] == "section" and ":-1:" in b["text"]["text"]]
    assert all(blocks[i + 1]["type"] == "actions" for i in sections)
    if n_docs == 600:
        assert blocks[-1]["type"] == "context"  # "… and N more"
    if chart:
        (img,) = [b for b in blocks if b["type"] == "image"]
        assert img["slack_file"] == {"id": chart} and "50%" in img["alt_text"]
    else:
        assert not [b for b in blocks if b["type"] == "image"]
        assert v.sparkline([p["approval"] for p in points()]) in all_text(blocks)


def test_home_lists_documents_with_counts_when_and_who() -> None:
    view = v.home_view(docs(2), points(rated=False), "en")
    text = all_text(view["blocks"])
    assert "No rated answers in the last 8 weeks yet." in text
    assert "100 sections, 0 tables" in text and "101 sections, 1 tables" in text
    assert "by <@U0IDX001>" in text and text.count("<@") == 1  # the other was indexed from the CLI
    assert "<!date^" in text  # shown in the viewer's own time zone
    assert "<https://test.slack.com/files/U0IDX001/F1/x.docx|" in text  # added from Slack: links to the file
    legacy = v.home_view([{"doc": "old.docx", "chunks": 7, "indexed_at": "2026-01-01T00:00:00+00:00"}], [], "ko")
    assert "청크 7개" in all_text(legacy["blocks"])


def test_sparkline() -> None:
    assert v.sparkline([0.0, 0.5, 1.0, None]) == "▁▅█·"


def test_index_report_text() -> None:
    rep = {"status": "indexed", "sections": 42, "tables": 7, "images": 3, "ocr_tables": 1, "ocr_texts": 1,
           "chunks": 51, "seconds": 3.21, "image_problems": ["table 3: image unreadable"]}  # fmt: skip
    text = v.index_report_text(rep, "ECU <spec>.docx", "en", replaced=True)
    assert text.startswith("Indexed *ECU &lt;spec&gt;.docx*: 42 sections, 7 tables, 2 OCR'd images, 51 chunks (3.2 s).")
    assert "replaces the previously indexed" in text and "table 3: image unreadable" in text
    bad = v.index_report_text({"status": "failed", "error": "the file is password-protected"}, "x.docx", "ko")
    assert bad == "*x.docx*을(를) 색인하지 못했습니다: the file is password-protected"


def test_the_checker_catches_broken_limits() -> None:
    """The limits test above is only worth something if the checker fails on real violations."""
    too_long_button = {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text",
                       "text": "x" * 76}, "action_id": "a", "value": "v"}]}  # fmt: skip
    assert violations("message", [too_long_button], text="x") == ["blocks[0].elements[0].text: 76 characters > 75"]
    big_section = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    assert violations("message", [big_section], text="x") == ["blocks[0].text: 3001 characters > 3000"]
    home = {"type": "home", "blocks": [{"type": "divider"}] * 101}
    assert violations("home", home) == ["home: 101 blocks > 100"]
    assert violations("message", [{"type": "divider"}] * 51, text="x") == ["message: 51 blocks > 50"]
    modal = v.correction_modal("j", "q")
    modal["title"]["text"] = "x" * 25
    assert violations("modal", modal) == ["view.title: 25 characters > 24"]
    img = {"type": "image", "alt_text": "a", "image_url": "https://x", "slack_file": {"id": "F1"}}
    both = violations("home", {"type": "home", "blocks": [img]})
    assert both == ["blocks[0]: exactly one of image_url and slack_file"]


def test_app_manifest_offers_the_shortcut_home_tab_and_scopes() -> None:
    """The manifest names what these views need (tests/deploy checks it against Slack's schema)."""
    import yaml

    from tests.conftest import ROOT

    m = yaml.safe_load((ROOT / "deploy" / "slack-app-manifest.yaml").read_text())
    (shortcut,) = m["features"]["shortcuts"]
    # Slack's manifest schema caps a shortcut's name at 24 characters; the description says the rest.
    assert shortcut["callback_id"] == v.SHORTCUT_CALLBACK and shortcut["type"] == "message"
    assert "Ask specbot about this message" in shortcut["description"]
    assert m["features"]["app_home"]["home_tab_enabled"] is True
    assert "app_home_opened" in m["settings"]["event_subscriptions"]["bot_events"]
    assert {"files:read", "files:write", "users:read", "im:history"} <= set(m["oauth_config"]["scopes"]["bot"])
