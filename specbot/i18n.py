"""The bot's own words, in English and Korean: one catalog for every role.

What the *model* writes follows the question's language (the prompt says so);
what the *bot* writes (help, acknowledgements, errors, footers, button labels,
the Home tab) comes from here. `choose()` picks the language: Korean when the
question is Korean or the user's Slack locale is Korean (`ko-KR`), else English.

Every entry exists in both languages with the same `{placeholders}`; a test
checks that, so a missing translation is a test failure, not a KeyError in Slack.
Texts go into Slack mrkdwn as they are: they must not contain user input.
Callers escape what they pass in.
"""

from __future__ import annotations

import re
import string
from typing import Literal

Lang = Literal["en", "ko"]
LANGS: tuple[Lang, ...] = ("en", "ko")
DEFAULT: Lang = "en"
HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")

EN: dict[str, str] = {
    # --- help and acknowledgements ---
    "help": (
        "*specbot answers questions about our specification documents, with the exact sections it used.*\n"
        "• Mention me in a channel: `@specbot What is the operating voltage range?` — I answer in the thread.\n"
        "• Mention me again inside that thread to ask a follow-up; I remember the thread.\n"
        "• `/spec <question>` asks from anywhere; the answer appears in the channel.\n"
        "• On any message: *More actions → Ask specbot about this message*.\n"
        "• `/spec sources` lists the indexed documents, `/spec stats` shows the feedback totals, "
        "`/spec help` shows this.\n"
        "• Rate answers with the :+1: / :-1: buttons or reactions; after :-1: you can ask for another answer. "
        "Reply `{prefix} <the right answer>` in the thread, or press *Suggest a correction*, to correct one.\n"
        "Section numbers (`8.2.2.1`) and requirement IDs in a question are looked up exactly."
    ),
    "looking": "Looking it up… the answer will appear in this channel.",
    "placeholder": "Looking it up…",
    "writing": ":writing_hand: writing…",
    "listing_docs": "Listing the indexed documents…",
    "counting": "Counting the feedback…",
    # --- refusals and errors ---
    "not_enabled": "I'm not enabled in this channel. Ask an admin to add it to specbot's allowlist.",
    "unavailable": (
        "I can't take questions right now — the question queue is unreachable. Please try again in a few minutes."
    ),
    "unexpected": "Sorry, something went wrong on my side and your question was not taken. Please ask again.",
    "busy": "I'm busy right now: {ahead} questions are ahead of you. Please ask again in a few minutes.",
    "rate_wait": "You're asking faster than I can look things up :sweat_smile: — please try again in {when}.",
    "too_long": (
        "Your question is {length} characters long; I take questions of up to {limit} characters. "
        "Please ask about one thing at a time and quote only the part of a document you need."
    ),
    "no_question": (
        "I got a file but no question. I answer questions about the indexed specifications: "
        "write your question as text (you can mention me in the file's thread). "
        "To add a document to the index, ask an admin."
    ),
    "seconds": "{n} seconds",
    "minutes": "{n} minutes",
    "not_found": "The indexed documents do not contain an answer to this question.",
    # The answer guard's quote, shown instead of a generated answer that failed its checks
    # (or when the model could not be reached); {place} is "§ 5.3.1 Title".
    "quote_label": "Quoted from the document instead of a generated answer — {doc} {place}:",
    "quote_label_down": "The language model is not available right now; quoted from the document — {doc} {place}:",
    "error": "I could not answer this right now: {reason}",
    "reason_llm_down": "the language model server is not reachable. Please try again in a few minutes.",
    "reason_worker_died": "the worker handling it stopped unexpectedly.",
    "reason_timeout": "it took too long.",
    "reason_internal": "an internal error occurred ({name}).",
    "reason_llm_slow": "the language model took too long to answer.",
    "retry_llm_down": (
        "The language model server is not reachable right now (it may be restarting). "
        "I'll try again {when} ({progress})…"
    ),
    "retry_other": "Having trouble answering ({reason}); I'll try again {when} ({progress})…",
    "retry_when": "in about {wait} s",
    "retry_shortly": "shortly",
    "retry_progress": "attempt {attempt} of {total}",
    "stale": (
        "Sorry, I could not get to your question in time (it waited {minutes} minutes, "
        "and an answer now might no longer fit). Please ask again."
    ),
    "truncated": "_… (answer shortened to fit Slack's message limits)_",
    "read_failed": "Sorry, I couldn't read that right now ({name}).",
    "correction_not_saved": "I couldn't save your correction right now; please post it again in a few minutes.",
    # --- answers ---
    "asked": "{who} asked: {question}",
    "someone": "Someone",
    "sources": "Sources",
    "footer_model": "Answered by `{model}`",
    "footer_hint": "Rate it with the buttons or :+1: / :-1:, or reply `{prefix} …` in this thread to improve it.",
    "answer_b": "*Another answer* (B) to the same question:",
    # --- buttons ---
    "btn_up": "👍 {n}",
    "btn_down": "👎 {n}",
    "btn_sources": "Sources",
    "btn_try_another": "Try another answer",
    "btn_correct": "Suggest a correction",
    "btn_a": "A is better",
    "btn_b": "B is better",
    "btn_neither": "Neither",
    "btn_approve": "Approve",
    "btn_reject": "Reject",
    # --- button results (mostly ephemeral) ---
    "sources_none": "This answer cites no sections.",
    "sources_more": "_{n} more section(s) not shown; open the document for the rest._",
    "answer_gone": "That answer is no longer there (its message was deleted), so nothing was changed.",
    "try_started": "Writing another answer to the same question… it will appear in this thread.",
    "try_already": "Another answer to this question is already on its way or posted in this thread.",
    "ab_question": "*Which is better?* A is the first answer, B the new one.",
    "ab_only_asker": "Only the person who asked, or a reviewer, can choose between the answers.",
    "ab_chosen": "{who} chose *{choice}*. Thank you — this choice helps train the model.",
    "ab_choice_a": "A",
    "ab_choice_b": "B",
    "ab_choice_neither": "neither",
    "ab_already": "This choice was already recorded.",
    "saved_later": "Saved. It may take a moment to show.",
    # --- correction modal ---
    "modal_title": "Correct the answer",
    "modal_submit": "Save",
    "modal_close": "Cancel",
    "modal_label": "The right answer",
    "modal_hint": "Write the answer as it should have been, with the section numbers.",
    "modal_placeholder": "e.g. The operating range is 9–16 V (§5.3.1).",
    "modal_question": "*Question:* {question}",
    "modal_empty": "Please write the corrected answer.",
    "correction_saved": "Thanks — your correction was saved.",
    "correction_review": "Thanks — your correction was saved and waits for a reviewer.",
    # --- specs added from Slack ---
    "index_refused": (
        "Sorry, only people on specbot's indexer list can add specs. Ask an admin to add you to `SLACK_INDEXERS`."
    ),
    "index_queued": "Got *{name}*. Indexing it now; I'll reply here with the report.",
    "index_no_file": "I found no `.docx` file here. Share one in this thread (or in a DM to me), then try again.",
    "index_too_large": "*{name}* is {size_mb} MB; the limit is {limit_mb} MB. Split the document or ask an admin.",
    "index_download_failed": "I couldn't download *{name}* from Slack ({reason}). Please share it again.",
    "index_done": (
        "Indexed *{name}*: {sections} sections, {tables} tables, {images} OCR'd images, {chunks} chunks ({seconds} s)."
    ),
    "index_replaced": "It replaces the previously indexed *{name}*.",
    "index_unchanged": "*{name}* is already indexed with the same content; nothing changed.",
    "index_failed": "I couldn't index *{name}*: {reason}",
    "index_failures": "Parts that failed: {failures}",
    # --- shortcut ---
    "shortcut_no_text": "That message has no text to ask about.",
    # --- App Home ---
    "home_title": "specbot",
    "home_intro": "Ask me about the specification documents with `@specbot`, `/spec`, or in a DM.",
    "home_docs": "Indexed documents ({n})",
    "home_no_docs": "No documents are indexed yet.",
    "home_doc": "*{name}* — {sections} sections, {tables} tables · indexed {when}",
    "home_doc_chunks": "*{name}* — {chunks} chunks · indexed {when}",
    "home_by": " by {who}",
    "home_more_docs": "_… and {n} more; `/spec sources` lists them all._",
    "home_approval": "Approval over the last 8 weeks",
    "home_approval_alt": "Weekly approval rate of rated answers, last 8 weeks: {values}",
    "home_approval_none": "No rated answers in the last 8 weeks yet.",
    "home_approval_line": "{spark}  {rate} of {rated} rated answers approved (latest week: {last})",
    "home_review": "Waiting for review",
    "home_review_none": "Nothing waits for review.",
    "home_review_down": ":-1: *{question}*\n{answer}",
    "home_review_correction": ":memo: Correction to *{question}*\n{text}",
    "home_reviewed": "{decision} by {who}.",
    "decision_approve": "Approved",
    "decision_reject": "Rejected",
    "not_reviewer": "Only reviewers can do this.",
}

