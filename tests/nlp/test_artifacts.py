"""Cache rules: newest valid artefacts are used; corrupt ones are never trusted; a missing data
folder never discards a good cache."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from nlp import artifacts
from nlp.artifacts import ArtifactError, find_valid, verify
from nlp.coder import ChartCoder
from nlp.training import build, find_or_build


def test_build_is_stamped_and_verifies(fixture_build):
    manifest = verify(fixture_build.path)
    stamp = manifest["stamp"]
    assert set(stamp) == {
        "chartcoder",
        "codeset",
        "index",
        "rules",
        "engine",
        "training",
        "us_calibration",
    }
    assert stamp["codeset"].startswith("icd10cm-fy2026/")
    assert stamp["index"].startswith("icd10cm-index-fy2025/")
    assert stamp["training"] == "none"
    assert stamp["us_calibration"] == "none"  # no US dev charts in the fixture data
    assert manifest["model_version"].endswith("heuristic-v1")


def test_an_up_to_date_build_is_reused(fixture_build, data_dir):
    again = build(cache_dir=fixture_build.path.parent.parent, data_dir=data_dir, force=False)
    assert again.path == fixture_build.path


def _newer_copy(cache: Path) -> Path:
    (original,) = [p for p in (cache / "artifacts").iterdir() if p.is_dir()]
    newer = original.with_name("99991231T000000Z-" + original.name.split("-")[-1])
    shutil.copytree(original, newer)
    return newer


def test_corrupt_newest_folder_is_skipped(cache_copy):
    newer = _newer_copy(cache_copy)
    (newer / "linker.pkl").write_bytes(b"truncated")
    with pytest.raises(ArtifactError, match=r"linker\.pkl does not match its checksum"):
        verify(newer)
    bundle = find_valid(cache_copy)
    assert bundle is not None and bundle.path != newer


def test_unreadable_manifest_is_skipped(cache_copy):
    newer = _newer_copy(cache_copy)
    (newer / "manifest.json").write_text("{", encoding="utf-8")
    bundle = find_valid(cache_copy)
    assert bundle is not None and bundle.path != newer


def test_missing_file_is_reported(cache_copy):
    newer = _newer_copy(cache_copy)
    (newer / "ranker.pkl").unlink()
    with pytest.raises(ArtifactError, match=r"ranker\.pkl is missing"):
        verify(newer)


def test_missing_data_folder_keeps_a_good_cache(cache_copy, fixture_build):
    bundle = find_or_build(cache_dir=cache_copy, data_dir=None)
    assert bundle.path.name == fixture_build.path.name
    assert bundle.manifest["stamp"]["index"] != "none"


def test_corrupt_cache_is_rebuilt_never_trusted(cache_copy, data_dir, caplog):
    (only,) = [p for p in (cache_copy / "artifacts").iterdir() if p.is_dir()]
    manifest = json.loads((only / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"]["codeset.pkl"] = "0" * 64
    (only / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    bundle = find_or_build(cache_dir=cache_copy, data_dir=data_dir)
    assert bundle.path != only
    assert not only.exists()  # the corrupt build is removed once a good one replaces it
    assert "ignoring artefacts" in caplog.text
    coder = ChartCoder.from_artifacts(bundle.path, threshold=0.0)
    assert coder.model_version == bundle.manifest["model_version"]


def test_no_cache_and_no_data_builds_from_the_tabular_list(tmp_path, caplog, monkeypatch):
    monkeypatch.delenv("CHARTCODER_DATA", raising=False)
    bundle = find_or_build(cache_dir=tmp_path / "cache", data_dir=None)
    assert bundle.manifest["stamp"]["index"] == "none"
    assert "building from the ICD-10-CM tabular list alone" in caplog.text
    coder = ChartCoder.from_artifacts(bundle.path, threshold=0.0)
    from nlp.records import Chart

    (result,) = coder.code([Chart("c", "Essential hypertension.")])
    assert "I10" in {f.code for f in result.codes}


def test_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CHARTCODER_CACHE", str(tmp_path / "elsewhere"))
    assert artifacts.artifacts_root() == tmp_path / "elsewhere" / "artifacts"


def test_artefacts_of_another_engine_version_are_not_trusted(cache_copy):
    newer = _newer_copy(cache_copy)
    manifest = json.loads((newer / "manifest.json").read_text(encoding="utf-8"))
    manifest["stamp"]["engine"] = "0" * 12
    (newer / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ArtifactError, match="built by another version of the engine"):
        verify(newer)
    bundle = find_valid(cache_copy)
    assert bundle is not None and bundle.path != newer
