"""LibreOffice as an oracle for the numbers Word displays.

`soffice --headless --convert-to txt` renders automatic numbering into the text.
Each of our headings, written as "number title", should appear as a line there.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

_LEAD_NUM_RE = re.compile(r"^(\S+?)\.(\s)")
# What LibreOffice shows in front of a heading's title: digits and dots, letters on any
# part (5.3.3a, 5.5.1.2.5B1), or a dotted annex letter (A.1). Looser than the parser on
# purpose: the oracle must not share the parser's idea of a number.
_SHOWN_NUM_RE = re.compile(r"^(\d+[A-Za-z]{0,2}\d*(?:\.\d+[A-Za-z]{0,2}\d*)*|[A-Z](?:\.\d+[A-Za-z]{0,2}\d*)+)\s")
# LibreOffice writes list bullets of a style's numbering in front of the text.
_BULLET_RE = re.compile(
    r"^[\u2022\u25e6\u25aa\u25ab\u25a0\u25a1\u25cf\u25cb\u25c6\u25c7\u25ba\u25b6\u2013\u2014\uf0b7\uf0a7\uf0d8\-*o]\s+"
)


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def render_txt(files: list[Path], outdir: Path | None = None, timeout: float = 600) -> dict[Path, list[str]]:
    """Render files to text with LibreOffice in one process; return lines per file."""
    exe = soffice()
    if exe is None:
        raise RuntimeError("LibreOffice (soffice) is not installed")
    out = outdir or Path(tempfile.mkdtemp(prefix="specbot-lo-"))
    profile = Path(tempfile.mkdtemp(prefix="specbot-lo-profile-"))
    subprocess.run(
        [exe, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "txt:Text (encoded):UTF8",
         "--outdir", str(out), *map(str, files)],
        check=True, capture_output=True, timeout=timeout,
    )  # fmt: skip
    shutil.rmtree(profile, ignore_errors=True)
    return {f: (out / (f.stem + ".txt")).read_text(encoding="utf-8-sig").splitlines() for f in files}


def normalize(line: str) -> str:
    line = " ".join(line.replace("\u00a0", " ").split())
    line = _BULLET_RE.sub("", line, count=1)
    return _LEAD_NUM_RE.sub(r"\1\2", line, count=1)


def shown_number(line: str, title: str = "") -> str:
    """The number LibreOffice rendered in front of a heading's title ("" when none).

    Whatever precedes the title on the line is the number (Roman "I", letters "a)", …);
    when nothing does, a leading clause number inside the line itself counts ("5.3.3a
    Forbidden PLMNs" whose title kept its number).
    """
    line, title = normalize(line), normalize(title)
    if title and line.endswith(title):
        prefix = line[: len(line) - len(title)].strip()
        if prefix:
            return prefix
    m = _SHOWN_NUM_RE.match(line)
    return m.group(1) if m else ""


def heading_matches(headings: list[tuple[str, str]], lines: list[str]) -> tuple[int, list[str]]:
    """How many (number, title) headings appear as rendered lines with the same number, in
    document order; and the misses.

    The number field itself is compared: a heading whose number stayed in its title
    ("", "5.3.3a Forbidden PLMNs") renders the same text but is a miss. Matching in
    order keeps a heading from being "found" in the table of contents or in a later
    repeat of the same words.
    """
    norm = [normalize(x) for x in lines]
    # A heading with a line break inside shows as two lines there, one line here.
    joined = [normalize(a + " " + b) for a, b in zip(lines, lines[1:], strict=False)] + [""]
    hit, misses, ptr = 0, [], 0
    for number, title in headings:
        want = normalize(f"{number} {title}".strip())
        j = next((i for i in range(ptr, len(norm)) if norm[i] == want or joined[i] == want), None)
        if j is None:
            misses.append(want)
            continue
        ptr = j + 1
        line = norm[j] if norm[j] == want else joined[j]
        shown = shown_number(line, title)
        if shown != number:
            misses.append(f"{want} (number field {number!r}, shown {shown!r})")
        else:
            hit += 1
    return hit, misses
