"""Pictures for the OCR tests and bench, drawn with PIL: tables, paragraphs, logos, bad images.

Nothing is downloaded. Korean text uses a Debian `fonts-nanum` font when present
(tests that need Korean skip without it). Scan-like copies are rotated, blurred,
noisy and downscaled, as a phone photo or a fax of a printed page would be.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

NANUM = Path("/usr/share/fonts/truetype/nanum/NanumGothic.ttf")
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def font(size: int = 22, korean: bool = True) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for p in (NANUM, DEJAVU) if korean else (DEJAVU, NANUM):
        if p.is_file():
            return ImageFont.truetype(str(p), size)
    return ImageFont.load_default(size)


def has_korean_font() -> bool:
    return NANUM.is_file()


Merge = tuple[int, int, int, int]  # first row, first col, last row, last col (inclusive)


def render_table(
    rows: list[list[str]],
    merges: list[Merge] = (),  # type: ignore[assignment]
    size: int = 22,
    pad: int = 14,
    line: int = 2,
) -> Image.Image:
    """Draw a bordered table. A merged area shows its text once, in its top-left cell."""
    f = font(size)
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    covered: dict[tuple[int, int], Merge] = {}
    for m in merges:
        for r in range(m[0], m[2] + 1):
            for c in range(m[1], m[3] + 1):
                covered[(r, c)] = m

    def text_w(t: str) -> int:
        return int(f.getlength(t)) if t else 0

    col_w = [pad * 2 + 10] * n_cols
    for r, row in enumerate(rows):
        for c, t in enumerate(row):
            m = covered.get((r, c))
            if m is None or (m[1] == m[3] and (r, c) == (m[0], m[1])):  # text spanning one column sizes it
                col_w[c] = max(col_w[c], text_w(t) + 2 * pad)
    row_h = size + 2 * pad
    xs = [pad]
    for w in col_w:
        xs.append(xs[-1] + w)
    ys = [pad + r * row_h for r in range(n_rows + 1)]
    img = Image.new("L", (xs[-1] + pad, ys[-1] + pad), 255)
    d = ImageDraw.Draw(img)
    for r in range(n_rows):
        for c in range(n_cols):
            m = covered.get((r, c))
            if m and (r, c) != (m[0], m[1]):
                continue
            r1, c1 = (m[2], m[3]) if m else (r, c)
            x0, y0, x1, y1 = xs[c], ys[r], xs[c1 + 1], ys[r1 + 1]
            d.rectangle([x0, y0, x1, y1], outline=0, width=line)
            t = rows[r][c] if c < len(rows[r]) else ""
            if t:
                d.text((x0 + pad, (y0 + y1) // 2), t, font=f, fill=0, anchor="lm")
    return img


def render_paragraph(text: str, width: int = 900, size: int = 24) -> Image.Image:
    f = font(size)
    words, lines, cur = text.split(), [], ""
    for w in words:
        cand = f"{cur} {w}".strip()
        if cur and f.getlength(cand) > width - 40:
            lines.append(cur)
            cur = w
        else:
            cur = cand
    lines.append(cur)
    img = Image.new("L", (width, 40 + len(lines) * int(size * 1.6)), 255)
    d = ImageDraw.Draw(img)
    for i, ln in enumerate(lines):
        d.text((20, 20 + i * int(size * 1.6)), ln, font=f, fill=0)
    return img


def render_logo(text: str = "ACME", size: int = 40) -> Image.Image:
    f = font(size, korean=False)
    img = Image.new("RGB", (int(f.getlength(text)) + 40, size + 30), (30, 60, 160))
    ImageDraw.Draw(img).text((20, 12), text, font=f, fill=(255, 255, 255))
    return img


def scan_like(
    img: Image.Image,
    angle: float = 1.2,
    scale: float = 0.8,
    noise: float = 0.02,
    seed: int = 0,
    shade: int = 25,
) -> Image.Image:
    """A scanned copy: slightly rotated, blurred, downscaled, with salt-and-pepper noise and grey paper."""
    rnd = random.Random(seed)
    g = img.convert("L")
    g = g.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    g = g.filter(ImageFilter.GaussianBlur(0.6))
    g = g.resize((max(1, int(g.width * scale)), max(1, int(g.height * scale))), Image.Resampling.BILINEAR)
    px = g.load()
    assert px is not None
    for _ in range(int(g.width * g.height * noise)):
        x, y = rnd.randrange(g.width), rnd.randrange(g.height)
        px[x, y] = rnd.choice((0, 90, 200, 255))
    # Grey, uneven paper: darker toward the right edge (by up to `shade` levels).
    g = Image.eval(g, lambda v: int(v * 0.85 + 20))
    ramp = Image.linear_gradient("L").rotate(90, expand=True).resize(g.size)  # 0 at the left, 255 at the right
    dark = Image.eval(ramp, lambda v: int(shade * v / 255))
    return ImageChops.subtract(g, dark)


def png_bytes(img: Image.Image, fmt: str = "PNG", **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def animated_gif() -> bytes:
    frames = [render_paragraph(f"frame {i}", width=300) for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


def truncated_png() -> bytes:
    data = png_bytes(render_paragraph("This picture was cut off in transfer", width=600))
    return data[: len(data) // 2]


def corrupt_png() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def huge_png() -> bytes:
    """A 1-bit PNG of 8000 x 6000 px (48 MP): a few KB on disk, over the 40 MP cap."""
    return png_bytes(Image.new("1", (8000, 6000), 1))


def emf_bytes() -> bytes:
    """A minimal EMF header record (type 1, " EMF" signature at offset 40), as Word embeds them."""
    rec = bytearray(108)
    rec[0:4] = (1).to_bytes(4, "little")
    rec[4:8] = (108).to_bytes(4, "little")
    rec[40:44] = b" EMF"
    rec[44:48] = (0x10000).to_bytes(4, "little")
    return bytes(rec)


# --- generated tables with known contents (bench and tests) --------------------
_EN_SIGNALS = ["CAN_H", "CAN_L", "VBAT", "GND", "IGN", "LIN", "WAKE", "SENS_5V", "HALL_A", "PWM_OUT", "KL30", "KL15"]
_KO_SIGNALS = ["전원", "접지", "통신", "입력", "출력", "센서", "경고등", "모터", "릴레이", "스위치", "제동", "조향"]
_KO_NOTES = ["정상", "예비", "사용 안 함", "필수", "선택", "보호 회로"]
_EN_NOTES = ["Reserved", "Twisted pair", "Fused 10A", "Shielded", "Not used", "Active low"]


def pinout_rows(n_rows: int, korean: bool, seed: int) -> list[list[str]]:
    rnd = random.Random(seed)
    sig = _KO_SIGNALS if korean else _EN_SIGNALS
    notes = _KO_NOTES if korean else _EN_NOTES
    head = ["핀", "신호", "전압", "비고"] if korean else ["Pin", "Signal", "Voltage", "Note"]
    rows = [head]
    for i in range(n_rows):
        rows.append([str(i + 1), rnd.choice(sig), f"{rnd.choice([5, 12, 24, 3.3])}V", rnd.choice(notes)])
    return rows


# --- Word documents with pictures ----------------------------------------------
def make_docx(path: Path, parts: list[tuple[str, object]], header_logo: Image.Image | None = None) -> Path:
    """A .docx from ("heading", "5.3 Title") / ("text", "...") / ("picture", PIL image or raw bytes).

    Raw bytes (bad images) are first added as a distinct placeholder PNG, then the
    media part is swapped for the bytes in the zip, renamed by `ext` when given as
    (bytes, ext): python-docx refuses to add what it cannot parse.
    The header logo goes in the default and first-page headers and the footer.
    """
    import zipfile

    import docx
    from docx.shared import Inches

    d = docx.Document()
    swaps: list[tuple[int, bytes, str]] = []
    n_pic = 0
    for kind, val in parts:
        if kind == "heading":
            d.add_heading(str(val), level=str(val).count(".") + 1 if str(val)[:1].isdigit() else 1)
        elif kind == "text":
            d.add_paragraph(str(val))
        elif kind == "picture":
            n_pic += 1
            if isinstance(val, Image.Image):
                d.add_picture(io.BytesIO(png_bytes(val)), width=Inches(min(6.0, val.width / 96)))
            else:
                data, ext = val if isinstance(val, tuple) else (val, "png")
                placeholder = Image.new("L", (60 + n_pic, 40), 255)
                d.add_picture(io.BytesIO(png_bytes(placeholder)), width=Inches(1))
                swaps.append((n_pic, data, ext))
    if header_logo is not None:
        sec = d.sections[0]
        sec.different_first_page_header_footer = True
        logo = png_bytes(header_logo)
        for hf in (sec.header, sec.first_page_header, sec.footer):
            hf.paragraphs[0].add_run().add_picture(io.BytesIO(logo), width=Inches(1.2))
    path.parent.mkdir(parents=True, exist_ok=True)
    d.save(path)
    if not swaps:
        return path
    # Body pictures are numbered in order of addition (distinct contents): imageN.png.
    with zipfile.ZipFile(path) as z:
        items = {i.filename: z.read(i.filename) for i in z.infolist()}
    body_media = [n for n in items if n.startswith("word/media/")]
    rels = items["word/_rels/document.xml.rels"].decode()
    ctypes = items["[Content_Types].xml"].decode()
    for n, data, ext in swaps:
        old = f"word/media/image{n}.png"
        assert old in body_media, (old, body_media)
        new = f"word/media/image{n}.{ext}"
        del items[old]
        items[new] = data
        rels = rels.replace(f"media/image{n}.png", f"media/image{n}.{ext}")
        if f'Extension="{ext}"' not in ctypes:
            ctypes = ctypes.replace("<Default ", f'<Default Extension="{ext}" ContentType="image/{ext}"/><Default ', 1)
    items["word/_rels/document.xml.rels"] = rels.encode()
    items["[Content_Types].xml"] = ctypes.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in items.items():
            z.writestr(name, data)
    return path
