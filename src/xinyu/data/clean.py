"""Cleaning: rules applied to a stream of dialogues, each switchable and counted.

Per turn, in order: whitespace and punctuation normalisation (:mod:`xinyu.data.normalize`), role
prefixes leaking into content (``求助者：``, ``来访者：``, ``心理咨询师：``, ``医生：``...), PII redaction
(:mod:`xinyu.safety.pii`). Per dialogue: empty turns dropped, adjacent same-role turns merged, a leading
assistant turn and a trailing user turn dropped. Then a dialogue that still breaks the strict schema
(no user→assistant exchange...) is dropped with its reason, and exact and near duplicates of earlier
dialogues are dropped (or, for near duplicates, grouped so the split keeps them together).

Everything the cleaner keeps satisfies :func:`xinyu.data.schema.dialogue_problems` with ``strict=True``.
The cleaner holds no dialogue text, only digests and MinHash signatures, so it streams.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field

from xinyu.config import StrictModel
from xinyu.data.dedup import NearDuplicateIndex, dialogue_codes, exact_digest
from xinyu.data.normalize import normalize_punctuation, normalize_unicode, normalize_whitespace
from xinyu.data.schema import Dialogue, dialogue_problems
from xinyu.safety.pii import find_pii, redact_matches

ROLE_PREFIXES = (
    "心理咨询师",
    "咨询师",
    "心理医生",
    "医生",
    "求助者",
    "来访者",
    "支持者",
    "用户",
    "助手",
    "患者",
    "病人",
    "访客",
    "倾诉者",
    "咨询者",
    "AI",
    "User",
    "Assistant",
    "Human",
    "Bot",
)
_ROLE_PREFIX = re.compile(r"^(?:\s*(?:" + "|".join(ROLE_PREFIXES) + r")\s*[：:]\s*)+")

RULES = (
    "drop_system",
    "normalize_whitespace",
    "normalize_punctuation",
    "strip_role_prefixes",
    "redact_pii",
    "drop_empty_turns",
    "merge_same_role",
    "drop_leading_assistant",
    "drop_trailing_user",
    "exact_dedup",
    "near_dedup",
)
DROP_REASONS = ("empty", "no_exchange", "not_alternating", "invalid", "exact_duplicate", "near_duplicate")
MAX_IDS_PER_REASON = 2000


class CleanConfig(StrictModel):
    """Which cleaning rules run (one switch per rule) and their parameters."""

    drop_system: bool = Field(False, description="Remove system prompts (corpora ship their own personas).")
    normalize_whitespace: bool = Field(True, description="Line breaks, invisible characters, runs of spaces.")
    normalize_punctuation: bool = Field(True, description="Full-width punctuation in Chinese context.")
    strip_role_prefixes: bool = Field(
        True, description="Remove '求助者：'-style prefixes at the start of turns."
    )
    redact_pii: bool = Field(
        True, description="Replace phone/ID/email/QQ/WeChat/bank numbers by placeholders."
    )
    pii_kinds: list[str] | None = Field(None, description="PII kinds to redact (default: all).")
    drop_empty_turns: bool = Field(True, description="Remove turns that are empty after cleaning.")
    merge_same_role: bool = Field(True, description="Join adjacent turns of the same role with a line break.")
    drop_leading_assistant: bool = Field(
        True, description="Remove assistant turns before the first user turn."
    )
    drop_trailing_user: bool = Field(True, description="Remove a final unanswered user turn.")
    exact_dedup: bool = Field(True, description="Drop dialogues whose normalised text was seen before.")
    near_dedup: bool = Field(True, description="Find near-duplicates with MinHash LSH.")
    near_dup_action: Literal["drop", "group"] = Field(
        "drop", description="drop: keep the first of each near-duplicate group; group: keep all, same split."
    )
    near_dup_threshold: float = Field(
        0.85, gt=0.0, lt=1.0, description="Jaccard threshold for near duplicates."
    )
    shingle_size: int = Field(5, ge=1, le=50, description="Characters per MinHash shingle.")
    num_perm: int = Field(128, ge=16, le=1024, description="MinHash permutations.")


@dataclass
class CleanReport:
    """Counts per rule and why dialogues were dropped.

    Attributes:
        seen: Dialogues given to the cleaner.
        kept: Dialogues it returned.
        rules: Count per rule (turns changed, or dialogues affected for dialogue-level rules).
        pii: Redactions per PII kind.
        dropped: Dropped dialogues per reason.
        dropped_ids: Ids of dropped dialogues per reason (the first ``MAX_IDS_PER_REASON``).
        near_duplicate_of: For near duplicates, ``id -> id`` of the earlier dialogue it matched.
    """

    seen: int = 0
    kept: int = 0
    rules: Counter[str] = field(default_factory=Counter)
    pii: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    dropped_ids: dict[str, list[str]] = field(default_factory=dict)
    near_duplicate_of: dict[str, str] = field(default_factory=dict)

    def drop(self, dialogue_id: str, reason: str) -> None:
        """Record a dropped dialogue."""
        self.dropped[reason] += 1
        ids = self.dropped_ids.setdefault(reason, [])
        if len(ids) < MAX_IDS_PER_REASON:
            ids.append(dialogue_id)

    def merge(self, other: CleanReport) -> None:
        """Add another report's counts to this one."""
        self.seen += other.seen
        self.kept += other.kept
        self.rules.update(other.rules)
        self.pii.update(other.pii)
        self.dropped.update(other.dropped)
        for reason, ids in other.dropped_ids.items():
            mine = self.dropped_ids.setdefault(reason, [])
            mine.extend(ids[: max(0, MAX_IDS_PER_REASON - len(mine))])
        self.near_duplicate_of.update(other.near_duplicate_of)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "seen": self.seen,
            "kept": self.kept,
            "dropped_total": sum(self.dropped.values()),
            "rules": {rule: self.rules.get(rule, 0) for rule in RULES},
            "pii": dict(sorted(self.pii.items())),
            "dropped": {reason: self.dropped.get(reason, 0) for reason in DROP_REASONS},
            "dropped_ids": {k: v for k, v in sorted(self.dropped_ids.items())},
            "near_duplicate_of": dict(self.near_duplicate_of),
        }


