"""The answer pipeline itself: retrieve -> prompt -> generate. No queue here."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

from indexer.models import Hit
from specbot.contracts import AnswerResult, ChatMessage, Timings
from specbot.contracts import Hit as SourceHit
from specbot.settings import get_settings
from workers.guard import check_answer, echoes, quote_answer, wrong_language
from workers.llm import LLMBadRequest, LLMClient, LLMUnavailable
from workers.prompt import NOT_FOUND_EN, NOT_FOUND_KO, build_messages, is_korean
from workers.retrieve import is_relevant, retrieve

log = logging.getLogger("specbot.answer")

WORD = re.compile(r"[0-9A-Za-z]+(?:[.\-][0-9A-Za-z]+)*|[\uac00-\ud7a3]+")
STOP = {
    "the",
    "a",
    "an",
    "of",
    "to",
    "in",
    "is",
    "shall",
    "be",
    "and",
    "or",
    "for",
    "on",
    "with",
    "at",
    "by",
    "it",
    "this",
    "that",
    "are",
    "will",
    "must",
    "ms",
    "not",
}


def _words(text: str) -> set[str]:
    return {w for w in WORD.findall(text.lower()) if w not in STOP and len(w) > 1}


def select_sources(answer: str, hits: list[Hit], max_sources: int = 3, min_overlap: float = 0.3) -> list[Hit]:
    """The top retrieved hit, then others whose text covers a good share of the answer's words.

    Listing every context block would name sections the answer never used; engineers
    read the sources as "where this came from", so only plausible ones are shown.
    """
    if not hits:
        return []
    chosen = [hits[0]]
    words = _words(answer)
    for h in hits[1:]:
        if len(chosen) >= max_sources or not words:
            break
        overlap = len(words & _words(f"{h.section} {h.title} {h.text}")) / len(words)
        if overlap >= min_overlap and (h.doc, h.section) not in {(c.doc, c.section) for c in chosen}:
            chosen.append(h)
    return chosen


def _hit(h: Hit) -> SourceHit:
    return SourceHit.model_validate(h.to_json())


def _not_found(question: str) -> str:
    return NOT_FOUND_KO if is_korean(question) else NOT_FOUND_EN


class _GuardedStream:
    """Streams the answer to Slack only while it passes the guard's cheap checks: an
    echoed instruction or a wrong-language answer is never shown, even mid-stream.
    Once a partial answer fails, nothing more is streamed; the final answer (or the
    quote replacing it) comes with the delivery's finish."""

    def __init__(self, question: str, instructions: list[str], on_delta: Callable[[str], None]) -> None:
        self.question = question
        self.instructions = instructions
        self.on_delta = on_delta
        self.stopped = False

    def __call__(self, text: str) -> None:
        if self.stopped:
            return
        if len(text.strip()) < 24:
            return  # too short to tell its language; Slack shows the placeholder meanwhile
        if echoes(text, self.instructions, self.question) or wrong_language(text, self.question):
            self.stopped = True
            return
        self.on_delta(text)


def answer_question(
    question: str,
    history: list[dict[str, str]] | None = None,
    doc: str | None = None,
    k: int | None = None,
    llm: LLMClient | None = None,
    on_delta: Callable[[str], None] | None = None,
    quote_on_failure: bool = True,
) -> AnswerResult:
    """Retrieve, generate, guard.

    `quote_on_failure`: when the model cannot be reached (after the client's own
    retries), answer with the labelled quote instead of raising. The worker passes
    False on attempts that RQ will still retry, True on the last one; a request the
    server refuses (LLMBadRequest) never gets better, so it is quoted at once.
    """
    s = get_settings()
    t0 = time.perf_counter()
    client = llm or LLMClient(s)
    hits = retrieve(question, k=k or s.search_k, doc=doc, client=client, settings=s)
    messages, used = build_messages(
        question, hits, history=history, context_tokens=s.llm_context_tokens, reserve_tokens=s.llm_max_tokens + 64
    )
    prompt = tuple(ChatMessage.model_validate(m) for m in messages)
    if not used or not is_relevant(question, used, doc):
        # Nothing (relevant) retrieved: say so plainly rather than let the model improvise.
        return AnswerResult(
            answer=_not_found(question),
            messages=prompt,
            timings=Timings(retrieval_s=round(time.perf_counter() - t0, 4), generation_s=0.0),
        )
    t_retrieval = time.perf_counter() - t0
    instructions = [messages[0]["content"]]
    stream = _GuardedStream(question, instructions, on_delta) if on_delta else None
    try:
        comp = client.chat(messages, on_delta=stream)
    except (LLMUnavailable, LLMBadRequest) as e:
        if isinstance(e, LLMUnavailable) and not quote_on_failure:
            raise
        log.warning("generation failed (%s); answering with a quote", e)
        return _quoted(question, used, prompt, t_retrieval, "quote_label_down")
    problems = check_answer(question, comp.text, used, instructions)
    timings = Timings(
        retrieval_s=round(t_retrieval, 4),
        generation_s=round(comp.seconds, 4),
        first_token_s=round(comp.first_token_s, 4) if comp.first_token_s else None,
        prompt_tokens=comp.prompt_tokens,
        completion_tokens=comp.completion_tokens,
    )
    if problems:
        # Never shown: the model's text goes to the log (not the user), the quote to the user.
        log.info("answer rejected by the guard (%s)", "; ".join(problems))
        return _quoted(question, used, prompt, t_retrieval, "quote_label", model=comp.model, timings=timings)
    return AnswerResult(
        answer=comp.text,
        # Sources come from retrieval (the small model cannot cite reliably): the
        # best hit, plus the other context blocks the answer visibly draws on.
        sources=tuple(_hit(h) for h in select_sources(comp.text, used)),
        hits=tuple(_hit(h) for h in used),
        model=comp.model,
        messages=prompt,
        timings=timings,
    )


