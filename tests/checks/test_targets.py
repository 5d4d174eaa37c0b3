"""The target/actual parser: seed spellings, format → parse round trips, a never-raises fuzz."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jixiao.checks.targets import (
    Qualitative,
    Quantity,
    format_quantity,
    parse_value,
    unit_factor,
)


@pytest.mark.parametrize(
    ("text", "op", "value", "unit", "complete"),
    [
        ("≥25.00(项)", ">=", 25.0, "项", True),
        ("=100.00(%)", "=", 100.0, "%", True),
        ("≤1.00(小时)", "<=", 1.0, "小时", True),
        ("≥1.50(亿条)", ">=", 1.5, "亿条", True),
        ("≥ 15000.00(个)", ">=", 15000.0, "个", True),
        ("≥\n15000.00(个)", ">=", 15000.0, "个", True),
        ("17000.0\n0(个)", None, 17000.0, "个", True),  # a number broken across cell lines
        ("＞＝１２％", ">=", 12.0, "%", True),
        ("≧90％", ">=", 90.0, "%", True),
        ("＜5（天）", "<", 5.0, "天", True),
        (">=95", ">=", 95.0, None, True),
        ("不低于90%", ">=", 90.0, "%", True),
        ("不超过5%", "<=", 5.0, "%", True),
        ("≥95%", ">=", 95.0, "%", True),
        ("100%", None, 100.0, "%", True),
        ("90%以上", ">=", 90.0, "%", True),
        ("1,200.00万元", None, 1200.0, "万元", True),
        ("1小时内解决问题以确保系统正常运行", "<=", 1.0, "小时", False),
        ("≤12个工作日", "<=", 12.0, "个工作日", True),
        ("21万立方米", None, 21.0, "万立方米", True),
        ("≥1300家次", ">=", 1300.0, "家次", True),
        ("≥95分", ">=", 95.0, "分", True),
        ("3个工作日内", "<=", 3.0, "个工作日", True),
        ("新设企业通过全程网办方式占比≥60%", ">=", 60.0, "%", False),
    ],
)
def test_quantities(
    text: str, op: str | None, value: float, unit: str | None, complete: bool
) -> None:
    assert parse_value(text) == Quantity(op, value, unit, complete)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("达成指标", "met"),
        ("达成", "met"),
        ("达成指\n标", "met"),
        ("部分达成指标并具有一定效果", "partial"),
        ("基本达成", "partial"),
        ("未达成", "not_met"),
        ("未达成指标", "not_met"),
        ("有效降低", "unknown"),
        ("符合GB/T 39786《信息安全技术 信息系统密码应用基本要求》的第三级别要求", "unknown"),
        ("驻场技术工程师在10分钟内赶到故障现场", None),  # a quantity inside a description
    ],
)
def test_qualitative(text: str, level: str | None) -> None:
    parsed = parse_value(text)
    if level is None:
        assert isinstance(parsed, Quantity) and not parsed.complete
    else:
        assert parsed == Qualitative(level)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", [None, "", "  ", "-", "—", "/"])
def test_empty_cells(text: str | None) -> None:
    assert parse_value(text) is None


def test_units_compare_only_when_compatible() -> None:
    assert unit_factor("项", "项") == 1.0
    assert unit_factor("%", None) == 1.0  # an actual without a unit
    assert unit_factor("亿条", "万条") == pytest.approx(1e-4)
    assert unit_factor("万元", "元") == pytest.approx(1e-4)
    assert unit_factor("项", "个") is None
    assert unit_factor(None, "%") is None


_OPS = st.sampled_from([">=", ">", "=", "<=", "<", None])
_UNITS = st.sampled_from(
    [
        None,
        "%",
        "项",
        "个",
        "次",
        "人",
        "家",
        "小时",
        "分钟",
        "万人",
        "亿条",
        "万条",
        "PB",
        "天",
        "份",
    ]
)
_VALUES = st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(op=_OPS, value=_VALUES, unit=_UNITS, parens=st.booleans())
def test_format_parse_round_trip(
    op: str | None, value: object, unit: str | None, parens: bool
) -> None:
    number = float(value)  # type: ignore[arg-type]
    text = format_quantity(op, number, unit, parens=parens)  # type: ignore[arg-type]
    assert parse_value(text) == Quantity(op, number, unit, True)  # type: ignore[arg-type]


_FULL_WIDTH = str.maketrans("0123456789%()<>=", "０１２３４５６７８９％（）＜＞＝")


@settings(max_examples=150, deadline=None)
@given(op=st.sampled_from([">=", "<=", "="]), value=_VALUES, unit=_UNITS)
def test_full_width_round_trip(op: str, value: object, unit: str | None) -> None:
    number = float(value)  # type: ignore[arg-type]
    text = format_quantity(op, number, unit).replace("≥", ">=").replace("≤", "<=")
    assert parse_value(text.translate(_FULL_WIDTH)) == Quantity(op, number, unit, True)  # type: ignore[arg-type]


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_never_raises_on_arbitrary_text(text: str) -> None:
    parsed = parse_value(text)
    assert parsed is None or isinstance(parsed, Quantity | Qualitative)


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet="≥≤=<>＞＝％%.,0123456789１２()（）项个达成未部分以上内不低于超过万亿 ",
        max_size=40,
    )
)
def test_never_raises_on_target_like_text(text: str) -> None:
    parsed = parse_value(text)
    assert parsed is None or isinstance(parsed, Quantity | Qualitative)
