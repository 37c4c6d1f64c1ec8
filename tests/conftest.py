"""Session-wide test set-up: a tiny data folder and artefacts fixture_build from it once, and a
real Prefect API (the pipeline and bridge tests use it)."""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from nlp.artifacts import Bundle
from nlp.coder import ChartCoder
from nlp.knowledge_base import INDEX_FILE, NEOPLASM_FILE
from nlp.training import build

FIXTURES = Path(__file__).parent / "fixtures"


def make_data_folder(root: Path) -> Path:
    """A data folder holding the fixture index and neoplasm table, gzipped as published."""
    for source, target in (("index_rows.tsv", INDEX_FILE), ("neoplasm_rows.tsv", NEOPLASM_FILE)):
        path = root / target
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(path, "wb") as handle:
            handle.write((FIXTURES / source).read_bytes())
    return root


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_data_folder(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def fixture_build(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Bundle:
    """Artefacts fixture_build from the fixture data (no coded charts: heuristic ranker)."""
    return build(cache_dir=tmp_path_factory.mktemp("cache"), data_dir=data_dir)


@pytest.fixture(scope="session")
def coder(fixture_build: Bundle) -> ChartCoder:
    """The engine with every candidate kept (threshold 0), so tests see what the rules do."""
    return ChartCoder.from_artifacts(fixture_build.path, threshold=0.0, top_k=1000)


@pytest.fixture(scope="session")
def codiesp_coder(fixture_build: Bundle) -> ChartCoder:
    """The engine under the CodiEsp benchmark's convention, every candidate kept."""
    return ChartCoder.from_artifacts(
        fixture_build.path, threshold=0.0, top_k=1000, convention="codiesp"
    )


@pytest.fixture(scope="session")
def inpatient_coder(fixture_build: Bundle) -> ChartCoder:
    return ChartCoder.from_artifacts(
        fixture_build.path, threshold=0.0, top_k=1000, setting="inpatient"
    )


@pytest.fixture
def cache_copy(fixture_build: Bundle, tmp_path: Path) -> Path:
    """A cache folder holding a copy of the fixture_build artefacts, free to corrupt."""
    cache = tmp_path / "cache"
    shutil.copytree(fixture_build.path.parent, cache / "artifacts")
    return cache


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A real Prefect API; results (if any were persisted) would land in the returned folder."""
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    storage = tmp_path_factory.mktemp("prefect-storage")
    with (
        temporary_settings({PREFECT_LOCAL_STORAGE_PATH: storage}),
        prefect_test_harness(server_startup_timeout=180),
    ):
        yield storage
