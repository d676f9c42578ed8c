"""Personal data in Chinese text: find it and replace it with typed placeholders.

One module for the whole project: the data cleaner redacts corpora with it, the safety layer and the
session store redact user messages before they are stored or logged.

Detected kinds and their placeholders:

============  ===============  ==========================================================
kind          placeholder      rule
============  ===============  ==========================================================
mobile        ``[电话]``       11 digits ``1[3-9]xxxxxxxxx`` (spaces/dashes allowed, ``+86`` optional)
landline      ``[电话]``       ``0`` + 2-3 digit area code + 7-8 digits, with a separator or parentheses
id_card       ``[身份证号]``   18 characters, valid birth date and ISO 7064 checksum
email         ``[邮箱]``       ``name@domain.tld``
qq            ``[QQ号]``       5-11 digits right after "QQ"/"扣扣"(号)
wechat        ``[微信号]``     a WeChat id (letter + 5-19 of ``[A-Za-z0-9_-]``) right after "微信/VX/WX"(号)
bank_card     ``[银行卡号]``   16-19 digits (spaces allowed in groups of 4) passing the Luhn check
============  ===============  ==========================================================

Ordinary numbers are left alone: years, dates, ages, prices and counts do not have these shapes, and the
checksums reject most long digit strings. Public service and crisis hotline numbers (12356, 110,
400-161-9995, 010-82951332...) are on :data:`ALLOWED_NUMBERS` and never redacted, because the safety
layer shows them to users.

Regular expressions are hand-written here on purpose: the available PII libraries target English
(Presidio, scrubadub) and know neither Chinese ID-card checksums nor QQ/WeChat ids.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

PLACEHOLDERS: dict[str, str] = {
    "mobile": "[电话]",
    "landline": "[电话]",
    "id_card": "[身份证号]",
    "email": "[邮箱]",
    "qq": "[QQ号]",
    "wechat": "[微信号]",
    "bank_card": "[银行卡号]",
}
KINDS: tuple[str, ...] = tuple(PLACEHOLDERS)

# Hotlines and public service numbers (digits only). Shown by the safety layer; never redacted.
ALLOWED_NUMBERS: frozenset[str] = frozenset(
    {
        "110",
        "119",
        "120",
        "122",
        "999",
        "12110",
        "12356",  # national mental-health / psychological assistance hotline
        "12355",  # youth service hotline
        "12320",  # public health hotline
        "12345",  # city government service hotline
        "12338",  # women's rights hotline
        "4001619995",  # Hope 24 crisis line
        "01082951332",  # Beijing Psychological Crisis Research and Intervention Center
        "8008101117",  # Beijing crisis line (toll free)
        "01062715275",  # Peking University mental health hotline
        "02164383562",  # Shanghai mental health center
        "02012320",  # Guangzhou health hotline
        "02081899120",  # Guangzhou crisis line
        "057185029595",  # Hangzhou crisis line
        "02885528899",  # Chengdu crisis line
        "02765652119",  # Wuhan crisis line
        "075525629459",  # Shenzhen mental health center
    }
)


@dataclass(frozen=True, slots=True)
class PiiMatch:
    """One detected piece of personal data.

    Attributes:
        kind: One of :data:`KINDS`.
        start: Offset of the first character.
        end: Offset after the last character.
    """

    kind: str
    start: int
    end: int

    @property
    def placeholder(self) -> str:
        """The text that replaces this match."""
        return PLACEHOLDERS[self.kind]


# Digit boundaries: a number must not be the middle of a longer number or of an ASCII token.
_NB = r"(?<![0-9A-Za-z])"
_NA = r"(?![0-9A-Za-z])"

_MOBILE = re.compile(_NB + r"(?:(?:\+|00)?86[-\s]?)?(1[3-9][0-9](?:[-\s]?[0-9]{4}){2})" + _NA)
_LANDLINE = re.compile(
    _NB
    + r"(?:[(（](0[1-9][0-9]{1,2})[)）]\s*|(0[1-9][0-9]{1,2})[-\s])([2-9][0-9]{6,7})(?:-[0-9]{1,5})?"
    + _NA
)
_ID_CARD = re.compile(
    _NB + r"([1-8][0-9]{5}(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx])" + _NA
)
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}(?![A-Za-z])"
)
_QQ = re.compile(r"(?:QQ|qq|Qq|扣扣|企鹅)\s*(?:号码|号)?\s*(?:是|为|:|：)?\s*([1-9][0-9]{4,10})" + _NA)
_WECHAT = re.compile(
    r"(?:微信|威信|薇信|V信|v信|VX|vx|Vx|WX|wx|weixin|WeChat|wechat)\s*(?:号码|号|ID|id)?\s*(?:是|为|:|：)?\s*"
    r"([A-Za-z][-_A-Za-z0-9]{5,19})" + r"(?![-_A-Za-z0-9])"
)
_BANK_CARD = re.compile(_NB + r"([1-9][0-9]{3}(?:\s?[0-9]{4}){2,3}(?:\s?[0-9]{1,3})?)" + _NA)
# Cheap gate: text without a digit, '@' or the first letter of a WeChat keyword cannot hold any of the
# kinds above (one character class scans several times faster than an alternation of keywords).
_GATE = re.compile(r"[0-9@微威薇VvWw]")

# Full-width digits, letters and '@' map one-to-one onto ASCII, so offsets found in the mapped text are
# offsets in the original.
_FULLWIDTH = re.compile(r"[\uff10-\uff19\uff20-\uff3a\uff41-\uff5a]")
_TO_ASCII = {cp: cp - 0xFEE0 for cp in range(0xFF10, 0xFF5B)}

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def id_card_valid(number: str) -> bool:
    """True if an 18-character mainland ID number has a valid ISO 7064 MOD 11-2 check character."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