KO: dict[str, str] = {
    "help": (
        "*specbot은 사양 문서에 대한 질문에 답하고, 근거가 된 절을 정확히 알려 드립니다.*\n"
        "• 채널에서 저를 멘션하세요: `@specbot 동작 전압 범위는?` — 스레드에 답합니다.\n"
        "• 같은 스레드에서 다시 멘션하면 후속 질문으로 이어서 답합니다.\n"
        "• `/spec <질문>`은 어디서나 쓸 수 있고, 답은 채널에 올라옵니다.\n"
        "• 아무 메시지에서나: *추가 작업 → Ask specbot about this message*.\n"
        "• `/spec sources`는 색인된 문서 목록, `/spec stats`는 피드백 집계, `/spec help`는 이 도움말입니다.\n"
        "• :+1: / :-1: 버튼이나 반응으로 답을 평가해 주세요. :-1: 뒤에는 다른 답변을 요청할 수 있습니다. "
        "스레드에 `{prefix} <올바른 답>`으로 답하거나 *수정 제안*을 눌러 답을 고칠 수 있습니다.\n"
        "질문 속 절 번호(`8.2.2.1`)와 요구사항 ID는 정확히 찾아봅니다."
    ),
    "looking": "찾아보는 중입니다… 답은 이 채널에 올라옵니다.",
    "placeholder": "찾아보는 중입니다…",
    "writing": ":writing_hand: 작성 중…",
    "listing_docs": "색인된 문서를 확인하는 중입니다…",
    "counting": "피드백을 집계하는 중입니다…",
    "not_enabled": "이 채널에서는 사용할 수 없습니다. 관리자에게 specbot 허용 목록에 추가해 달라고 요청하세요.",
    "unavailable": "지금은 질문을 받을 수 없습니다 — 질문 대기열에 연결할 수 없습니다. 몇 분 뒤에 다시 시도해 주세요.",
    "unexpected": "죄송합니다. 제 쪽에서 문제가 생겨 질문이 접수되지 않았습니다. 다시 질문해 주세요.",
    "busy": "지금은 바쁩니다: 앞에 {ahead}개의 질문이 있습니다. 몇 분 후에 다시 질문해 주세요.",
    "rate_wait": "질문이 너무 빠릅니다 :sweat_smile: — {when} 뒤에 다시 시도해 주세요.",
    "too_long": (
        "질문이 {length}자입니다. 질문은 {limit}자까지 받습니다. "
        "한 번에 한 가지만 묻고, 문서는 필요한 부분만 인용해 주세요."
    ),
    "no_question": (
        "파일은 받았지만 질문이 없습니다. 저는 색인된 사양 문서에 대한 질문에 답합니다: "
        "질문을 텍스트로 적어 주세요 (파일의 스레드에서 저를 멘션해도 됩니다). "
        "문서를 색인에 추가하려면 관리자에게 요청하세요."
    ),
    "seconds": "{n}초",
    "minutes": "{n}분",
    "not_found": "색인된 문서에는 이 질문에 대한 답이 없습니다.",
    "quote_label": "생성된 답변 대신 문서 원문을 인용합니다 — {doc} {place}:",
    "quote_label_down": "지금은 언어 모델을 쓸 수 없어 문서 원문을 인용합니다 — {doc} {place}:",
    "error": "지금은 답할 수 없습니다: {reason}",
    "reason_llm_down": "언어 모델 서버에 연결할 수 없습니다. 몇 분 뒤에 다시 시도해 주세요.",
    "reason_worker_died": "처리하던 작업자가 예기치 않게 멈췄습니다.",
    "reason_timeout": "시간이 너무 오래 걸렸습니다.",
    "reason_internal": "내부 오류가 발생했습니다 ({name}).",
    "reason_llm_slow": "언어 모델이 답하는 데 너무 오래 걸렸습니다.",
    "retry_llm_down": (
        "지금은 언어 모델 서버에 연결할 수 없습니다 (재시작 중일 수 있습니다). {when} 다시 시도합니다 ({progress})…"
    ),
    "retry_other": "답하는 데 문제가 있습니다 ({reason}). {when} 다시 시도합니다 ({progress})…",
    "retry_when": "약 {wait}초 후에",
    "retry_shortly": "곧",
    "retry_progress": "{total}번 중 {attempt}번째 시도",
    "stale": (
        "죄송합니다. 질문에 제때 답하지 못했습니다 ({minutes}분 기다렸고, 지금 답하면 맞지 않을 수 있습니다). "
        "다시 질문해 주세요."
    ),
    "truncated": "_… (Slack 메시지 한도에 맞게 답을 줄였습니다)_",
    "read_failed": "죄송합니다. 지금은 읽을 수 없습니다 ({name}).",
    "correction_not_saved": "지금은 수정 내용을 저장할 수 없습니다. 몇 분 뒤에 다시 올려 주세요.",
    "asked": "{who}님의 질문: {question}",
    "someone": "누군가",
    "sources": "출처",
    "footer_model": "`{model}`의 답변",
    "footer_hint": "버튼이나 :+1: / :-1:로 평가하거나, 이 스레드에 `{prefix} …`로 답해 고쳐 주세요.",
    "answer_b": "같은 질문에 대한 *다른 답변* (B):",
    "btn_up": "👍 {n}",
    "btn_down": "👎 {n}",
    "btn_sources": "출처 보기",
    "btn_try_another": "다른 답변 보기",
    "btn_correct": "수정 제안",
    "btn_a": "A가 낫다",
    "btn_b": "B가 낫다",
    "btn_neither": "둘 다 아님",
    "btn_approve": "승인",
    "btn_reject": "거부",
    "sources_none": "이 답변은 인용한 절이 없습니다.",
    "sources_more": "_표시하지 않은 절이 {n}개 더 있습니다. 나머지는 문서를 열어 확인하세요._",
    "answer_gone": "그 답변은 더 이상 없습니다 (메시지가 삭제됨). 아무것도 바뀌지 않았습니다.",
    "try_started": "같은 질문에 다른 답변을 작성하는 중입니다… 이 스레드에 올라옵니다.",
    "try_already": "이 질문의 다른 답변이 이미 작성 중이거나 이 스레드에 올라와 있습니다.",
    "ab_question": "*어느 답변이 더 나은가요?* A는 첫 답변, B는 새 답변입니다.",
    "ab_only_asker": "질문한 사람이나 검토자만 답변을 고를 수 있습니다.",
    "ab_chosen": "{who}님이 *{choice}*을(를) 골랐습니다. 감사합니다 — 이 선택은 모델 학습에 쓰입니다.",
    "ab_choice_a": "A",
    "ab_choice_b": "B",
    "ab_choice_neither": "둘 다 아님",
    "ab_already": "이미 기록된 선택입니다.",
    "saved_later": "저장했습니다. 표시되기까지 잠시 걸릴 수 있습니다.",
    "modal_title": "답변 수정",
    "modal_submit": "저장",
    "modal_close": "취소",
    "modal_label": "올바른 답",
    "modal_hint": "절 번호를 포함해 올바른 답을 적어 주세요.",
    "modal_placeholder": "예: 동작 범위는 9–16 V입니다 (§5.3.1).",
    "modal_question": "*질문:* {question}",
    "modal_empty": "수정한 답을 적어 주세요.",
    "correction_saved": "감사합니다 — 수정 내용을 저장했습니다.",
    "correction_review": "감사합니다 — 수정 내용을 저장했으며 검토자의 확인을 기다립니다.",
    "index_refused": (
        "죄송합니다. 색인 담당자만 사양 문서를 추가할 수 있습니다. "
        "관리자에게 `SLACK_INDEXERS`에 추가해 달라고 요청하세요."
    ),
    "index_queued": "*{name}* 파일을 받았습니다. 지금 색인하고 있으며, 결과를 여기에 알려 드립니다.",
    "index_no_file": "여기에서 `.docx` 파일을 찾지 못했습니다. 이 스레드(또는 저와의 DM)에 공유한 뒤 다시 시도하세요.",
    "index_too_large": (
        "*{name}*의 크기는 {size_mb} MB이고 한도는 {limit_mb} MB입니다. 문서를 나누거나 관리자에게 문의하세요."
    ),
    "index_download_failed": "Slack에서 *{name}*을(를) 내려받지 못했습니다 ({reason}). 다시 공유해 주세요.",
    "index_done": (
        "*{name}* 색인 완료: 절 {sections}개, 표 {tables}개, OCR 이미지 {images}개, 청크 {chunks}개 ({seconds}초)."
    ),
    "index_replaced": "이전에 색인된 *{name}*을(를) 대체합니다.",
    "index_unchanged": "*{name}*은(는) 같은 내용으로 이미 색인되어 있어 바뀐 것이 없습니다.",
    "index_failed": "*{name}*을(를) 색인하지 못했습니다: {reason}",
    "index_failures": "실패한 부분: {failures}",
    "shortcut_no_text": "그 메시지에는 물어볼 텍스트가 없습니다.",
    "home_title": "specbot",
    "home_intro": "`@specbot`, `/spec` 또는 DM으로 사양 문서에 대해 물어보세요.",
    "home_docs": "색인된 문서 ({n})",
    "home_no_docs": "아직 색인된 문서가 없습니다.",
    "home_doc": "*{name}* — 절 {sections}개, 표 {tables}개 · 색인 {when}",
    "home_doc_chunks": "*{name}* — 청크 {chunks}개 · 색인 {when}",
    "home_by": " · 추가: {who}",
    "home_more_docs": "_… 외 {n}개. 전체 목록은 `/spec sources`로 확인하세요._",
    "home_approval": "최근 8주 승인율",
    "home_approval_alt": "평가된 답변의 주별 승인율, 최근 8주: {values}",
    "home_approval_none": "최근 8주 동안 평가된 답변이 아직 없습니다.",
    "home_approval_line": "{spark}  평가된 답변 {rated}개 중 {rate} 승인 (최근 주: {last})",
    "home_review": "검토 대기",
    "home_review_none": "검토할 항목이 없습니다.",
    "home_review_down": ":-1: *{question}*\n{answer}",
    "home_review_correction": ":memo: *{question}*에 대한 수정\n{text}",
    "home_reviewed": "{who}님이 {decision}했습니다.",
    "decision_approve": "승인",
    "decision_reject": "거부",
    "not_reviewer": "검토자만 할 수 있습니다.",
}

