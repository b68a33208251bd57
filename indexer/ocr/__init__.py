"""OCR of pictures inside Word documents: scanned tables and pictures of text.

`OcrConfig` says whether and how (settings `OCR`, `OCR_WORKERS`, `OCR_LANGS`,
`OCR_MIN_CONFIDENCE`, `OCR_MAX_MEGAPIXELS`); `run_ocr` reads a set of images by
content hash, from the cache when it can, else in a process pool; `ImageResult` is
what one picture gave. The docx side (finding pictures) is `indexer/docx/images.py`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Bump when a change to the reader changes its output: cached results are keyed on it.
READER_VERSION = 2
MARK = "(from image, OCR)"


@dataclass(frozen=True)
class OcrConfig:
    workers: int = 2
    langs: str = "eng+kor"
    min_confidence: float = 60.0
    max_megapixels: float = 40.0
    cache_dir: Path | None = None

    @classmethod
    def from_settings(cls) -> OcrConfig | None:
        """The configured OCR, or None when `OCR=off`."""
        from specbot.settings import get_settings

        s = get_settings()
        if not s.ocr:
            return None
        return cls(
            workers=max(1, s.ocr_workers),
            langs=s.ocr_langs,
            min_confidence=s.ocr_min_confidence,
            max_megapixels=s.ocr_max_megapixels,
            cache_dir=s.data_dir / "ocr-cache",
        )

    def fingerprint(self) -> str:
        return f"v{READER_VERSION}|{self.langs}|{self.min_confidence:g}|{self.max_megapixels:g}"


@dataclass
class ImageResult:
    # table | text: indexed. empty: no text in it (a logo, a photo). small: too small to
    # hold text. low_confidence: reported, nothing indexed. skipped | bad: reported.
    status: str
    rows: list[list[str]] = field(default_factory=list)
    text: str = ""
    message: str = ""
    confidence: float = 0.0
    cached: bool = False

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("cached")
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ImageResult:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


from indexer.ocr.runner import OcrRun, run_ocr  # noqa: E402 - runner needs the types above

__all__ = ["MARK", "ImageResult", "OcrConfig", "OcrRun", "run_ocr"]
