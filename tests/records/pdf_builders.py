"""PDFs made for tests and benchmarks: text-layer pages (fpdf2), scanned pages (text rendered to
an image with Pillow, no text layer), both mixed, and encrypted ones. Nothing is fetched."""

from __future__ import annotations

import io
import random

from fpdf import FPDF
from fpdf.enums import EncryptionMethod
from PIL import Image, ImageDraw, ImageFilter, ImageFont

# A US letter page in points, and the resolution scans are made at.
PAGE_W_PT, PAGE_H_PT = 612, 792
SCAN_DPI = 200
SCAN_FONT_PX = 34
SCAN_MARGIN_PX = 120
SCAN_LINE_PX = 48


def scanned_image(text: str, fax: bool = False, seed: int = 0) -> Image.Image:
    """A page of text as a scan: black text on white at `SCAN_DPI`; `fax` makes it 1-bit, a
    little rotated and speckled, as a faxed page is."""
    width, height = PAGE_W_PT * SCAN_DPI // 72, PAGE_H_PT * SCAN_DPI // 72
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=SCAN_FONT_PX)
    y = SCAN_MARGIN_PX
    for line in text.splitlines():
        draw.text((SCAN_MARGIN_PX, y), line, fill=0, font=font)
        y += SCAN_LINE_PX
    if fax:
        rng = random.Random(seed)
        image = image.rotate(0.6, fillcolor=255, resample=Image.Resampling.BICUBIC)
        image = image.filter(ImageFilter.GaussianBlur(0.8))
        pixels = image.load()
        assert pixels is not None
        for _ in range(width * height // 400):
            pixels[rng.randrange(width), rng.randrange(height)] = 0
        image = image.point(lambda v: 255 if v > 150 else 0).convert("1")
    return image


def _pdf() -> FPDF:
    pdf = FPDF(unit="pt", format="letter")
    pdf.set_auto_page_break(False)
    pdf.set_margins(54, 54)
    pdf.set_font("Helvetica", size=11)
    return pdf


def _add_text_page(pdf: FPDF, text: str) -> None:
    pdf.add_page()
    pdf.multi_cell(0, 14, text)


def _add_scanned_page(pdf: FPDF, text: str, fax: bool = False) -> None:
    pdf.add_page()
    pdf.image(scanned_image(text, fax=fax, seed=pdf.page), x=0, y=0, w=PAGE_W_PT, h=PAGE_H_PT)


def _output(pdf: FPDF) -> bytes:
    return bytes(pdf.output())


def text_layer_pdf(
    pages: list[str], owner_password: str | None = None, user_password: str | None = None
) -> bytes:
    """A PDF whose pages hold `pages` as text; with a password, encrypted (RC4, as PDF 1.4)."""
    pdf = _pdf()
    if owner_password is not None or user_password is not None:
        pdf.set_encryption(
            owner_password=owner_password or "owner",
            user_password=user_password or "",
            encryption_method=EncryptionMethod.RC4,
        )
    for text in pages:
        _add_text_page(pdf, text)
    return _output(pdf)


def scanned_pdf(pages: list[str], fax: bool = False) -> bytes:
    """A PDF of page images only (no text layer)."""
    pdf = _pdf()
    for text in pages:
        _add_scanned_page(pdf, text, fax)
    return _output(pdf)


def mixed_pdf(pages: list[tuple[str, str]]) -> bytes:
    """Pages given as ("text" | "scan", text)."""
    pdf = _pdf()
    for kind, text in pages:
        if kind == "scan":
            _add_scanned_page(pdf, text)
        else:
            _add_text_page(pdf, text)
    return _output(pdf)


def image_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def zero_page_pdf() -> bytes:
    """A well-formed PDF whose page tree is empty (fpdf2 always writes a page)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def fax_tiff(pages: list[str], normal: bool = False) -> bytes:
    """A multi-page TIFF as a fax server writes it: 1-bit pages, CCITT Group 4, at 204 x 196
    dpi ("fine"), or 204 x 98 ("normal": every other line, so half the height)."""
    images = []
    for number, text in enumerate(pages):
        image = scanned_image(text, fax=True, seed=number)
        width, height = round(image.width * 204 / SCAN_DPI), round(image.height * 196 / SCAN_DPI)
        image = image.resize((width, height // 2 if normal else height))
        images.append(image)
    buffer = io.BytesIO()
    images[0].save(
        buffer,
        format="TIFF",
        save_all=True,
        append_images=images[1:],
        compression="group4",
        dpi=(204, 98 if normal else 196),
    )
    return buffer.getvalue()
