"""run_checks never raises: any FormRecord the contract admits gets flags, not a traceback."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from jixiao.checks import run_checks
from jixiao.contract import Flag, FormRecord, FundingRow, Indicator

_NUM = (
    st.none()
    | st.floats(min_value=-1e6, max_value=1e9, allow_nan=False)
    | st.sampled_from([0.0, 10.0, 100.0])
)
_TEXT = (
    st.none()
    | st.text(max_size=20)
    | st.sampled_from(
        ["≥25.00(项)", "≤5%", "=0(起)", "达成指标", "部分达成", "未达成", "100%", "-", "12万条"]
    )
)

_FUNDING = st.builds(
    FundingRow,
    label=st.text(max_size=8),
    kind=st.sampled_from(
        ["total", "fiscal", "carryover", "special_account", "unit_funds", "other"]
    ),
    initial_budget=_NUM,
    annual_budget=_NUM,
    executed=_NUM,
    weight=_NUM,
    execution_rate=_NUM,
    score=_NUM,
)
_INDICATOR = st.builds(
    Indicator,
    level1=st.none() | st.sampled_from(["产出指标", "效益指标", "满意度指标", "其他"]),
    level2=st.none() | st.text(max_size=6),
    name=st.text(max_size=12),
    target_text=_TEXT,
    actual_text=_TEXT,
    weight=_NUM,
    score=_NUM,
    deviation_reason=st.none() | st.text(max_size=6),
)
_RECORD = st.builds(
    FormRecord,
    funding=st.lists(_FUNDING, max_size=5),
    indicators=st.lists(_INDICATOR, max_size=8),
    goal_expected=st.none() | st.text(max_size=6),
    goal_actual=st.none() | st.text(max_size=6),
    total_weight=_NUM,
    total_score=_NUM,
    grade=st.none() | st.sampled_from(["优", "良好", "合格", "差", "A", ""]),
)


@settings(max_examples=200, deadline=None)
@given(record=_RECORD, lang=st.sampled_from(["zh", "en"]))
def test_run_checks_never_raises(record: FormRecord, lang: str) -> None:
    flags = run_checks(record, lang=lang, level1_weights={"产出指标(50分)": 50.0})
    assert all(isinstance(f, Flag) and f.message and f.rule for f in flags)
