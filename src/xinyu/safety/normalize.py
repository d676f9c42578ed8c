"""Text normalisation for the rule layer, keeping a map back to the original offsets.

Users in distress write fast and messily: full-width letters, traditional characters, spaces or
asterisks inserted between characters ("自 杀", "自*杀") to get past filters, emoji variation
selectors. The rule layer matches on a normalised copy; every normalised character remembers the
offset of the character it came from, so evidence spans always point at the user's own text.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# Traditional -> simplified for the characters the rule tables use. Hand-written because OpenCC is
# not a dependency and only these few dozen characters matter for matching.
_TRAD = str.maketrans(
    "殺藥樓燒遺書絕結傷殘願們個這沒會讓離開兒為麼說對還覺壓難過動來時後見別親媽爺醫們謝喪瓶傢"
    "劃腕幫懼憂鬱淚嗎滅網關門窗膠帶繩綁頭腦剛吞喝燙聽當愛錯從裡夠無痛掛騙跳橋邊槍彈雙麵蘇",
    "杀药楼烧遗书绝结伤残愿们个这没会让离开儿为么说对还觉压难过动来时后见别亲妈爷医们谢丧瓶家"
    "划腕帮惧忧郁泪吗灭网关门窗胶带绳绑头脑刚吞喝烫听当爱错从里够无痛挂骗跳桥边枪弹双面苏",
)
# Characters dropped when they sit between two CJK characters: spacing and filler symbols used to
# split a word ("想 死", "自*杀", "自.杀").
_FILLERS = frozenset(" \t\u3000*·•_~-.^+|/\\")  # not quote marks: quotes carry meaning (reported speech)
# Invisible characters dropped everywhere (zero-width joiners and spaces, variation selectors).
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\ufe0e\ufe0f")


def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return 0x3400 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or 0x20000 <= code <= 0x2FFFF


def _fold(ch: str) -> str:
    """Normalise one character, keeping a 1:1 length (NFKC only where it yields one character)."""
    folded = unicodedata.normalize("NFKC", ch)
    if len(folded) != 1:
        folded = ch
    return folded.lower().translate(_TRAD)


@dataclass(frozen=True, slots=True)
class Normalized:
    """A normalised text and, for each of its characters, the offset in the original.

    Attributes:
        text: The normalised text.
        offsets: ``offsets[i]`` is the original offset of ``text[i]``; one extra entry at the
            end holds the original length.
    """

    text: str
    offsets: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a normalised ``[start, end)`` span back to the original text."""
        if end <= start:
            return self.offsets[start], self.offsets[start]
        return self.offsets[start], self.offsets[end - 1] + 1


def normalize(text: str) -> Normalized:
    """Return the normalised text with its offset map (see module docstring)."""
    kept: list[tuple[int, str]] = []
    for index, ch in enumerate(text):
        if ch in _INVISIBLE:
            continue
        kept.append((index, _fold(ch)))
    out_chars: list[str] = []
    offsets: list[int] = []
    i = 0
    while i < len(kept):
        index, ch = kept[i]
        if ch in _FILLERS or ch.isspace():
            j = i
            while j < len(kept) and (kept[j][1] in _FILLERS or kept[j][1].isspace()):
                j += 1
            before = out_chars[-1] if out_chars else ""
            after = kept[j][1] if j < len(kept) else ""
            if before and after and _is_cjk(before) and _is_cjk(after):
                i = j  # filler run inside a Chinese word: drop it
                continue
            # Elsewhere keep one space for whitespace runs (English word boundaries), fillers as-is.
            for k in range(i, j):
                idx, c = kept[k]
                if c.isspace():
                    if out_chars and out_chars[-1] == " ":
                        continue
                    c = " "
                out_chars.append(c)
                offsets.append(idx)
            i = j
            continue
        out_chars.append(ch)
        offsets.append(index)
        i += 1
    offsets.append(len(text))
    return Normalized("".join(out_chars), tuple(offsets))
