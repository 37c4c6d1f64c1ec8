"""One big PDF's OCR shared out among the coder actors, so a 300-page scanned record is not read
by one core while the others wait.

A coder that reads a PDF with at least `SHARE_FROM_OCR_PAGES` pages to recognise (a text-layer
pass finds them: `records.pages_needing_ocr`) cuts its pages into consecutive ranges with equal
shares of them (`records.split_pages`), one per coder, asks each peer for one range
(`ChartCoderWorker.read_pages`, which runs in its own concurrency group, so a peer busy coding
a shard takes it at once), reads the first range itself, and joins the parts in page order. The
PDF's bytes reach the peers and their page texts come back through Ray's object store, between
actors: never through the driver, a Prefect task's arguments or results, or a log.

A peer that fails or dies leaves its range to be read here, so a PDF is always read whole. A
text-layer PDF, or one with only a few scanned pages, is read by its own coder: PDFium reads a
thousand text pages a second, and the hand-off would cost more than it saves.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from records import (
    PdfLimits,
    PdfText,
    count_pages,
    join_parts,
    pages_needing_ocr,
    read_pdf,
    split_pages,
)

log = logging.getLogger(__name__)

# Fewer pages to recognise than this are read by one coder (OCR takes about a second a page).
SHARE_FROM_OCR_PAGES = 4


class PeerPdfReader:
    """Reads a PDF (`nlp.reading.PdfReader`), sharing its OCR with `peers` (actor handles of
    the other coders, each with a `read_pages(data, limits, pages)` method)."""

    def __init__(self, peers: Sequence[Any] = (), share_from: int = SHARE_FROM_OCR_PAGES) -> None:
        self.peers = list(peers)
        self.share_from = share_from
        self.shared = 0  # PDFs whose pages were shared out, for the shard's metrics

    def __call__(self, data: bytes, limits: PdfLimits) -> PdfText:
        # the page count costs next to nothing; the pass over the text layers to find the pages
        # to recognise costs as much as reading them, so it is made only where it may pay
        if not self.peers or count_pages(data, limits) < self.share_from:
            return read_pdf(data, limits)
        needing = pages_needing_ocr(data, limits)
        if sum(needing) < self.share_from:
            return read_pdf(data, limits)
        ranges = split_pages(needing, len(self.peers) + 1)
        return self._read_shared(data, limits, ranges)

    def _read_shared(self, data: bytes, limits: PdfLimits, ranges: list[range]) -> PdfText:
        import ray
        from ray.exceptions import RayError

        self.shared += 1
        pdf = ray.put(data)
        asked = [
            peer.read_pages.remote(pdf, limits, pages)
            for peer, pages in zip(self.peers, ranges[1:], strict=False)
        ]
        parts = [read_pdf(data, limits, ranges[0])]
        for pages, answer in zip(ranges[1:], asked, strict=True):
            try:
                parts.append(ray.get(answer))
            except RayError as exc:
                log.warning(
                    "a peer could not read pages %d-%d (%s): read here",
                    pages.start + 1,
                    pages.stop,
                    type(exc).__name__,
                )
                parts.append(read_pdf(data, limits, pages))
        return join_parts(parts)
