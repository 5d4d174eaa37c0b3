"""Span verification and value parsing shared by every extractor.

A value is *grounded* when its text occurs in the cell it claims to come from. Comparison is on a
normalised form (Unicode NFKC, all whitespace removed) so that full-width digits, a wrapped line
or a stray space do not break the match; the stored value is always the cell's own text
(`locate` maps the normalised match back to the original characters), never the normalised one.

Numbers are parsed here, deterministically, from cited text: an LLM never types a number.
"""

from __future__ import annotations

import re
import unicodedata

# Printed placeholders for "no value" in money / score / rate columns.
_EMPTY_MARKS = frozenset({"", "-", "--", "—", "——", "–", "/", "*", "无", "N/A", "n/a", "NA"})

# A number as printed: sign, digits with optional thousands separators, optional decimals,
# then an optional unit that does not change the value (rates are stored in percent).
_NUMBER_RE = re.compile(
    r"^(?P<sign>[+-]?)(?P<int>\d{1,3}(?:,\d{3})+|\d+)?(?P<frac>\.\d+)?"
    r"(?:\(?(?:%|分|万元|元)\)?)?$"
)

_WEIGHT_SUFFIX_RE = re.compile(r"[(（]\s*\d+(?:\.\d+)?\s*分?\s*[)）]\s*$")


def _norm_char(ch: str) -> str:
    out = unicodedata.normalize("NFKC", ch)
    if out in ("\u2212", "\u2012", "\u2013"):  # minus / figure dash / en dash typed as a minus
        return "-"
    return "".join(c for c in out if not c.isspace())


def normalize(text: str) -> str:
    """NFKC + all whitespace removed. For comparison only; never store the result."""
    return "".join(_norm_char(ch) for ch in text)


def _normalized_with_map(text: str) -> tuple[str, list[int]]:
    """The normalised text and, for each of its characters, the index of the source char."""
    chars: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        for c in _norm_char(ch):
            chars.append(c)
            index.append(i)
    return "".join(chars), index


def is_grounded(text: str | None, cell_text: str | None) -> bool:
    """True when `text` (non-empty after normalisation) occurs inside `cell_text`."""
    if not text or cell_text is None:
        return False
    return locate(text, cell_text) is not None


def locate(text: str | None, cell_text: str | None) -> str | None:
    """The original substring of `cell_text` that `text` matches after normalisation, or None.

    The result is trimmed of surrounding whitespace and keeps the cell's own characters
    (full-width digits stay full-width): values are copied as printed.
    """
    if not text or cell_text is None:
        return None
    needle = normalize(text)
    if not needle:
        return None
    hay, index = _normalized_with_map(cell_text)
    start = hay.find(needle)
    if start < 0:
        return None
    first = index[start]
    last = index[start + len(needle) - 1]
    return cell_text[first : last + 1].strip()


_NUMBER_TOKEN_RE = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?%?")


def locate_number(text: str | None, cell_text: str | None) -> str | None:
    """The whole number token of `cell_text` whose value equals the cited number, or None.

    Stricter than `locate`: "1" does not ground in "16,124.45" (a substring, not the number),
    while "16124.45" does ground in "16,124.45" (the same printed number). A placeholder cell
    ("-", "/") grounds a cited placeholder, which parses to None.
    """
    if not text or cell_text is None:
        return None
    if is_empty_mark(text):
        return cell_text.strip() if is_empty_mark(cell_text) else None
    value = parse_number(text)
    if value is None:
        return None
    hay, index = _normalized_with_map(cell_text)
    for m in _NUMBER_TOKEN_RE.finditer(hay):
        if parse_number(m.group()) == value:
            return cell_text[index[m.start()] : index[m.end() - 1] + 1].strip()
    return None


def parse_number(text: str | None) -> float | None:
    """A printed number → float; placeholders ("-", "—", "/", "*", "") and non-numbers → None.

    "16,124.45" → 16124.45; "９８.６１" → 98.61; "98.61%" → 98.61; "8.00分" → 8.0.
    """
    if text is None:
        return None
    flat = normalize(text)
    if flat in _EMPTY_MARKS:
        return None
    m = _NUMBER_RE.match(flat)
    if m is None or (m.group("int") is None and m.group("frac") is None):
        return None
    digits = (m.group("int") or "0").replace(",", "") + (m.group("frac") or "")
    value = float(digits)
    return -value if m.group("sign") == "-" else value


def is_empty_mark(text: str | None) -> bool:
    """True for an empty cell or a printed placeholder meaning "no value"."""
    return text is None or normalize(text) in _EMPTY_MARKS


def _is_latin_or_digit(ch: str) -> bool:
    flat = unicodedata.normalize("NFKC", ch)
    return flat.isascii() and flat.isalnum()


def join_lines(lines: list[str]) -> str:
    """Join the wrapped lines of one cell per the contract.

    CJK text joins with no space; a single space is kept only where a Latin/digit token ends one
    line and another Latin/digit token starts the next ("Windows" / "Server" → "Windows Server").
    """
    out = ""
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if out and _is_latin_or_digit(out[-1]) and _is_latin_or_digit(line[0]):
            out += " "
        out += line
    return out


def strip_weight_suffix(label: str) -> str:
    """A level label printed with its weight, "产出指标(50分)" → "产出指标" (contract §1)."""
    return _WEIGHT_SUFFIX_RE.sub("", label).strip()