def _quoted(
    question: str,
    used: list[Hit],
    prompt: tuple[ChatMessage, ...],
    t_retrieval: float,
    label: str,
    model: str | None = None,
    timings: Timings | None = None,
) -> AnswerResult:
    quote = quote_answer(question, used, label=label)
    assert quote is not None  # `used` is never empty here
    return AnswerResult(
        answer=quote.text,
        sources=(_hit(quote.hit),),
        hits=tuple(_hit(h) for h in used),
        model=model,
        messages=prompt,
        timings=timings or Timings(retrieval_s=round(t_retrieval, 4), generation_s=0.0),
        fallback="model_down" if label == "quote_label_down" else "guard",
    )


def alternative_model(client: LLMClient, first_model: str | None, temperature: float) -> tuple[str | None, float]:
    """(model, temperature) for "Try another answer": another served model (a second LoRA
    adapter, say) when the server has one, at the usual temperature; else the same model
    sampled hotter, so the second answer differs."""
    try:
        served = client.models()
    except Exception:  # the chat call itself will say whether the server is there
        served = []
    others = [m for m in served if m != (first_model or client.model)]
    if len(served) >= 2 and others:
        return others[0], 0.1
    return None, temperature


def answer_again(
    question: str,
    messages: list[dict[str, str]],
    hits: list[dict[str, Any]],
    first_model: str | None,
    llm: LLMClient | None = None,
    on_delta: Callable[[str], None] | None = None,
    first_tokens: int | None = None,
) -> AnswerResult:
    """A second answer to an answered question, from the very same prompt (so that the two
    make a DPO pair with one prompt), with other sampling or the other served model.

    Hotter sampling tends to ramble up to the token limit; the second answer may be at most
    twice as long as the first (at least 128 tokens), which keeps the pair comparable (a
    preference should not be about length) and the wait short."""
    s = get_settings()
    client = llm or LLMClient(s)
    model, temperature = alternative_model(client, first_model, s.llm_alt_temperature)
    used = [SourceHit.model_validate(h) for h in hits]
    limit = min(s.llm_max_tokens, max(128, 2 * first_tokens)) if first_tokens else None
    comp = client.chat(messages, on_delta=on_delta, temperature=temperature, model=model, max_tokens=limit)
    cited = select_sources(comp.text, [_as_hit(h) for h in used]) if used else []
    return AnswerResult(
        answer=comp.text or (NOT_FOUND_KO if is_korean(question) else NOT_FOUND_EN),
        sources=tuple(_hit(h) for h in cited),
        hits=tuple(used),
        model=comp.model,
        messages=tuple(ChatMessage.model_validate(m) for m in messages),
        timings=Timings(
            generation_s=round(comp.seconds, 4),
            first_token_s=round(comp.first_token_s, 4) if comp.first_token_s else None,
            prompt_tokens=comp.prompt_tokens,
            completion_tokens=comp.completion_tokens,
        ),
    )


def _as_hit(h: SourceHit) -> Hit:
    return Hit(doc=h.doc, section=h.section, title=h.title, text=h.text, score=h.score or 0.0)
