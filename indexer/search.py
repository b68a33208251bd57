"""Search: exact section/requirement-ID matches first, then keyword + vector hybrid.

`mode` picks the ranked list: "keyword" (full text only), "vector" (embeddings only) or
"hybrid" (both, fused by the backend: RRF on LanceDB, Weaviate's own fusion there),
and only "hybrid" puts exact matches first. bench/retrieval.py compares the three.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from indexer import glossary
from indexer.embedder import get_embedder
from indexer.models import Hit, cite_label, parent_of
from indexer.store import Index, StoredChunk, open_index
from indexer.store.fusion import RRF_K, chunk_key, rrf

if TYPE_CHECKING:
    from specbot.settings import Settings

__all__ = ["MODES", "RRF_K", "query_identifiers", "query_keys", "rank_exact", "rrf", "search"]

MODES = ("hybrid", "keyword", "vector")
# Lookarounds instead of \b: Korean particles attach to numbers and IDs ("5.3.7절의",
# "SSR9를") and \b sees no boundary there. A leading letter ("V19.1.0") is a version.
# A part may carry a letter (5.3.3a, 5.5a.1, 5.5.1.2.5B1), as 3GPP's inserted clauses do.
_PART = r"\d+(?:[A-Za-z]\d{0,2})?"
SECTION_IN_QUERY = re.compile(rf"(?<![\w.])({_PART}(?:\.{_PART}){{1,8}})(?!\.?\d)(?![A-Za-z])")
TOP_SECTION_IN_QUERY = re.compile(
    r"(?:§\s*|\bsection\s+|\bclause\s+|\bchapter\s+|제\s*)(\d+)(?![\d.]\d)|(?<![\w.])(\d+)\s*(?:장|절)", re.I
)
# Broader than the parser's pattern (any case, particles allowed after it): a false
# key costs one lookup that finds nothing.
REQ_IN_QUERY = re.compile(
    r"(?<![A-Za-z0-9.\-/])([A-Za-z]{2,8}(?:-[A-Za-z]{1,6})*-?\d{1,5}[a-z]?)(?![A-Za-z0-9\-]|\.\d)"
)


# Identifiers engineers paste from specs: CamelCase ASN.1 names (VarMeasReportList,
# searchSpaceMCCH, PDCCH-ConfigCommon, VarRLF-Report) and SIB names (SIB2, SIB17bis).
IDENT_IN_QUERY = re.compile(
    r"(?<![\w-])("
    r"(?=[A-Za-z0-9-]*[a-z])(?=[A-Za-z0-9-]*[A-Z][A-Za-z0-9-]*[A-Z])[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*"
    r"|[a-z]+[A-Z][A-Za-z0-9]*"
    r"|[A-Z]{2,}\d+[a-z]*"
    r")(?![\w-])"
)
# Upper-case message names: "PDN DISCONNECT REQUEST", "SECURITY MODE COMMAND".
MESSAGE_IN_QUERY = re.compile(r"(?<![\w-])([A-Z]{2,}(?: [A-Z]{2,})+)(?![\w-])")


def query_identifiers(query: str) -> tuple[list[str], list[str]]:
    """(ASN.1 / CamelCase names, upper-case message names) named in a question."""
    names = [m for m in IDENT_IN_QUERY.findall(query) if len(m) >= 4]
    return _unique(names), _unique(MESSAGE_IN_QUERY.findall(query))


def _bare_title(title: str) -> str:
    return title.lstrip("\u2013\u2014- \t").strip()


def identifier_hits(
    idx: Index, names: list[str], messages: list[str], pool: int, doc: str | None
) -> tuple[list[StoredChunk], list[StoredChunk]]:
    """(defining chunks, chunks that name them verbatim) for the question's identifiers.

    A chunk whose heading *is* the identifier ("– VarMeasReportList") defines it and goes
    first, like a named section number. Chunks that spell the identifier exactly (case
    and all) form an extra ranked list for fusion: BM25 alone splits "PDN DISCONNECT
    REQUEST" into three common words and lowercases "searchSpaceMCCH".
    """
    defining: list[StoredChunk] = []
    verbatim: list[StoredChunk] = []
    for ident in [*names, *messages]:
        found = idx.keyword_search(ident, pool, doc=doc)
        if ident in names:
            heads = [c for c in found if _bare_title(c.title).lower() == ident.lower()]
            if heads:
                defining.append(min(heads, key=lambda c: c.ordinal))
        verbatim += [c for c in found if ident in c.text or ident in c.title]
    return defining, verbatim


def query_keys(query: str) -> tuple[list[str], list[str]]:
    """Section numbers and requirement IDs named in a question, in order of mention."""
    sections = [s.rstrip(".") for s in SECTION_IN_QUERY.findall(query.replace("§", " "))]
    sections += [a or b for a, b in TOP_SECTION_IN_QUERY.findall(query)]
    reqs = [r.upper() for r in REQ_IN_QUERY.findall(query)]
    return _unique(sections), _unique(reqs)


def _unique(xs: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(xs))


def _mentions_in(text: str, req: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(req)}(?![A-Za-z0-9])", text, re.I) is not None


def rank_exact(
    candidates: list[StoredChunk], sections: list[str], reqs: list[str], fused: list[StoredChunk]
) -> list[StoredChunk]:
    """One chunk per (doc, named key), best first.

    - A section is represented by its first chunk (the one that starts with its heading).
    - A requirement ID by the first chunk whose text names it (all chunks of a section
      carry the section's IDs).
    - When several documents have the key, the document the rest of the question
      points to wins: the one whose chunks rank high in the fused list.
    """
    if not candidates:
        return []
    fused_rank = {chunk_key(c): i for i, c in enumerate(fused)}
    doc_rank: dict[str, int] = {}
    for i, c in enumerate(fused):
        doc_rank.setdefault(c.doc, i)
    groups: dict[tuple[str, str], list[StoredChunk]] = {}
    for c in candidates:
        if c.section in sections:
            groups.setdefault((c.doc, "§" + c.section), []).append(c)
        for r in reqs:
            if r in (x.upper() for x in c.req_ids):
                groups.setdefault((c.doc, r), []).append(c)
    picked: list[tuple[tuple[int, ...], StoredChunk]] = []
    for (doc, key), chunks in groups.items():
        chunks.sort(key=lambda c: c.ordinal)
        if key.startswith("§"):
            best = chunks[0]
        else:
            # The chunk headed by the ID (its definition) beats a list that names it,
            # then the chunk the rest of the question ranks highest.
            best = min(
                chunks,
                key=lambda c: (
                    not _mentions_in(c.title, key),
                    not _mentions_in(c.text, key),
                    fused_rank.get(chunk_key(c), len(fused)),
                    c.ordinal,
                ),
            )
        # The group's own best fused rank counts most, then its document's best rank.
        own = min((fused_rank[chunk_key(c)] for c in chunks if chunk_key(c) in fused_rank), default=len(fused))
        named = sections + reqs
        order = named.index(key.lstrip("§")) if key.lstrip("§") in named else len(named)
        picked.append(((own, doc_rank.get(doc, len(fused)), order, best.ordinal), best))
    picked.sort(key=lambda p: p[0])
    out: list[StoredChunk] = []
    seen: set[tuple[str, int]] = set()
    for _, c in picked:
        if chunk_key(c) not in seen:
            seen.add(chunk_key(c))
            out.append(c)
    return out


def _fuse_extra(ranked: list[StoredChunk], extra: list[StoredChunk], weight: float) -> list[StoredChunk]:
    """The backend's ranking plus one more list (RRF), keeping the backend's order among ties."""
    fused = rrf([ranked, extra], weights=[1.0, weight])
    out = []
    for c, score in fused:
        c.score = score
        out.append(c)
    return out


def _hit(c: StoredChunk, score: float) -> Hit:
    cite = "" if c.section else cite_label("", c.title, parent_of(c.breadcrumb))
    return Hit(c.doc, c.section, c.title, c.text, score, cite)


def search(
    query: str,
    k: int = 5,
    doc: str | None = None,
    mode: str = "hybrid",
    index: Index | None = None,
    alpha: float | None = None,
) -> list[Hit]:
    if mode not in MODES:
        raise ValueError(f"unknown search mode {mode!r}; use one of {', '.join(MODES)}")
    if index is None:
        # Opened here, closed here: a Weaviate client per call must not leak its connections.
        own = open_index()
        try:
            return search(query, k=k, doc=doc, mode=mode, index=own, alpha=alpha)
        finally:
            own.close()
    idx = index
    from specbot.settings import get_settings

    settings = get_settings()
    cap = settings.search_max_per_section
    # Candidates per side: deeper when hits must name distinct sections, since the
    # cap skips a long section's later chunks.
    pool = max(k * (settings.search_depth if cap else 4), 20)
    if alpha is None and hangul_share(query) > 0.3:
        alpha = settings.search_alpha_ko
    if mode == "keyword":
        ranked = idx.keyword_search(query, pool, doc=doc)
    else:
        vec = get_embedder(idx.embedder_name).embed_query([query])[0]
        if mode == "vector":
            ranked = idx.vector_search(vec, pool, doc=doc)
        else:
            ranked = idx.hybrid_search(query, vec, pool, doc=doc, alpha=alpha)
    exact: list[StoredChunk] = []
    if mode == "hybrid":
        sections, reqs = query_keys(query)
        if sections or reqs:
            found = idx.exact_lookup(sections, reqs, doc=doc, k=pool)
            # A broad key ("section 5" in eight documents) must not crowd out the rest.
            exact = rank_exact(found, sections, reqs, ranked)[: max(1, (k + 1) // 2)]
        names, messages = query_identifiers(query)
        if names or messages:
            defining, verbatim = identifier_hits(idx, names, messages, pool, doc)
            exact += defining[: max(1, (k + 1) // 2)]
            if verbatim and settings.search_verbatim_weight > 0:
                # A boost for the ranked chunks that spell the name, not a list of its own:
                # as a separate list it pulled in chunks that merely mention a message name
                # (bench/golden.jsonl: en-04 went from rank 2 to 10).
                spelled = {chunk_key(c) for c in verbatim}
                boost = [c for c in ranked if chunk_key(c) in spelled]
                ranked = _fuse_extra(ranked, boost, settings.search_verbatim_weight)
        if hangul_share(query) > 0.3:
            ranked = _fuse_gloss(idx, settings, query, vec, ranked, pool, doc)
        elif settings.search_synonym_weight > 0:
            ranked = _fuse_synonyms(idx, settings, query, ranked, pool, doc)
    hits: list[Hit] = []
    seen: set[tuple[str, int]] = set()
    per_section: dict[tuple[str, str], int] = {}

    def full(c: StoredChunk) -> bool:
        key = (c.doc, c.section or c.title)
        if cap and per_section.get(key, 0) >= cap:
            return True
        per_section[key] = per_section.get(key, 0) + 1
        return False

    for c in exact:
        if chunk_key(c) in seen or full(c):
            continue
        seen.add(chunk_key(c))
        hits.append(_hit(c, 1.0))
    # Scores below an exact match: the best ranked hit gets 0.99, the rest in proportion.
    top = max((c.score for c in ranked), default=0.0) or 1.0
    for c in ranked:
        if len(hits) >= k:
            break
        if chunk_key(c) in seen or full(c):
            continue
        seen.add(chunk_key(c))
        hits.append(_hit(c, max(0.0, 0.99 * c.score / top)))
    return hits[:k]


# How sure search is that a Korean question is about an English document: the gloss's
# best cosine among English chunks minus the question's own best among Korean chunks.
# At 0 (or below) the gloss lists get no weight, from GLOSS_RAMP up they get full weight,
# linearly between. On bench/golden.jsonl every Korean question about an English spec
# scored above 0.02 and Korean-about-Korean ones mostly below 0.015.
GLOSS_RAMP = 0.04


def _is_korean(c: StoredChunk) -> bool:
    return hangul_share(c.text[:300]) > 0.2


def _fuse_gloss(
    idx: Index,
    settings: Settings,
    query: str,
    qvec: np.ndarray,
    ranked: list[StoredChunk],
    pool: int,
    doc: str | None,
) -> list[StoredChunk]:
    """A Korean question about an English spec: its Hangul words match only Korean
    documents, so its English gloss (Latin terms as written plus the glossary's English
    for its Korean terms, indexer/glossary.py) gets a keyword search and a vector search
    of its own, each fused into the hybrid list.

    Whether the question is about English text at all is decided by the embedder: the
    gloss must find a closer English passage than the question finds a Korean one,
    else a question about a Korean SRS would be pulled towards English specs.
    """
    if settings.search_ascii_weight <= 0 and settings.search_gloss_vector_weight <= 0:
        return ranked
    gloss = glossary.load(settings.search_glossary).gloss(query)
    if not gloss:
        return ranked
    emb = get_embedder(idx.embedder_name)
    gvec = emb.embed_query([gloss])[0]
    by_gloss = idx.vector_search(gvec, pool, doc=doc)
    english = max((c.score for c in by_gloss if not _is_korean(c)), default=None)
    if english is None:
        return ranked  # no English text to find
    own = idx.vector_search(qvec, pool, doc=doc)
    korean = max((c.score for c in own if _is_korean(c)), default=-1.0)
    share = min(1.0, max(0.0, (english - korean) / GLOSS_RAMP))
    if share <= 0:
        return ranked
    if settings.search_ascii_weight > 0:
        found = idx.keyword_search(gloss, pool, doc=doc)
        ranked = _fuse_extra(ranked, found, share * settings.search_ascii_weight)
    if settings.search_gloss_vector_weight > 0:
        ranked = _fuse_extra(ranked, by_gloss, share * settings.search_gloss_vector_weight)
    return ranked


def _fuse_synonyms(
    idx: Index, settings: Settings, query: str, ranked: list[StoredChunk], pool: int, doc: str | None
) -> list[StoredChunk]:
    """An English question in everyday words ("when the user switches the phone off")
    misses the spec's own ("switch off", "detach"): the spec's words
    for its phrases (indexer/data/en_spec_terms.tsv) get a keyword search, fused in."""
    extra = glossary.load_synonyms(settings.search_synonyms).expand(query)
    if not extra:
        return ranked
    # The spec's words alone: with the question's own words around them, the list
    # mostly repeated the hybrid's keyword side (golden English R@5 0.768 that way, 0.796 alone).
    found = idx.keyword_search(extra, pool, doc=doc)
    return _fuse_extra(ranked, found, settings.search_synonym_weight)


_HANGUL_RE = re.compile(r"[\uac00-\ud7a3]")
_ALNUM_RE = re.compile(r"[A-Za-z0-9]")


def hangul_share(text: str) -> float:
    """Share of Hangul among the letters and digits of a question."""
    h = len(_HANGUL_RE.findall(text))
    return h / max(1, h + len(_ALNUM_RE.findall(text)))
