"""Sections -> token-bounded chunks. A chunk never crosses a section."""

from __future__ import annotations

from indexer.models import Chunk, Section

DEFAULT_MAX_TOKENS = 350


def approx_tokens(text: str) -> int:
    # LLaMA-3's tokenizer spends ~4 ASCII chars per token and ~1 token per Hangul
    # syllable; this estimate keeps budgets safe without loading a tokenizer.
    ascii_n = sum(1 for c in text if c.isascii())
    return ascii_n // 4 + (len(text) - ascii_n) + 1


def split_text(text: str, max_tokens: int) -> list[str]:
    pieces: list[str] = []
    cur: list[str] = []
    cur_tokens = 0
    for para in text.split("\n"):
        t = approx_tokens(para)
        if cur and cur_tokens + t > max_tokens:
            pieces.append("\n".join(cur))
            cur, cur_tokens = [], 0
        cur.append(para)
        cur_tokens += t
    if cur:
        pieces.append("\n".join(cur))
    return [p for p in pieces if p.strip()] or [""]


def breadcrumbs(sections: list[Section]) -> list[list[str]]:
    stack: list[Section] = []
    out: list[list[str]] = []
    for s in sections:
        while stack and stack[-1].level >= s.level and s.level > 0:
            stack.pop()
        out.append([f"{p.number} {p.title}".strip() for p in stack])
        if s.level > 0:
            stack.append(s)
    return out


def chunk_sections(doc: str, sections: list[Section], max_tokens: int = DEFAULT_MAX_TOKENS) -> list[Chunk]:
    chunks: list[Chunk] = []
    for s, crumb in zip(sections, breadcrumbs(sections), strict=True):
        for piece in split_text(s.text, max_tokens):
            if not piece.strip() and not s.title:
                continue
            chunks.append(
                Chunk(
                    doc=doc,
                    section=s.number,
                    title=s.title,
                    text=piece,
                    breadcrumb=crumb,
                    ordinal=len(chunks),
                    req_ids=s.req_ids,
                    level=s.level,
                )
            )
    return chunks
