"""The stack's settings: flags over environment over defaults, and refusal of what cannot work."""

from __future__ import annotations

from pathlib import Path

import pytest

from stack.lifecycle import status
from stack.parts import parts
from stack.processes import StackFolder
from stack.settings import StackSettings, stack_dir


def test_settings_come_from_flags_then_environment_then_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHARTCODER_CACHE", str(tmp_path / "cache"))
    for name in ("CHARTCODER_S3_PORT", "CHARTCODER_WEBHOOK_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CHARTCODER_STACK_DIR", raising=False)
    monkeypatch.setenv("CHARTCODER_PREFECT_PORT", "5999")
    assert stack_dir() == tmp_path / "cache" / "stack"
    monkeypatch.setenv("CHARTCODER_STACK_DIR", str(tmp_path / "elsewhere"))
    settings = StackSettings.resolve(None, s3_port=6001, quiet_seconds=None)
    assert settings.state_dir == tmp_path / "elsewhere"
    assert (settings.prefect_port, settings.s3_port, settings.webhook_port) == (5999, 6001, 4272)
    assert settings.quiet_seconds == 20.0
    assert StackSettings.from_json(settings.to_json()) == settings
    bridge = parts(settings)[-1]
    assert bridge.argv[bridge.argv.index("--quiet-seconds") + 1] == "20"
    assert "--visibility-timeout" not in bridge.argv


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"results": "s3://chartcoder-landing/incoming/out"}, "overlaps landing"),
        ({"landing": "s3://bucket"}, "expected s3://bucket/prefix"),
        ({"s3_port": 4270}, "must differ"),
        ({"prefect_port": 70000}, "1-65535"),
        ({"quiet_seconds": 0}, "positive"),
    ],
)
def test_settings_refuse_what_cannot_work(
    tmp_path: Path, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        StackSettings(state_dir=tmp_path, **overrides)  # type: ignore[arg-type]


def test_settings_refuse_a_folder_that_is_not_a_checkout(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a chartcoder checkout"):
        StackSettings.resolve(tmp_path / "stack", project_dir=tmp_path)


def test_status_reads_the_record_of_a_stack_from_a_removed_checkout(tmp_path: Path) -> None:
    # the stack folder is per user: a checkout that started a stack may be gone since
    record = StackSettings(state_dir=tmp_path, project_dir=tmp_path / "removed").to_json()
    StackFolder(tmp_path).write({"settings": record, "parts": {}})
    assert not any(part.running for part in status(tmp_path))