def strip_role_prefix(text: str) -> str:
    """Remove speaker prefixes (``求助者：``, ``医生:``...) at the start of ``text``."""
    m = _ROLE_PREFIX.match(text)
    return text[m.end() :] if m else text


def _problem_reason(problems: list[str], original: list[dict[str, Any]]) -> str:
    if not any(m.get("role") != "system" and str(m.get("content") or "").strip() for m in original):
        return "empty"
    text = " ".join(problems)
    if "alternate" in text or "must be an assistant" in text:
        return "not_alternating"
    if "no user turn followed by an assistant turn" in text:
        return "no_exchange"
    return "invalid"


class Cleaner:
    """Apply :class:`CleanConfig` rules to dialogues one at a time, remembering what it has kept.

    Args:
        config: Rule switches and parameters.
        report: Receives the counts (a new one by default).
    """

    def __init__(self, config: CleanConfig | None = None, report: CleanReport | None = None) -> None:
        self.config = config or CleanConfig()
        self.report = report if report is not None else CleanReport()
        self._digests: set[bytes] = set()
        self._near: NearDuplicateIndex | None = None
        self._groups: dict[str, str] = {}
        if self.config.near_dedup:
            self._near = NearDuplicateIndex(
                self.config.near_dup_threshold, self.config.num_perm, self.config.shingle_size
            )

    def _clean_text(self, text: str) -> str:
        cfg, rules = self.config, self.report.rules
        text = normalize_unicode(text)
        if cfg.normalize_whitespace:
            new = normalize_whitespace(text)
            if new != text:
                rules["normalize_whitespace"] += 1
                text = new
        if cfg.normalize_punctuation:
            new = normalize_punctuation(text)
            if new != text:
                rules["normalize_punctuation"] += 1
                text = new
        if cfg.strip_role_prefixes:
            new = strip_role_prefix(text)
            if new != text:
                rules["strip_role_prefixes"] += 1
                text = new.strip() if cfg.normalize_whitespace else new
        if cfg.redact_pii:
            matches = find_pii(text, self.config.pii_kinds)
            if matches:
                rules["redact_pii"] += 1
                self.report.pii.update(m.kind for m in matches)
                text = redact_matches(text, matches)
        return text

    def clean_messages(self, messages: list[dict[str, str]]) -> list[dict[str, str]]:
        """Apply the turn-level and dialogue-level rules (not the validity check or deduplication)."""
        cfg, rules = self.config, self.report.rules
        out = []
        for m in messages:
            if m["role"] == "system" and cfg.drop_system:
                rules["drop_system"] += 1
                continue
            content = self._clean_text(m["content"]) if isinstance(m["content"], str) else m["content"]
            if (
                cfg.drop_empty_turns
                and m["role"] != "system"
                and isinstance(content, str)
                and not content.strip()
            ):
                rules["drop_empty_turns"] += 1
                continue
            out.append({"role": m["role"], "content": content})
        if cfg.merge_same_role:
            merged: list[dict[str, str]] = []
            for m in out:
                if merged and m["role"] == merged[-1]["role"] and m["role"] != "system":
                    merged[-1]["content"] = f"{merged[-1]['content']}\n{m['content']}"
                    rules["merge_same_role"] += 1
                else:
                    merged.append(m)
            out = merged
        if cfg.drop_leading_assistant:
            first = 1 if out and out[0]["role"] == "system" else 0
            while len(out) > first and out[first]["role"] == "assistant":
                del out[first]
                rules["drop_leading_assistant"] += 1
        if cfg.drop_trailing_user:
            while out and out[-1]["role"] == "user":
                out.pop()
                rules["drop_trailing_user"] += 1
        return out

    def clean(self, dialogue: Dialogue) -> Dialogue | None:
        """Clean one dialogue; ``None`` when it is dropped (the reason is counted in the report)."""
        report = self.report
        report.seen += 1
        messages = self.clean_messages(dialogue.messages)
        problems = dialogue_problems(messages, strict=True)
        if problems:
            report.drop(dialogue.id, _problem_reason(problems, dialogue.messages))
            return None
        meta = dict(dialogue.meta)
        if self.config.exact_dedup or self._near is not None:
            codes = dialogue_codes(messages)
            if self.config.exact_dedup:
                digest = exact_digest(codes)
                if digest in self._digests:
                    report.rules["exact_dedup"] += 1
                    report.drop(dialogue.id, "exact_duplicate")
                    return None
                self._digests.add(digest)
            if self._near is not None:
                sig = self._near.signature(codes)
                match = self._near.find(sig)
                if match is not None:
                    report.rules["near_dedup"] += 1
                    report.near_duplicate_of[dialogue.id] = match[0]
                    if self.config.near_dup_action == "drop":
                        report.drop(dialogue.id, "near_duplicate")
                        return None
                    group = self._groups.get(match[0], match[0])
                    self._groups[dialogue.id] = group
                    meta["dup_group"] = group
                self._near.add(dialogue.id, sig)
        report.kept += 1
        return Dialogue(id=dialogue.id, source=dialogue.source, messages=messages, meta=meta)

    def run(self, dialogues: Iterable[Dialogue]) -> Iterator[Dialogue]:
        """Clean a stream, yielding the dialogues kept."""
        for dialogue in dialogues:
            cleaned = self.clean(dialogue)
            if cleaned is not None:
                yield cleaned


def clean_dialogues(
    dialogues: Iterable[Dialogue], config: CleanConfig | None = None, report: CleanReport | None = None
) -> Iterator[Dialogue]:
    """Convenience wrapper: ``Cleaner(config, report).run(dialogues)``."""
    return Cleaner(config, report).run(dialogues)
