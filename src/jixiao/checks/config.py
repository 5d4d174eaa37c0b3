"""Thresholds of the deterministic checks, as named profiles or a TOML/YAML/JSON file.

Every default below is a rule of shared/spec/scoring-rules.md; the ones tagged [R] there (no source
settles them) are the ones most worth overriding. A file holds any subset of the fields, plus an
optional `profile = "legacy-80-70-60"` to start from; loading is the only I/O here and lives in
`load_config` (the checks themselves stay pure).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from jixiao.errors import ConfigError, FileMissing


class QualitativeBand(BaseModel):
    """A score range as fractions of the weight: lower ≤ s/w < upper (upper inclusive at 1.0)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lower: float = Field(ge=0.0, le=1.0)
    upper: float = Field(ge=0.0, le=1.0)


class CheckConfig(BaseModel):
    """What the checks accept. Defaults: the central standard (R1–R16 of scoring-rules.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    grade_bands: dict[str, float] = Field(
        default_factory=lambda: {"优": 90.0, "良": 80.0, "中": 60.0, "差": 0.0},
        description="R10: grade → lowest total_score that earns it (highest band first).",
    )
    decimals: int = Field(2, ge=0, le=6, description="Printed decimals of rates and scores.")
    accept_truncation: bool = Field(
        True, description="R1/R2/R4/R5: a value cut (81.1568 → 81.15) is as good as rounded."
    )
    total_tolerance: float = Field(0.01, ge=0, description="R9: |total − Σ| allowed, exact inputs.")
    total_tolerance_rounded: float = Field(
        0.1, ge=0, description="R9: |total − Σ| allowed when a component score was rounded."
    )
    sum_tolerance: float = Field(
        0.01, ge=0, description="R3/R8: |Σ parts − whole| allowed beyond the rounding of the parts."
    )
    proportional_tolerance: float = Field(
        0.01,
        ge=0,
        description=(
            "R4/R5: |s − w·B/A| allowed beyond rounding/truncation to the printed decimals. "
            "The gold forms count 5.50 for 8×54/80 = 5.40 as a finding, so no rounding to 0.5."
        ),
    )
    overachievement_ratio: float = Field(
        1.3, gt=1.0, description="R12: B ≥ ratio·A needs a reason."
    )
    low_execution_rate: float = Field(
        90.0, ge=0, description="R16: rate (%) below which to explain."
    )
    qualitative_bands: dict[str, QualitativeBand] = Field(
        default_factory=lambda: {
            "met": QualitativeBand(lower=0.8, upper=1.0),
            "partial": QualitativeBand(lower=0.6, upper=0.8),
            "not_met": QualitativeBand(lower=0.0, upper=0.6),
        },
        description="R6: s/w range per level (达成 / 部分达成 / 未达成).",
    )
    partial_upper_inclusive: bool = Field(
        False,
        description=(
            "R6: whether 部分达成 may score exactly 0.8·w. The spec writes [0.6w, 0.8w), and the "
            "gold flags 8.00 of 10 on 部分达成; True for systems scoring the edge inclusively."
        ),
    )
    weight_split: dict[str, float] = Field(
        default_factory=lambda: {"产出": 50.0, "效益": 30.0, "满意度": 10.0, "预算执行": 10.0},
        description="R14: default level-1 weights, matched to level1 by substring.",
    )
    budget_weight: float = Field(10.0, ge=0, description="R2/R8: w_budget when not printed.")
    total_weight: float = Field(100.0, gt=0, description="R8: Σ weights when total_weight is null.")
    suspect_confidence: float = Field(
        0.9, ge=0, le=1, description="origin: a field below this makes a flag `extraction`."
    )

    @model_validator(mode="after")
    def _bands_are_ordered(self) -> CheckConfig:
        for name, band in self.qualitative_bands.items():
            if band.lower > band.upper:
                raise ValueError(f"qualitative band {name}: lower > upper")
        if not self.grade_bands:
            raise ValueError("grade_bands is empty")
        return self


PROFILES: dict[str, dict[str, Any]] = {
    "default": {},
    # An older regional configuration: 优 ≥ 80, 良 [70, 80), 中 [60, 70), 差 < 60.
    "legacy-80-70-60": {"grade_bands": {"优": 80.0, "良": 70.0, "中": 60.0, "差": 0.0}},
}


def profile_config(name: str = "default", **overrides: Any) -> CheckConfig:
    """The named profile, with overrides; ConfigError for an unknown name or a bad value."""
    if name not in PROFILES:
        known = ", ".join(sorted(PROFILES))
        raise ConfigError(None, f"unknown check profile {name!r}", f"use one of: {known}")
    try:
        return CheckConfig.model_validate({**PROFILES[name], **overrides})
    except ValidationError as err:
        raise ConfigError(None, f"invalid check setting: {_first_error(err)}") from None


def load_config(path: Path, *, profile: str | None = None) -> CheckConfig:
    """Read a .toml, .yaml/.yml or .json file of CheckConfig fields (+ optional `profile`)."""
    if not path.exists():
        raise FileMissing(str(path))
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
        data: Any
        if suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix in {".yaml", ".yml"}:
            import yaml

            data = yaml.safe_load(text) or {}
        elif suffix == ".json":
            data = json.loads(text)
        else:
            raise ConfigError(str(path), "unknown config format", "use .toml, .yaml or .json")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(str(path), f"cannot parse: {err}", "fix the syntax") from None
    except ConfigError:
        raise
    except Exception as err:  # yaml.YAMLError and friends
        raise ConfigError(str(path), f"cannot parse: {err}", "fix the syntax") from None
    if not isinstance(data, dict):
        raise ConfigError(str(path), "the file must hold a table/mapping of settings")
    base = str(data.pop("profile", profile or "default"))
    try:
        return profile_config(base, **data)
    except ConfigError as err:
        raise ConfigError(str(path), err.reason, err.hint) from None


def _first_error(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}"