CATALOG: dict[str, dict[str, str]] = {"en": EN, "ko": KO}


def is_korean(text: str | None) -> bool:
    """A question with Hangul in it is a Korean question (mixed Korean/English specs are common)."""
    return bool(text) and bool(HANGUL.search(text or ""))


def locale_lang(locale: str | None) -> Lang | None:
    """Slack locales look like `ko-KR`, `en-US`; only the language part matters."""
    if not locale:
        return None
    code = locale.replace("_", "-").split("-", 1)[0].lower()
    return "ko" if code == "ko" else "en" if code == "en" else None


def choose(text: str | None = None, locale: str | None = None) -> Lang:
    """Korean when the question is Korean or the user's Slack locale is Korean; else English."""
    if is_korean(text) or locale_lang(locale) == "ko":
        return "ko"
    return DEFAULT


def t(key: str, lang: str | None = None, /, **values: object) -> str:
    """The catalog text for `key` in `lang` (English for an unknown language), filled in."""
    table = CATALOG.get(lang or DEFAULT, EN)
    text = table.get(key)
    if text is None:
        text = EN[key]  # KeyError for a key that does not exist at all: a bug, caught by tests
    return text.format(**values) if values else text


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def wait_phrase(seconds: float, lang: str | None = None) -> str:
    s = int(seconds + 0.999)
    return t("seconds", lang, n=s) if s < 90 else t("minutes", lang, n=(s + 59) // 60)
