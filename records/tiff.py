"""A multi-page TIFF (what fax servers write) as a PDF of its page images, so that it is read as
a scanned PDF is: every page recognised, with the same limits, page errors and sharing of OCR.

Fax resolutions are not square (204 x 196 dpi "fine", 204 x 98 "normal"): each page is
stretched to square pixels at its horizontal resolution, so that letters keep their shape for
OCR. A TIFF Pillow cannot open, or one over the page limit, raises `PdfError` with the reason.
"""

from __future__ import annotations

import io

from PIL import Image, ImageSequence, UnidentifiedImageError

from records.pages import PdfError, PdfLimits

# A TIFF page's resolution when it states none: the fax standard's "fine" horizontal one.
DEFAULT_DPI = 204.0


def tiff_to_pdf(data: bytes, limits: PdfLimits | None = None) -> bytes:
    """The TIFF's pages as an image-only PDF (bytes)."""
    limits = limits or PdfLimits()
    if len(data) > limits.max_bytes:
        raise PdfError(f"TIFF too large: {len(data)} bytes, the limit is {limits.max_bytes}")
    try:
        image = Image.open(io.BytesIO(data))
        count = getattr(image, "n_frames", 1)
        if count > limits.max_pages:
            raise PdfError(f"TIFF has {count} pages, the limit is {limits.max_pages}")
        pages = [_square_page(frame) for frame in ImageSequence.Iterator(image)]
    except PdfError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise PdfError(f"corrupt TIFF: {exc}") from None
    if not pages:
        raise PdfError("TIFF has no pages")
    out = io.BytesIO()
    first, dpi = pages[0]
    first.save(
        out,
        "PDF",
        save_all=True,
        append_images=[page for page, _ in pages[1:]],
        resolution=dpi,
    )
    return out.getvalue()


def _square_page(frame: Image.Image) -> tuple[Image.Image, float]:
    """One page in grayscale (1-bit stays 1-bit) with square pixels, and its resolution."""
    x_dpi, y_dpi = (float(v) or DEFAULT_DPI for v in frame.info.get("dpi", (0, 0)))
    page = frame.copy() if frame.mode == "1" else frame.convert("L")
    if abs(x_dpi - y_dpi) > 1:
        height = max(1, round(page.height * x_dpi / y_dpi))
        page = page.resize((page.width, height), Image.Resampling.NEAREST)
    return page, x_dpi
