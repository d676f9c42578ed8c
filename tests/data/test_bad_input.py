"""Bad input: errors name the file, the line or record, the field and what was expected; --skip-bad counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xinyu.data.formats import ReadReport, detect_format, read
from xinyu.errors import DataError

FIX = Path(__file__).parents[1] / "fixtures" / "data"


def test_broken_jsonl_names_file_and_line():
    with pytest.raises(DataError) as exc:
        list(read(FIX / "bad" / "broken.jsonl"))
    err = exc.value
    assert err.path.endswith("broken.jsonl") and err.line == 3
    assert "broken.jsonl, line 3: broken JSON" in str(err)


def test_broken_json_array_names_line_and_record(tmp_path):
    path = tmp_path / "arr.json"
    path.write_text(
        '[\n {"instruction": "a", "output": "b"},\n {"instruction": "c", "output": }\n]\n', encoding="utf-8"
    )
    with pytest.raises(DataError) as exc:
        list(read(path, "alpaca"))
    assert exc.value.line == 3 and exc.value.record == 1
    assert "line 3, record 1: broken JSON" in str(exc.value)


def test_gbk_file_is_reported_with_a_conversion_hint():
    with pytest.raises(DataError) as exc:
        detect_format(FIX / "bad" / "gbk.jsonl")
    assert exc.value.line == 1 and "GBK" in str(exc.value) and "iconv" in str(exc.value)
    with pytest.raises(DataError, match=r"gbk\.jsonl, line 1: not valid UTF-8"):
        list(read(FIX / "bad" / "gbk.jsonl", "openai"))


def test_gbk_text_corpus_file(tmp_path):
    (tmp_path / "case_1.txt").write_bytes("来访者：你好\n心理咨询师：你好\n".encode("gbk"))
    with pytest.raises(DataError, match="GBK"):
        list(read(tmp_path, "cpsycound"))


def test_unknown_format_lists_formats_and_shows_structure_not_content():
    with pytest.raises(DataError) as exc:
        detect_format(FIX / "bad" / "unknown.json")
    message = str(exc.value)
    assert "unknown format" in message and "smile" in message and "--format" in message
    assert "['bar', 'foo']" in message and "baz" not in message  # keys shown, values never


def test_missing_field_names_record_field_and_expectation():
    with pytest.raises(DataError) as exc:
        list(read(FIX / "bad" / "missing_field.json", "alpaca"))
    err = exc.value
    assert err.record == 1 and err.field == "output" and err.line == 6
    assert "expected the assistant's answer" in str(err)


@pytest.mark.parametrize(
    ("fmt", "record", "field"),
    [
        ("openai", {"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ("openai", {"messages": [{"role": "user"}]}, "messages[0].content"),
        ("sharegpt", {"conversations": [{"from": "alien", "value": "x"}]}, "conversations[0].from"),
        ("psyqa", {"question": "q", "answers": [{"text": "no answer_text"}]}, "answers[0].answer_text"),
        ("psyqa", {"question": "q", "answers": "not a list"}, "answers"),
        ("alpaca", {"instruction": "q", "output": "a", "history": [["only one"]]}, "history[0]"),
        ("emollm", {"conversation": [{"input": "q"}]}, "conversation[0].output"),
        ("emollm", {"query": "q", "response": "a", "history": [{"query": "x"}]}, "history[0].response"),
    ],
)
def test_field_errors_name_the_field(tmp_path, fmt, record, field):
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as exc:
        list(read(path, fmt))
    assert exc.value.field == field and exc.value.line == 1
    assert f"field '{field}'" in str(exc.value)


def test_smile_bad_role_and_broken_file():
    with pytest.raises(DataError) as exc:
        list(read(FIX / "smile_bad"))
    assert exc.value.path.endswith("2.json") and exc.value.line == 3


def test_skip_bad_counts_and_keeps_locations_not_content():
    report = ReadReport()
    dialogues = list(read(FIX / "bad" / "broken.jsonl", skip_bad=True, report=report))
    assert len(dialogues) == 2 and report.bad == 1
    assert report.bad_examples == [
        f"{FIX / 'bad' / 'broken.jsonl'}, line 3: broken JSON: Expecting ',' delimiter (column 48)"
    ]
    report = ReadReport()
    dialogues = list(read(FIX / "smile_bad", skip_bad=True, report=report))
    assert [d.id for d in dialogues] == ["smile-1"] and report.bad == 2
    assert any("field '[1].role'" in e and "therapist" in e for e in report.bad_examples)
    assert not any("角色不对" in e for e in report.bad_examples)
    report = ReadReport()
    dialogues = list(read(FIX / "bad" / "missing_field.json", "alpaca", skip_bad=True, report=report))
    assert len(dialogues) == 2 and report.bad == 1 and report.records == 3


def test_skip_bad_counts_every_gbk_line_when_format_is_given(tmp_path):
    path = tmp_path / "mixed.jsonl"
    good = json.dumps(
        {"messages": [{"role": "user", "content": "好"}, {"role": "assistant", "content": "嗯"}]},
        ensure_ascii=False,
    )
    path.write_bytes((good + "\n").encode() + (good + "\n").encode("gbk") + (good + "\n").encode())
    report = ReadReport()
    assert len(list(read(path, "openai", skip_bad=True, report=report))) == 2
    assert report.bad == 1 and "line 2" in report.bad_examples[0]


def test_missing_path():
    with pytest.raises(DataError, match="no such file or directory"):
        list(read(FIX / "does-not-exist"))
