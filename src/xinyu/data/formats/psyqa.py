"""PsyQA: ``{"question", "description", "answers": [...], "keywords"?, "questionID"?}``.

Each answer (a string, or an object with ``answer_text``) becomes its own single-turn dialogue whose
user turn is the question followed by the description. All answers to one question share
``meta["group"]``, so the split keeps them on the same side (they share the prompt).

PsyQA is distributed only after signing the authors' user agreement and may not be redistributed; no
PsyQA text is shipped with xinyu.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xinyu.data.formats._base import (
    Loc,
    ReadReport,
    first_file,
    first_record,
    msg,
    read_record_files,
    record_id,
    require_dict,
    require_str,
)
from xinyu.data.schema import Dialogue
from xinyu.data.topics import normalize_topic

NAME = "psyqa"
DESCRIPTION = (
    "PsyQA: {question, description, answers: [str | {answer_text}], keywords?} → one dialogue per answer"
)


def detect(path: Path) -> bool:
    """Records with ``question`` and an ``answers`` list."""
    sample = first_file(path, (".json", ".jsonl"), recursive=True)
    obj = first_record(sample) if sample else None
    return isinstance(obj, dict) and "question" in obj and isinstance(obj.get("answers"), list)


def _keywords(value: Any) -> list[str]:
    if isinstance(value, str):
        return [k.strip() for k in value.replace("，", ",").split(",") if k.strip()]
    if isinstance(value, list):
        return [str(k).strip() for k in value if str(k).strip()]
    return []


def read(
    path: Path, *, skip_bad: bool = False, report: ReadReport | None = None, source: str = NAME
) -> Iterator[Dialogue]:
    """Stream one dialogue per answer from PsyQA records.

    Args:
        path: A JSON/JSONL file or a directory of them.
        skip_bad: Count and skip bad records instead of raising.
        report: Filled with counts.
        source: Source name used in ids and ``Dialogue.source``.
    """

    def convert(obj: Any, loc: Loc, key: str) -> list[Dialogue]:
        obj = require_dict(obj, loc, "a record with 'question' and 'answers'")
        question = require_str(obj, "question", loc, what="the question text")
        description = require_str(obj, "description", loc, optional=True)
        answers = obj.get("answers")
        if not isinstance(answers, list):
            raise loc.error("expected a list of answers (strings or {answer_text})", field="answers")
        user = question.strip()
        if description.strip() and description.strip() != user:
            user = f"{user}\n{description.strip()}"
        qid = record_id(obj, key)
        keywords = _keywords(obj.get("keywords"))
        topic = next((normalize_topic(k) for k in keywords if normalize_topic(k)), None)
        out = []
        for j, answer in enumerate(answers):
            if isinstance(answer, dict):
                text = answer.get("answer_text")
                if not isinstance(text, str):
                    raise loc.error(
                        "missing or not a string (expected the answer text)",
                        field=f"answers[{j}].answer_text",
                    )
            elif isinstance(answer, str):
                text = answer
            else:
                raise loc.error(
                    f"expected a string or an object with 'answer_text', got {type(answer).__name__}",
                    field=f"answers[{j}]",
                )
            meta = {
                "file": loc.path.name,
                "index": loc.record if loc.record is not None else loc.line,
                "answer_index": j,
                "group": f"{source}-{qid}",
                "keywords": keywords,
            }
            if topic:
                meta["topic"] = topic
            out.append(
                Dialogue(
                    id=f"{source}-{qid}-{j}",
                    source=source,
                    messages=[msg("user", user), msg("assistant", text)],
                    meta=meta,
                )
            )
        return out

    return read_record_files(Path(path), convert, skip_bad=skip_bad, report=report, fmt=NAME)
