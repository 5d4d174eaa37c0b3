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


# --- OCR repairs ------------------------------------------------------------------------------
# A comparison sign in a target ("≥30.00(项)") is one small glyph; OCR engines trained on
# running text return a CJK character of similar shape instead ("过30.00(项)"). The prior
# sign of each confusion is what the glyph most resembles; context may choose another one.
SIGN_CONFUSIONS: dict[str, str] = {
    "过": "≥",
    "之": "≥",
    "人": "≥",
    "入": "≥",
    "大": "≥",
    "达": "≥",
    "科": "≤",
    "和": "≤",
    "小": "≤",
    "二": "=",
    "三": "=",
}
SIGNS = frozenset("≥≤><=")
# One confusable character, a number, a unit in parentheses — and nothing else.
_SIGN_SLOT_RE = re.compile(
    r"^\s*(?P<glyph>\S)\s*(?P<number>\d[\d,]*(?:\.\d+)?)\s*(?P<unit>[(（][^()（）]{1,8}[)）])\s*$"
)


def sign_slot(text: str | None) -> tuple[str, str] | None:
    """(the glyph, the rest) when `text` is a number with a unit led by a character that OCR
    makes of a comparison sign ("过30.00(项)" → ("过", "30.00(项)")), else None."""
    if not text:
        return None
    m = _SIGN_SLOT_RE.match(text)
    if m is None or m.group("glyph") not in SIGN_CONFUSIONS:
        return None
    return m.group("glyph"), text[m.end("glyph") :].strip()


def leading_sign(text: str | None) -> str | None:
    """The comparison sign a target starts with ("≥25.00(项)" → "≥"), else None."""
    flat = normalize(text or "")
    return flat[0] if flat and flat[0] in SIGNS else None


_CJK = r"\u3400-\u9fff"
# Marks that never end a name: OCR debris from a ruling or a speck next to the text.
_JUNK_SYMBOLS = "<>|\\/_~^`=+*#@"
_SYMBOL_TAIL_RE = re.compile(rf"(?<=[{_CJK}])[{re.escape(_JUNK_SYMBOLS)}]+$")
# One Latin letter or digit after CJK text, maybe followed by one CJK character ("项目2人").
_ISOLATED_TAIL_RE = re.compile(rf"(?<=[{_CJK}])[A-Za-z0-9][{_CJK}]?$")


def junk_tail(text: str | None) -> tuple[str, str, bool] | None:
    """Stray characters OCR appended to a name: (the text without them, the tail, whether the
    tail may be removed), or None when the end looks like a name's.

    Removable: symbols no name ends with ("…项目>", "…资金|"). Suspect only: a lone Latin
    letter or digit after CJK text that holds no other Latin or digit ("…项目2人"), which may
    also be part of a real name ("…一期2"): that is for a reviewer, not a rule, to decide.
    """
    if not text:
        return None
    stripped = text.rstrip()
    symbols = _SYMBOL_TAIL_RE.search(stripped)
    rest = stripped[: symbols.start()].rstrip() if symbols is not None else stripped
    tail = symbols.group() if symbols is not None else ""
    m = _ISOLATED_TAIL_RE.search(rest)
    if m is not None and len(rest) >= 4 and not re.search(r"[A-Za-z0-9]", rest[: m.start()]):
        return rest[: m.start()], m.group() + tail, False
    if tail:
        return rest, tail, True
    return None
