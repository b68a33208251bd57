"""Sections -> token-bounded chunks.

Rules: a chunk never crosses a section; paragraphs are packed whole while they fit
(a longer one is cut at sentence, then word, boundaries); a table that does not
fit is cut between rows and its header row(s) are repeated at the top of every
piece, so each chunk's rows still say what their columns mean. Requirement IDs
are taken per chunk, so an exact ID lookup lands on the chunk that holds the row.
"""

from __future__ import annotations

import re

from indexer.models import Chunk, Section, Table
from indexer.reqids import find_req_ids

DEFAULT_MAX_TOKENS = 350
_SENTENCE_RE = re.compile(r"(?<=[.!?。])\s+|(?<=다\.)\s*")


def approx_tokens(text: str) -> int:
    # LLaMA-3's tokenizer spends ~4 ASCII chars per token and ~1 token per Hangul
    # syllable; this estimate keeps budgets safe without loading a tokenizer.
    ascii_n = sum(1 for c in text if c.isascii())
    return ascii_n // 4 + (len(text) - ascii_n) + 1


def _split_long(text: str, max_tokens: int) -> list[str]:
    """Cut one over-long paragraph at sentence boundaries, then at words, then hard."""
    out: list[str] = []
    cur = ""
    units = [u for u in _SENTENCE_RE.split(text) if u]
    for unit in units:
        if approx_tokens(unit) > max_tokens:
            words = unit.split(" ")
            if len(words) == 1:  # one huge token (e.g. hex dump): cut by characters
                step = max(16, max_tokens * 2)
                words = [unit[i : i + step] for i in range(0, len(unit), step)]
            pieces = words
        else:
            pieces = [unit]
        for piece in pieces:
            cand = f"{cur} {piece}".strip()
            if cur and approx_tokens(cand) > max_tokens:
                out.append(cur)
                cur = piece
            else:
                cur = cand
    if cur:
        out.append(cur)
    return out


def _table_pieces(t: Table, max_tokens: int) -> list[str]:
    """The table as Markdown, cut between rows with the header repeated in each piece."""
    whole = t.to_markdown()
    if approx_tokens(whole) <= max_tokens or len(t.rows) <= t.header_rows:
        return [whole]
    header = t.rows[: t.header_rows]
    pieces: list[str] = []
    group: list[list[str]] = []
    for row in t.rows[t.header_rows :]:
        if group and approx_tokens(t.to_markdown(header + group + [row])) > max_tokens:
            pieces.append(t.to_markdown(header + group))
            group = []
        group.append(row)
    if group:
        pieces.append(t.to_markdown(header + group))
    return pieces


def split_blocks(blocks: list[str | Table], max_tokens: int) -> list[str]:
    pieces: list[str] = []
    cur: list[str] = []
    cur_tokens = 0

    def flush() -> None:
        nonlocal cur, cur_tokens
        if cur:
            pieces.append("\n".join(cur))
        cur, cur_tokens = [], 0

    for block in blocks:
        units = _table_pieces(block, max_tokens) if isinstance(block, Table) else [block]
        for unit in units:
            t = approx_tokens(unit)
            if t > max_tokens:
                flush()
                pieces.extend(_split_long(unit, max_tokens))
                continue
            if cur and cur_tokens + t > max_tokens:
                flush()
            cur.append(unit)
            cur_tokens += t
    flush()
    return [p for p in pieces if p.strip()]


def split_text(text: str, max_tokens: int) -> list[str]:
    return split_blocks(text.split("\n"), max_tokens) or [""]


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
        # The heading path is prefixed to the embedded text: leave room for it.
        head_tokens = approx_tokens(" > ".join([*crumb, f"{s.number} {s.title}"]))
        budget = max(64, max_tokens - head_tokens)
        blocks = s.blocks if s.blocks else ([s.text] if s.text else [])
        pieces = split_blocks(blocks, budget)
        if not pieces:
            if not s.title:
                continue
            pieces = [""]  # a heading with no body is still a place to point at
        for piece in pieces:
            chunks.append(
                Chunk(
                    doc=doc,
                    section=s.number,
                    title=s.title,
                    text=piece,
                    breadcrumb=crumb,
                    ordinal=len(chunks),
                    req_ids=find_req_ids(f"{s.title}\n{piece}"),
                    level=s.level,
                )
            )
    return chunks
