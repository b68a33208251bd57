"""The bot's own words: both languages complete, and the language choice."""

from __future__ import annotations

import pytest

from specbot import i18n


def test_every_text_exists_in_both_languages_with_the_same_placeholders() -> None:
    assert set(i18n.EN) == set(i18n.KO), "a text is missing in one language"
    for key in i18n.EN:
        assert i18n.placeholders(i18n.EN[key]) == i18n.placeholders(i18n.KO[key]), key
        assert i18n.KO[key].strip(), key


def test_korean_texts_are_korean() -> None:
    # Button labels such as "👍 {n}" and format-only entries are the same in both.
    same = {k for k in i18n.EN if i18n.EN[k] == i18n.KO[k]}
    assert same <= {"btn_up", "btn_down", "ab_choice_a", "ab_choice_b", "home_title",
                    "home_review_down"}, same  # fmt: skip
    for key in ("help", "looking", "unavailable", "busy", "not_found", "footer_hint", "btn_try_another"):
        assert i18n.is_korean(i18n.t(key, "ko", prefix="수정:", ahead=3, n=1, when="x")), key


@pytest.mark.parametrize(
    ("text", "locale", "lang"),
    [
        ("What is the supply voltage?", None, "en"),
        ("공급 전압 범위는?", None, "ko"),
        ("What is the supply voltage?", "ko-KR", "ko"),  # the user's Slack locale
        ("What is the supply voltage?", "ko_KR", "ko"),
        ("What is the supply voltage?", "en-US", "en"),
        ("8.2.2.1 절의 CAN 속도?", "en-GB", "ko"),  # a Korean question wins over an English locale
        (None, None, "en"),
        ("", "ja-JP", "en"),
    ],
)
def test_language_choice(text: str | None, locale: str | None, lang: str) -> None:
    assert i18n.choose(text, locale) == lang


def test_t_fills_placeholders_and_falls_back_to_english() -> None:
    busy_ko = "지금은 바쁩니다: 앞에 4개의 질문이 있습니다. 몇 분 후에 다시 질문해 주세요."
    assert i18n.t("busy", "ko", ahead=4) == busy_ko
    assert i18n.t("busy", "fr", ahead=4).startswith("I'm busy right now: 4 questions")
    assert i18n.t("help", "en", prefix="correction:").count("`correction: <the right answer>`") == 1
    with pytest.raises(KeyError):
        i18n.t("no-such-text")


def test_wait_phrase() -> None:
    assert i18n.wait_phrase(12.2, "en") == "13 seconds"
    assert i18n.wait_phrase(200, "ko") == "4분"
