"""Where data and artefacts live: one data-folder setting and one cache folder."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_dir

DATA_ENV = "CHARTCODER_DATA"
CACHE_ENV = "CHARTCODER_CACHE"
MAX_CHART_BYTES = 5 * 1024 * 1024


def data_dir(explicit: str | Path | None = None) -> Path | None:
    """The public data folder (Alphabetic Index, CodiEsp), or None when it is not there."""
    value = explicit or os.environ.get(DATA_ENV)
    if not value:
        return None
    path = Path(value).expanduser()
    return path if path.is_dir() else None


def cache_dir(explicit: str | Path | None = None) -> Path:
    value = explicit or os.environ.get(CACHE_ENV) or user_cache_dir("chartcoder")
    return Path(value).expanduser()
