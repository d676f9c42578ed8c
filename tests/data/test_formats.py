"""Importers: every format on hand-written fixtures (edge cases included) and on the real samples."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest

from xinyu.data.formats import FORMATS, ReadReport, detect_format, read
from xinyu.data.formats._base import iter_json_array
from xinyu.errors import DataError

FIX = Path(__file__).parents[1] / "fixtures" / "data"


def _read(path: Path, fmt: str | None = None, **kwargs):
    report = ReadReport()
    return list(read(path, fmt, report=report, **kwargs)), report


def _turns(d):
    return [(m["role"], m["content"]) for m in d.messages]


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        ("smile", "smile"),
        ("smile/1.json", "smile"),
        ("cpsycound", "cpsycound"),
        ("cpsycound/case_2.txt", "cpsycound"),
        ("cpsycoune", "cpsycoune"),
        ("cpsycoune/Family Relationship/2.json", "cpsycoune"),
        ("emollm", "emollm"),
        ("emollm/swift.jsonl", "emollm"),
        ("emollm/converted.jsonl", "emollm"),
        ("psyqa.json", "psyqa"),
        ("openai.jsonl", "openai"),
        ("sharegpt.json", "sharegpt"),
        ("alpaca.json", "alpaca"),
        ("llamafactory/dataset_info.json", "llamafactory"),
        ("llamafactory", "llamafactory"),
    ],
)
def test_detects_every_format(rel, expected):
    assert detect_format(FIX / rel) == expected


def test_registry_lists_all_formats_with_descriptions():
    expected = {
        "smile",
        "cpsycound",
        "cpsycoune",
        "emollm",
        "psyqa",
        "openai",
        "sharegpt",
        "alpaca",
        "llamafactory",
        "dialogue",
    }
    assert expected == set(FORMATS)
    assert all(spec.description for spec in FORMATS.values())


def test_smile_roles_ids_inline_split_and_empty_utterances():
    dialogues, report = _read(FIX / "smile")
    assert [d.id for d in dialogues] == ["smile-1", "smile-2", "smile-3", "smile-10"]  # natural order
    first = dialogues[0]
    assert [m["role"] for m in first.messages] == ["user", "assistant", "user", "assistant"]
    assert first.meta["file"] == "1.json" and first.meta["annotations"] == 4
    assert all("annotation" not in m for d in dialogues for m in d.messages)
    # A single utterance holding the whole dialogue behind inline markers is split back into turns.
    split = dialogues[1]
    assert [m["role"] for m in split.messages] == ["user", "assistant", "user", "assistant"]
    assert split.meta["inline_split"] is True
    assert not any("支持者：" in m["content"] or "求助者：" in m["content"] for m in split.messages)
    # A leading literal prefix is left for the cleaner (which counts it).
    assert dialogues[2].messages[0]["content"].startswith("求助者：")
    # Empty/whitespace utterances are kept here (the cleaner drops and counts them).
    assert [m["content"].strip() for m in dialogues[3].messages][-3:] == [
        "",
        "如果愿意，可以再多说一点。",
        "",
    ]
    assert report.notes["empty utterance"] == 2
    assert report.files == report.records == report.dialogues == 4


def test_cpsycound_crlf_continuations_and_half_width_colons():
    dialogues, report = _read(FIX / "cpsycound")
    by_id = {d.id: d for d in dialogues}
    crlf = by_id["cpsycound-1"]
    assert [m["role"] for m in crlf.messages] == ["user", "assistant"] * 3
    assert crlf.messages[3]["content"] == (
        "听起来你希望被尊重。我们可以从下面几点入手：\n1. 先表达你对她关心的理解；\n2. 再说明你自己的考虑。\n（经过一段时间的交流）"
    )
    assert not any("\r" in m["content"] for d in dialogues for m in d.messages)
    lf = by_id["cpsycound-2"]
    assert (
        lf.messages[2]["content"]
        == "上周汇报时他当众说我准备不足。\n妈妈：你要多忍耐。\n这是我妈妈后来对我说的话。"
    )
    assert lf.messages[-1]["role"] == "user"  # kept: the cleaner drops the trailing user turn
    cr_only = by_id["cpsycound-10"]
    assert _turns(cr_only) == [("user", "只有一句话。"), ("assistant", "也只有一句回答。")]
    assert report.notes["continuation lines joined"] == 5
    prefixes = ("来访者：", "心理咨询师：", "来访者:", "心理咨询师:")
    assert not any(m["content"].startswith(prefixes) for d in dialogues for m in d.messages)


def test_cpsycoune_topics_from_folder_names_with_spaces_and_ampersand():
    dialogues, _ = _read(FIX / "cpsycoune")
    meta = {d.id: d.meta for d in dialogues}
    assert meta["cpsycoune-emotion_stress-1"]["topic"] == "emotion_stress"
    assert meta["cpsycoune-emotion_stress-1"]["topic_name"] == "Emotion&Stress"
    assert meta["cpsycoune-family-2"]["topic"] == "family"
    assert meta["cpsycoune-family-2"]["topic_name"] == "Family Relationship"
    d = next(x for x in dialogues if x.id == "cpsycoune-emotion_stress-1")
    assert d.messages[0] == {"role": "user", "content": "这段时间我一直很焦虑，心里总是慌。"}
    assert [m["role"] for m in d.messages] == ["user", "assistant"] * 2


def test_emollm_every_layout():
    dialogues, report = _read(FIX / "emollm")
    by_id = {d.id: d for d in dialogues}
    # xtuner with CRLF + TAB indentation, keys in any order, system missing on record 0
    x0 = by_id["emollm-xtuner-0"]
    assert [m["role"] for m in x0.messages] == ["user", "assistant", "user", "assistant"]
    assert x0.messages[2]["content"] == "大概两周了。"
    x1 = by_id["emollm-xtuner-1"]
    assert x1.messages[0] == {"role": "system", "content": "现在你是一位温和的倾听者。"}
    assert by_id["emollm-xtuner-2"].messages == []  # empty conversation kept for the cleaner to count
    assert report.notes["empty conversation"] == 1
    # flattened 来访者/医生 history split back into turns, output last
    flat = by_id["emollm-converted-0"]
    assert flat.messages[0]["role"] == "system" and "对话" not in flat.messages[0]["content"]
    assert [m["role"] for m in flat.messages[1:]] == ["user", "assistant", "user", "assistant", "assistant"]
    assert flat.messages[-1]["content"] == "另外，也可以记录每次担心出现的情境。"
    # ms-swift with EmoLLM's dict-history bug: consecutive lines reassembled into one conversation
    swift = by_id["emollm-swift-0"]
    assert [m["content"] for m in swift.messages if m["role"] == "user"] == [
        "我和朋友闹翻了，很难过。",
        "她在背后说我的坏话。",
        "我要不要直接问她？",
    ]
    assert swift.meta["reassembled_records"] == 3
    assert _turns(by_id["emollm-swift-3"]) == [
        ("user", "最近工作效率很低。"),
        ("assistant", "效率低的时候容易自责，先别急着怪自己。"),
    ]
    # alpaca-style self-cognition file inside the same directory
    assert _turns(by_id["emollm-self_cognition-0"])[0] == ("user", "你是谁")


def test_emollm_swift_pairs_history_precedes_query():
    (d,), _ = _read(FIX / "emollm_swift_pairs.jsonl")
    assert _turns(d) == [
        ("system", "你是倾听者。"),
        ("user", "我想改善作息。"),
        ("assistant", "改善作息是个很好的目标。"),
        ("user", "那我该怎么开始？"),
        ("assistant", "可以从每天十分钟的散步开始。"),
    ]


def test_psyqa_one_dialogue_per_answer_with_group_and_keywords():
    dialogues, _ = _read(FIX / "psyqa.json")
    assert [d.id for d in dialogues] == ["psyqa-101-0", "psyqa-101-1", "psyqa-1-0"]
    first = dialogues[0]
    assert first.messages[0]["content"] == "总是拖延怎么办？\n每次都到最后一刻才开始做作业。"
    assert dialogues[1].messages[1]["content"].startswith("试着把任务拆成")  # {"answer_text": ...}
    assert first.meta["keywords"] == ["学业", "拖延"] and first.meta["topic"] == "education"
    assert first.meta["group"] == dialogues[1].meta["group"] != dialogues[2].meta["group"]
    assert dialogues[2].messages[0]["content"] == "和父母沟通很难"  # empty description not appended


def test_openai_topic_content_parts_and_tool_messages():
    dialogues, report = _read(FIX / "openai.jsonl")
    assert dialogues[0].id == "openai-a1"
    assert dialogues[0].meta["topic"] == "love_marriage" and dialogues[0].meta["topic_name"] == "恋爱与婚姻"
    assert _turns(dialogues[1]) == [("user", "我最近很累。"), ("assistant", "听起来你需要休息一下。")]
    assert report.notes["tool messages dropped"] == 1


def test_sharegpt_and_alpaca():
    (s,), _ = _read(FIX / "sharegpt.json")
    assert [m["role"] for m in s.messages] == ["system", "user", "assistant", "user", "assistant"]
    (a,), _ = _read(FIX / "alpaca.json")
    assert _turns(a) == [
        ("user", "你好"),
        ("assistant", "你好，我在这里。"),
        ("user", "我失眠了\n已经一个星期"),
        ("assistant", "一个星期的失眠很折磨人，先说说入睡前你在想什么？"),
    ]


def test_llamafactory_registry_columns_tags_and_errors():
    info = FIX / "llamafactory" / "dataset_info.json"
    (a,), _ = _read(info, dataset="psy_alpaca")
    assert a.source == "psy_alpaca" and _turns(a) == [
        ("user", "怎么缓解紧张？"),
        ("assistant", "可以试试缓慢地深呼吸。"),
    ]
    (c,), _ = _read(info, dataset="psy_chat")
    assert _turns(c)[0] == ("user", "我总是想太多。") and c.meta["dataset"] == "psy_chat"
    with pytest.raises(DataError, match="choose a dataset with --dataset NAME; registered: psy_alpaca"):
        read(info)
    with pytest.raises(DataError, match="no dataset 'nope'"):
        read(info, dataset="nope")
    with pytest.raises(DataError, match="remote dataset") as exc:
        read(info, dataset="remote_set")
    assert "remote_set.hf_hub_url" in str(exc.value)


def test_format_override_and_source_name():
    dialogues, _ = _read(FIX / "emollm" / "self_cognition.json", "emollm", source="emo")
    assert dialogues[0].id == "emo-self_cognition-0" and dialogues[0].source == "emo"
    with pytest.raises(DataError, match="unknown format 'nope'"):
        read(FIX / "alpaca.json", "nope")


def test_json_array_streaming_gives_lines_and_records(tmp_path):
    path = tmp_path / "big.json"
    items = [{"i": i, "text": "你好" * (i % 50)} for i in range(3000)]
    path.write_text(
        "[\n" + ",\n".join(json.dumps(x, ensure_ascii=False) for x in items) + "\n]\n", encoding="utf-8"
    )
    got = list(iter_json_array(path))
    assert [obj for _, _, obj in got] == items
    assert got[10][1] == 12  # 1-based line of record 10 (line 1 is "[")


# --------------------------------------------------------------------------- real samples (../shared)


def _check_clean_output(dialogues):
    from xinyu.data.clean import ROLE_PREFIXES

    for d in dialogues:
        roles = [m["role"] for m in d.messages if m["role"] != "system"]
        assert all(a != b for a, b in pairwise(roles)), d.id
        for m in d.messages:
            assert not m["content"].startswith(tuple(f"{p}：" for p in ROLE_PREFIXES)), d.id


@pytest.mark.parametrize(
    ("rel", "fmt", "records"),
    [
        ("smile/data", "smile", 300),
        ("smile/data_edge_cases", "smile", 4),
        ("cpsycound/Data", "cpsycound", 308),
        ("cpsycoune_format", "cpsycoune", 12),
        ("emollm/datasets", "emollm", 1070),
        ("emollm/evaluate/data_dir", "emollm", 730),
        ("emollm/swift/data", "emollm", 300),
    ],
)
def test_real_samples_import_and_clean(shared_datasets, rel, fmt, records):
    from xinyu.data.clean import Cleaner
    from xinyu.data.schema import dialogue_problems

    path = shared_datasets / rel
    assert detect_format(path) == fmt
    dialogues, report = _read(path)
    assert report.records == records and report.bad == 0
    assert len({d.id for d in dialogues}) == len(dialogues)
    cleaner = Cleaner()
    kept = list(cleaner.run(dialogues))
    # counts add up: everything imported is either kept or dropped for a counted reason
    assert len(kept) + sum(cleaner.report.dropped.values()) == len(dialogues)
    assert all(not dialogue_problems(d.messages, strict=True) for d in kept)
    _check_clean_output(kept)


def test_real_cpsycound_keeps_every_turn_in_crlf_files(shared_datasets):
    path = shared_datasets / "cpsycound" / "Data" / "case_0.txt"
    raw = path.read_bytes().decode("utf-8")
    speaker_lines = sum(1 for line in raw.splitlines() if line.startswith(("来访者：", "心理咨询师：")))
    (d,), _ = _read(path)
    assert len(d.messages) == speaker_lines  # upstream's regex loses turns here because of '\r'


def test_real_smile_edge_cases(shared_datasets):
    dialogues, _ = _read(shared_datasets / "smile" / "data_edge_cases")
    by_id = {d.id: d for d in dialogues}
    assert len(by_id["smile-10207"].messages) > 2 and by_id["smile-10207"].meta["inline_split"]
    assert by_id["smile-16507"].messages[0]["content"].startswith("求助者：")


def test_real_emollm_swift_reassembles_to_the_xtuner_conversations(shared_datasets):
    xtuner, _ = _read(shared_datasets / "emollm" / "datasets" / "aiwei.json")
    swift, _ = _read(shared_datasets / "emollm" / "swift" / "data" / "aiwei.jsonl")
    conversations = [[m for m in d.messages if m["role"] != "system"] for d in xtuner]
    complete = swift[:-1]  # the sample is cut mid-conversation at its last line
    assert [d.messages for d in complete] == conversations[: len(complete)]
