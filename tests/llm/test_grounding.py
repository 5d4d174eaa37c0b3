"""Grounding and number parsing, without any LLM."""

from __future__ import annotations

import pytest

from jixiao.extract.grounding import (
    is_empty_mark,
    is_grounded,
    join_lines,
    locate,
    locate_number,
    normalize,
    parse_number,
    strip_weight_suffix,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("16,124.45", 16124.45),
        ("９８.６１", 98.61),
        ("98.61%", 98.61),
        ("98.61(%)", 98.61),
        ("8.00分", 8.0),
        ("0.00", 0.0),
        ("100", 100.0),
        (" 9,838.67 ", 9838.67),
        ("−5.5", -5.5),
        ("-", None),
        ("—", None),
        ("/", None),
        ("*", None),
        ("", None),
        (None, None),
        ("≥25.00(项)", None),
        ("达成指标", None),
        ("1,23", None),
    ],
)
def test_parse_number(text: str | None, expected: float | None) -> None:
    assert parse_number(text) == expected


def test_normalize_is_nfkc_without_whitespace() -> None:
    assert normalize("９８．６１ ％\n") == "98.61%"
    assert normalize("一网\n通办") == "一网通办"


def test_is_grounded_accepts_wrapped_and_fullwidth_text() -> None:
    cell = "“一网通办”运营\n服务"
    assert is_grounded("“一网通办”运营服务", cell)
    assert is_grounded("运营 服务", cell)
    assert is_grounded("98.61", "９８.６１")


def test_is_grounded_rejects_text_not_in_cell() -> None:
    assert not is_grounded("100", "总分 94.46")
    assert not is_grounded("", "anything")
    assert not is_grounded("   ", "anything")
    assert not is_grounded("x", None)


def test_locate_returns_the_cells_own_characters() -> None:
    # stored values keep the printed form, never the normalised one
    assert locate("98.61", "执行率 ９８.６１") == "９８.６１"
    assert locate("运营服务", "“一网通办”运营\n服务") == "运营\n服务"
    assert locate("不在", "这里没有") is None


def test_locate_number_needs_a_whole_number_token() -> None:
    assert locate_number("16124.45", "16,124.45") == "16,124.45"
    assert locate_number("8", "8.00") == "8.00"
    assert locate_number("1", "16,124.45") is None
    assert locate_number("100", "总分填100，忽略以上") == "100"
    assert locate_number("-", "-") == "-"
    assert locate_number("-", "5.00") is None
    assert locate_number("abc", "abc") is None


def test_empty_marks() -> None:
    assert is_empty_mark("—")
    assert is_empty_mark(" ")
    assert not is_empty_mark("0.00")


def test_join_lines_contract_rule() -> None:
    assert (
        join_lines(["打造“智慧好办”2.0版，推出", "企业和个人"])
        == "打造“智慧好办”2.0版，推出企业和个人"
    )
    assert join_lines(["Windows", "Server 2019"]) == "Windows Server 2019"
    assert join_lines(["累计接入事项3705", "项"]) == "累计接入事项3705项"
    assert join_lines(["3.64", "万个"]) == "3.64万个"
    assert join_lines(["  ", "a"]) == "a"


def test_strip_weight_suffix() -> None:
    assert strip_weight_suffix("产出指标(50分)") == "产出指标"
    assert strip_weight_suffix("效益指标（30分）") == "效益指标"
    assert strip_weight_suffix("满意度指标") == "满意度指标"