def luhn_valid(number: str) -> bool:
    """True if a digit string passes the Luhn check (bank cards)."""
    digits = [int(d) for d in number]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def is_allowed_number(text: str) -> bool:
    """True if ``text`` (separators ignored) is a public hotline on :data:`ALLOWED_NUMBERS`."""
    return _digits(text) in ALLOWED_NUMBERS


def find_pii(text: str, kinds: Iterable[str] | None = None) -> list[PiiMatch]:
    """Find personal data in ``text``.

    Args:
        text: Any text.
        kinds: Kinds to look for (default: all of :data:`KINDS`).

    Returns:
        Non-overlapping matches sorted by position (on overlap the earlier, then longer, match wins).
    """
    if not text:
        return []
    if _FULLWIDTH.search(text):
        text = text.translate(_TO_ASCII)
    if not _GATE.search(text):
        return []
    wanted = set(KINDS if kinds is None else kinds)
    unknown = wanted - set(KINDS)
    if unknown:
        raise ValueError(f"unknown PII kinds {sorted(unknown)}; expected some of {list(KINDS)}")
    found: list[PiiMatch] = []

    def add(kind: str, m: re.Match[str], group: int = 1) -> None:
        found.append(PiiMatch(kind, m.start(group), m.end(group)))

    if "email" in wanted:
        for m in _EMAIL.finditer(text):
            add("email", m, 0)
    if "id_card" in wanted:
        for m in _ID_CARD.finditer(text):
            if id_card_valid(m.group(1)):
                add("id_card", m)
    if "mobile" in wanted:
        for m in _MOBILE.finditer(text):
            if not is_allowed_number(m.group(1)):
                add("mobile", m, 0)
    if "landline" in wanted:
        for m in _LANDLINE.finditer(text):
            if not is_allowed_number(m.group(0)):
                add("landline", m, 0)
    if "qq" in wanted:
        for m in _QQ.finditer(text):
            add("qq", m)
    if "wechat" in wanted:
        for m in _WECHAT.finditer(text):
            add("wechat", m)
    if "bank_card" in wanted:
        for m in _BANK_CARD.finditer(text):
            digits = _digits(m.group(1))
            if 16 <= len(digits) <= 19 and luhn_valid(digits) and not is_allowed_number(digits):
                add("bank_card", m)
    found.sort(key=lambda p: (p.start, -(p.end - p.start)))
    result: list[PiiMatch] = []
    for match in found:
        if result and match.start < result[-1].end:
            continue
        result.append(match)
    return result


def redact_with_counts(text: str, kinds: Iterable[str] | None = None) -> tuple[str, Counter[str]]:
    """Replace personal data with typed placeholders.

    Args:
        text: Any text.
        kinds: Kinds to redact (default: all).

    Returns:
        The redacted text and a counter of redactions per kind.
    """
    matches = find_pii(text, kinds)
    return redact_matches(text, matches), Counter(m.kind for m in matches)


def redact_matches(text: str, matches: list[PiiMatch]) -> str:
    """Replace already-found matches (from :func:`find_pii` on the same text) with their placeholders."""
    if not matches:
        return text
    parts = []
    last = 0
    for m in matches:
        parts.append(text[last : m.start])
        parts.append(m.placeholder)
        last = m.end
    parts.append(text[last:])
    return "".join(parts)


def redact(text: str, kinds: Iterable[str] | None = None) -> str:
    """Return ``text`` with personal data replaced by placeholders such as ``[电话]``."""
    return redact_with_counts(text, kinds)[0]
