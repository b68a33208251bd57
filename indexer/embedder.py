"""Embedders. Everything loads offline; nothing is fetched from a model hub.

`hash-ngram-768` (default; any `hash-ngram-<dim>` works) hashes words, Hangul
bigrams and character 4-grams into a fixed vector. It is multilingual by
construction, costs no model download and is fast enough to share across many
worker processes. 768 dimensions beat 384 on the golden set at the same speed
(fewer hash collisions; bench/embedders.py). `st:<package-or-path>` loads a
sentence-transformers model shipped inside a PyPI package. Production names a
real multilingual model (BAAI/bge-m3) served the same way.
"""

from __future__ import annotations

import importlib.util
import os
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from indexer.tokenize import terms


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray: ...


class HashNgramEmbedder:
    def __init__(self, dim: int = 384) -> None:
        self.dim = dim
        self.name = f"hash-ngram-{dim}"

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


class SentenceTransformerEmbedder:
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


@lru_cache(maxsize=4)
def get_embedder(name: str) -> Embedder:
    if name.startswith("hash-ngram"):
        dim = int(name.rsplit("-", 1)[1]) if name.rsplit("-", 1)[1].isdigit() else 384
        return HashNgramEmbedder(dim)
    if name.startswith("st:"):
        return SentenceTransformerEmbedder(name[3:])
    raise ValueError(f"unknown EMBEDDING_MODEL {name!r}: use 'hash-ngram-768' or 'st:<package or folder>'")
