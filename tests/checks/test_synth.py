"""Synthetic forms: every planted defect is found; consistent forms raise no error or warning."""

from __future__ import annotations

from collections import Counter

import pytest

from jixiao.checks import run_checks
from jixiao.contract import Flag
from jixiao.corpus import synth


def _covers(flag: Flag, code: str, fields: tuple[str, ...]) -> bool:
    # R3 names the total and every sub-row of the column; the generator names the row it broke.
    return flag.code == code and set(fields) <= set(flag.fields)


@pytest.fixture(scope="module")
def sample() -> list[tuple[object, list[Flag]]]:
    return [(form, run_checks(form.record)) for form in synth.generate_forms(7, 300)]


def test_sample_covers_every_plantable_code(sample: list[tuple[object, list[Flag]]]) -> None:
    planted = Counter(p.code for form, _ in sample for p in form.planted)  # type: ignore[attr-defined]
    assert set(planted) == set(synth.PLANTABLE_CODES)


def test_every_planted_inconsistency_is_found(sample: list[tuple[object, list[Flag]]]) -> None:
    missed = [
        (form.id, p)  # type: ignore[attr-defined]
        for form, flags in sample
        for p in form.planted  # type: ignore[attr-defined]
        if not any(_covers(f, p.code, p.fields) for f in flags)
    ]
    assert missed == []


def test_nothing_but_the_planted_defect_is_an_error_or_warning(
    sample: list[tuple[object, list[Flag]]],
) -> None:
    extra = [
        (form.id, f.code, f.fields[:1])  # type: ignore[attr-defined]
        for form, flags in sample
        for f in flags
        if f.severity != "info" and not any(_covers(f, p.code, p.fields) for p in form.planted)  # type: ignore[attr-defined]
    ]
    assert extra == []
    consistent = [flags for form, flags in sample if not form.planted]  # type: ignore[attr-defined]
    assert len(consistent) == 225
