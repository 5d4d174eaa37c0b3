"""Profiles and config files: defaults as documented, files in three formats, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from jixiao.checks.config import CheckConfig, load_config, profile_config
from jixiao.checks.rules import grade_for
from jixiao.errors import ConfigError, FileMissing


def test_default_bands_and_thresholds() -> None:
    cfg = CheckConfig()
    assert [grade_for(t, cfg) for t in (95, 90, 89.99, 80, 79.9, 60, 59.99)] == [
        "优",
        "优",
        "良",
        "良",
        "中",
        "中",
        "差",
    ]
    assert cfg.overachievement_ratio == 1.3 and cfg.low_execution_rate == 90.0
    assert cfg.weight_split == {"产出": 50.0, "效益": 30.0, "满意度": 10.0, "预算执行": 10.0}


def test_legacy_profile() -> None:
    cfg = profile_config("legacy-80-70-60")
    assert [grade_for(t, cfg) for t in (80, 79.9, 70, 69.9, 59.9)] == ["优", "良", "良", "中", "差"]


def test_unknown_profile_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown check profile"):
        profile_config("nope")


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("c.toml", 'profile = "legacy-80-70-60"\noverachievement_ratio = 1.5\n'),
        ("c.yaml", "profile: legacy-80-70-60\noverachievement_ratio: 1.5\n"),
        ("c.json", '{"profile": "legacy-80-70-60", "overachievement_ratio": 1.5}'),
    ],
)
def test_load_config_formats(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    cfg = load_config(path)
    assert cfg.overachievement_ratio == 1.5
    assert cfg.grade_bands["优"] == 80.0


def test_bad_config_files(tmp_path: Path) -> None:
    with pytest.raises(FileMissing):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("overachievement_ratio = [", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot parse"):
        load_config(bad)
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"overachievement_ratio": 0.5}', encoding="utf-8")
    with pytest.raises(ConfigError, match="overachievement_ratio") as info:
        load_config(wrong)
    assert "\n" not in info.value.line()
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("no_such_setting: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no_such_setting"):
        load_config(unknown)
