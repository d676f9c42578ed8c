r"""Deterministic whitespace and punctuation normalisation for Chinese counseling text.

Why not NFKC: it maps full-width Chinese punctuation (，。？！：；（）) to ASCII, which is wrong for
Chinese text and changes what the model learns to write. The rules here are targeted instead:

Whitespace (:func:`normalize_whitespace`)
    1. ``\r\n`` and ``\r`` (and U+2028/U+2029) become ``\n``.
    2. Zero-width characters (U+200B, U+200C, U+2060, U+FEFF, soft hyphen) and control characters other
       than ``\n`` are removed; tabs, no-break and ideographic spaces (U+3000) become spaces. The
       zero-width joiner U+200D is kept: emoji sequences need it.
    3. Runs of spaces collapse to one; spaces at the start and end of lines are removed.
    4. Spaces touching full-width punctuation are removed (the punctuation carries its own spacing);
       a single space between two Chinese characters is kept (it may separate clauses).
    5. Three or more line breaks collapse to two; the text is stripped.

Punctuation (:func:`normalize_punctuation`), "Chinese context" meaning a CJK character or full-width
punctuation mark right before:
    1. Full-width letters and digits (Ａ-Ｚ, ａ-ｚ, ０-９) become ASCII.
    2. ``, ; : ? !`` in Chinese context become ``， ； ： ？ ！``.
    3. A single ``.`` in Chinese context, not followed by a digit, becomes ``。``.
    4. Three or more ``.`` or ``。`` in Chinese context become ``……``.
    5. ``(…)`` whose content holds a Chinese character (no nested brackets) becomes ``（…）``.
    6. Spaces touching full-width punctuation are removed (as in the whitespace rules).
    Digits and Latin text keep ASCII punctuation (``3,000``, ``3.5``, ``OK?``).
"""

from __future__ import annotations

import re
import unicodedata

# Han ideographs (incl. extension A and compatibility), CJK symbols and punctuation, full-width forms,
# and the curly quotes/ellipsis Chinese text uses.
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef\u2018-\u201f\u2026"
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
FULLWIDTH_PUNCT = (
    "\u3001-\u3011\u3014-\u301f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65\u2018-\u201f\u2026"
)

_NEWLINES = re.compile(r"\r\n|[\r\u2028\u2029]")
_INVISIBLE = re.compile(r"[\u200b\u200c\u2060\ufeff\u00ad\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\u00a0\u3000\u2002-\u200a\u202f\u205f]+")
_LINE_EDGE_SPACES = re.compile(r" *\n *")
_SPACE_AT_PUNCT = re.compile(rf" (?=[{FULLWIDTH_PUNCT}])|(?<=[{FULLWIDTH_PUNCT}]) ")
_MANY_NEWLINES = re.compile(r"\n{3,}")

_FULLWIDTH_ALNUM = {
    cp: cp - 0xFEE0 for cp in (*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B))
}
_ASCII_PUNCT = re.compile(rf"(?<=[{CJK}])([,;:?!])")
_ASCII_TO_FULL = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！"}
_DOTS = re.compile(rf"(?<=[{CJK}])(?:\.{{3,}}|。{{3,}})")
_DOT = re.compile(rf"(?<=[{CJK}])\.(?![.\d])")
_PARENS = re.compile(rf"\(([^()（）]*[{HAN}][^()（）]*)\)")
_HAS_ASCII_PUNCT = re.compile(r"[,;:?!.(]")
_HAS_FULLWIDTH_ALNUM = re.compile(r"[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")


def normalize_whitespace(text: str) -> str:
    """Apply the whitespace rules (see the module docstring)."""
    if text.isprintable():  # fast path (C speed): no line breaks, tabs, invisible or exotic spaces
        if " " not in text:
            return text
        text = _SPACES.sub(" ", text)
        return _SPACE_AT_PUNCT.sub("", text).strip()
    if "\r" in text or "\u2028" in text or "\u2029" in text:
        text = _NEWLINES.sub("\n", text)
    text = _INVISIBLE.sub("", text)
    text = _SPACES.sub(" ", text)
    if " " in text:
        if "\n" in text:
            text = _LINE_EDGE_SPACES.sub("\n", text)
        text = _SPACE_AT_PUNCT.sub("", text)
    if "\n\n\n" in text:
        text = _MANY_NEWLINES.sub("\n\n", text)
    return text.strip()


def normalize_punctuation(text: str) -> str:
    """Apply the punctuation rules (see the module docstring)."""
    if _HAS_FULLWIDTH_ALNUM.search(text):  # str.translate is slow on non-ASCII text: only when needed
        text = text.translate(_FULLWIDTH_ALNUM)
    if not _HAS_ASCII_PUNCT.search(text):
        return text
    text = _ASCII_PUNCT.sub(lambda m: _ASCII_TO_FULL[m.group(1)], text)
    if "." in text:
        text = _DOTS.sub("……", text)
        text = _DOT.sub("。", text)
    elif "。。。" in text:
        text = _DOTS.sub("……", text)
    if "(" in text:
        text = _PARENS.sub(r"（\1）", text)
    if " " in text:  # a space left beside a mark that is now full-width
        text = _SPACE_AT_PUNCT.sub("", text)
    return text


def normalize_unicode(text: str) -> str:
    """Canonical composition (NFC) only; compatibility mappings (NFKC) are deliberately not applied."""
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)
