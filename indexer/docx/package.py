"""Open a .docx safely: refuse what is not a Word package before any XML is parsed.

Checks, in order: empty file, OLE compound file (password-protected package or
legacy .doc), not a zip, zip bomb (declared sizes and ratio, then actual bytes
while reading), missing main part. XML parse errors and elements nested deeper than `Limits.depth`
are re-raised with the part name.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from lxml import etree

from indexer.docx.ns import OFFICE_DOC_REL, REL_NS, SAFE_PARSE, STRICT_OFFICE_DOC_REL
from indexer.errors import (
    BrokenDocument,
    EmptyDocument,
    EncryptedFile,
    LegacyWordFile,
    UnsafeArchive,
    UnsupportedFile,
)

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Stream names inside an OLE directory are UTF-16LE.
_ENCRYPTED_NAME = "EncryptedPackage".encode("utf-16-le")
_WORD_STREAM = "WordDocument".encode("utf-16-le")

# The largest real spec here (3GPP TS 38.331) expands to ~47 MB of XML at ~15:1.
MAX_TOTAL_BYTES = 512 * 1024 * 1024
MAX_PART_BYTES = 256 * 1024 * 1024
# XML compresses well, but real parts stay under ~50:1; bombs are at 1000:1.
MAX_RATIO = 200
_RATIO_MIN_BYTES = 1024 * 1024  # tiny parts may have any ratio without risk
# Element nesting. Real specs stay under 30 levels; the parser walks content controls
# and nested tables recursively, so a hostile part nested ~1,000 levels deep would end
# in a RecursionError. 256 is libxml2's own default (lifted by huge_tree, needed for size).
MAX_DEPTH = 256


@dataclass(frozen=True)
class Limits:
    total_bytes: int = MAX_TOTAL_BYTES
    part_bytes: int = MAX_PART_BYTES
    ratio: float = MAX_RATIO
    depth: int = MAX_DEPTH


def too_deep(name: str, limit: int) -> BrokenDocument:
    return BrokenDocument(f"part {name} has elements nested more than {limit} levels deep; not a real Word document?")


def _scan_ole(path: Path) -> None:
    """Tell an encrypted package from a legacy .doc by the stream names in the file."""
    found_word = False
    tail = b""
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            buf = tail + block
            if _ENCRYPTED_NAME in buf:
                raise EncryptedFile(
                    "password-protected Office file (encrypted package); save it without a password and index again"
                )
            found_word = found_word or _WORD_STREAM in buf
            tail = buf[-64:]
    if found_word:
        raise LegacyWordFile("legacy Word 97-2003 .doc file; open it in Word and save as .docx")
    raise UnsupportedFile("OLE compound file that is not a Word document")


class _CountingReader(io.RawIOBase):
    """Stops reading once a part has produced more bytes than allowed: zip headers can lie."""

    def __init__(self, raw: IO[bytes], name: str, limit: int) -> None:
        self.raw, self.name, self.limit, self.count = raw, name, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self.raw.read(len(b))
        self.count += len(data)
        if self.count > self.limit:
            raise UnsafeArchive(f"part {self.name} expands beyond {self.limit // (1024 * 1024)} MB (zip bomb?)")
        b[: len(data)] = data
        return len(data)


class DocxPackage:
    """An opened, checked .docx. Use as a context manager (closes the zip)."""

    def __init__(self, path: str | Path, limits: Limits | None = None) -> None:
        self.path = Path(path)
        self.limits = limits or Limits()
        self._check_magic()
        try:
            self.zip = zipfile.ZipFile(self.path)
        except zipfile.BadZipFile as e:
            raise UnsupportedFile(f"not a .docx (damaged zip: {e})") from None
        try:
            self._check_bomb()
            self.main = self._main_part()
        except Exception:
            self.zip.close()
            raise
        self.names = set(self.zip.namelist())

    def __enter__(self) -> DocxPackage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.zip.close()

    # -- checks ---------------------------------------------------------------
    def _check_magic(self) -> None:
        if not self.path.is_file():
            raise UnsupportedFile(f"no such file: {self.path}")
        if self.path.stat().st_size == 0:
            raise EmptyDocument("empty file (0 bytes)")
        with self.path.open("rb") as f:
            head = f.read(8)
        if head == OLE_MAGIC:
            _scan_ole(self.path)
        if not head.startswith(b"PK"):
            raise UnsupportedFile("not a .docx (not a zip package); Word 2007+ documents only")

    def _check_bomb(self) -> None:
        total = 0
        for info in self.zip.infolist():
            total += info.file_size
            if info.file_size > self.limits.part_bytes:
                raise UnsafeArchive(
                    f"part {info.filename} would expand to {info.file_size // (1024 * 1024)} MB "
                    f"(limit {self.limits.part_bytes // (1024 * 1024)} MB; zip bomb?)"
                )
            if info.file_size > _RATIO_MIN_BYTES and info.file_size > self.limits.ratio * max(info.compress_size, 1):
                ratio = info.file_size / max(info.compress_size, 1)
                raise UnsafeArchive(
                    f"part {info.filename} has compression ratio {ratio:.0f}:1 (limit {self.limits.ratio:.0f}:1; "
                    "zip bomb?)"
                )
        if total > self.limits.total_bytes:
            raise UnsafeArchive(
                f"package would expand to {total // (1024 * 1024)} MB "
                f"(limit {self.limits.total_bytes // (1024 * 1024)} MB; zip bomb?)"
            )

    def _main_part(self) -> str:
        names = set(self.zip.namelist())
        if "_rels/.rels" in names:
            rels = self.read_xml("_rels/.rels")
            for rel in rels.iter(f"{{{REL_NS}}}Relationship"):
                if rel.get("Type") in (OFFICE_DOC_REL, STRICT_OFFICE_DOC_REL):
                    target = rel.get("Target", "").lstrip("/")
                    if target in names:
                        return target
        if "word/document.xml" in names:
            return "word/document.xml"
        raise BrokenDocument("no main document part (word/document.xml missing); not a Word document?")

    # -- reading ----------------------------------------------------------------
    def related(self, rel_type_suffix: str) -> str | None:
        """Name of the part the main document relates to by type (styles, numbering)."""
        d, base = posixpath.split(self.main)
        rels_name = posixpath.join(d, "_rels", base + ".rels")
        if rels_name not in self.names:
            fallback = posixpath.join(d, rel_type_suffix + ".xml")
            return fallback if fallback in self.names else None
        for rel in self.read_xml(rels_name).iter(f"{{{REL_NS}}}Relationship"):
            if rel.get("Type", "").endswith("/" + rel_type_suffix) and rel.get("TargetMode") != "External":
                target = posixpath.normpath(posixpath.join(d, rel.get("Target", "")))
                if rel.get("Target", "").startswith("/"):
                    target = rel.get("Target", "").lstrip("/")
                return target if target in self.names else None
        return None

    @contextmanager
    def open_part(self, name: str) -> Iterator[IO[bytes]]:
        with self.zip.open(name) as raw:
            yield io.BufferedReader(_CountingReader(raw, name, self.limits.part_bytes), 1 << 16)

    def read_xml(self, name: str) -> etree._Element:
        try:
            with self.open_part(name) as f:
                # iterparse only to count depth on the way: the tree is the same as parse()'s.
                depth = 0
                root = None
                for event, el in etree.iterparse(f, events=("start", "end"), **SAFE_PARSE):
                    if event == "start":
                        depth += 1
                        if depth > self.limits.depth:
                            raise too_deep(name, self.limits.depth)
                        if root is None:
                            root = el
                    else:
                        depth -= 1
                if root is None:
                    raise BrokenDocument(f"part {name} is empty")
                return root
        except etree.XMLSyntaxError as e:
            raise BrokenDocument(f"part {name} is not well-formed XML ({e})") from None
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
            raise BrokenDocument(f"part {name} cannot be read ({e})") from None
