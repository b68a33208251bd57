"""The LLaMA-3 Instruct prompt: answer only from numbered context blocks."""

from __future__ import annotations

from indexer.chunker import approx_tokens
from indexer.models import Hit
from specbot.i18n import is_korean, t

SYSTEM_EN = (
    "You are specbot, an assistant for automotive engineers reading specification documents. "
    "Answer ONLY from the numbered context blocks below; each names its document, section number and title. "
    "Name the section numbers you used, e.g. (§5.3.1). "
    "If the context does not contain the answer, say plainly that the documents do not contain it. "
    "Answer in the same language as the question. Be concise."
)
SYSTEM_KO = SYSTEM_EN + " 질문이 한국어이면 한국어로 답하십시오."
# The bot's own words come from the catalog, like every other text it writes.
NOT_FOUND_EN = t("not_found", "en")
NOT_FOUND_KO = t("not_found", "ko")


def context_block(i: int, h: Hit) -> str:
    head = f"[{i}] {h.doc} · § {h.section} {h.title}".rstrip()
    return f"{head}\n{h.text.strip()}"


def build_messages(
    question: str,
    hits: list[Hit],
    history: list[dict[str, str]] | None = None,
    context_tokens: int = 8192,
    reserve_tokens: int = 512,
) -> tuple[list[dict[str, str]], list[Hit]]:
    """Messages for the model, and the hits that fit the token budget (in order)."""
    system = SYSTEM_KO if is_korean(question) else SYSTEM_EN
    history = history or []
    budget = context_tokens - reserve_tokens - approx_tokens(system) - approx_tokens(question)
    budget -= sum(approx_tokens(m["content"]) for m in history)
    blocks: list[str] = []
    used: list[Hit] = []
    for h in hits:
        block = context_block(len(blocks) + 1, h)
        cost = approx_tokens(block)
        if cost > budget:
            if not blocks and budget > 64:
                # Always give the model the best hit, cut to fit.
                block = block[: budget * 3]
                cost = budget
            else:
                continue
        blocks.append(block)
        used.append(h)
        budget -= cost
    context = "\n\n".join(blocks) if blocks else "(no matching sections were found)"
    user = f"Context:\n{context}\n\nQuestion: {question}"
    return [{"role": "system", "content": system}, *history, {"role": "user", "content": user}], used
