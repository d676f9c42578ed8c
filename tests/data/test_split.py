"""Split: deterministic, proportional, stratified, group-aware; ratio parsing."""

from __future__ import annotations

from collections import Counter

import pytest

from xinyu.data.schema import Dialogue
from xinyu.data.split import SplitConfig, parse_ratios, split_dialogues, split_file
from xinyu.data.topics import TOPIC_KEYS
from xinyu.errors import ConfigError


def corpus(n=1000):
    out = []
    for i in range(n):
        topic = TOPIC_KEYS[i % 3] if i % 10 else TOPIC_KEYS[3]  # uneven topic sizes
        out.append(
            Dialogue(
                f"d{i}",
                "src" if i % 2 else "other",
                [{"role": "user", "content": f"问题{i}"}, {"role": "assistant", "content": f"回答{i}"}],
                {"topic": topic},
            )
        )
    return out


def ids(split):
    return {s: [d.id for d in ds] for s, ds in split.items()}


def test_deterministic_and_order_independent():
    data = corpus()
    a = ids(split_dialogues(data, SplitConfig(seed=7)))
    b = ids(split_dialogues(list(reversed(data)), SplitConfig(seed=7)))
    assert {k: sorted(v) for k, v in a.items()} == {k: sorted(v) for k, v in b.items()}
    c = ids(split_dialogues(data, SplitConfig(seed=8)))
    assert sorted(a["test"]) != sorted(c["test"])


def test_ratios_hold_and_nothing_is_lost():
    data = corpus()
    split = split_dialogues(data, SplitConfig(ratios=(0.7, 0.15, 0.15)))
    sizes = {k: len(v) for k, v in split.items()}
    assert sizes == {"train": 700, "val": 150, "test": 150}
    assert sorted(d.id for ds in split.values() for d in ds) == sorted(d.id for d in data)


def test_two_way_split_leaves_test_empty():
    split = split_dialogues(corpus(200), SplitConfig(ratios="80/20"))
    assert (len(split["train"]), len(split["val"]), len(split["test"])) == (160, 40, 0)


@pytest.mark.parametrize("stratify", ["topic", "source"])
def test_stratified_shares_per_stratum(stratify):
    data = corpus()
    split = split_dialogues(data, SplitConfig(stratify=stratify))
    key = (lambda d: d.meta["topic"]) if stratify == "topic" else (lambda d: d.source)
    totals = Counter(key(d) for d in data)
    for name, share in (("train", 0.7), ("val", 0.15), ("test", 0.15)):
        got = Counter(key(d) for d in split[name])
        for stratum, total in totals.items():
            assert abs(got[stratum] - share * total) <= 1, (name, stratum)


def test_groups_never_straddle_splits():
    data = corpus(300)
    for i, d in enumerate(data):
        if i % 3 == 0:
            d.meta["group"] = f"q{i // 30}"  # many dialogues per question (PsyQA answers)
        elif i % 3 == 1:
            d.meta["dup_group"] = f"d{i - i % 6}"  # near-duplicates kept by the cleaner
    split = split_dialogues(data, SplitConfig(seed=3))
    where = {d.id: s for s, ds in split.items() for d in ds}
    groups: dict[str, set[str]] = {}
    for d in data:
        key = d.meta.get("group") or d.meta.get("dup_group") or d.id
        groups.setdefault(key, set()).add(where[d.id])
    assert all(len(v) == 1 for v in groups.values())
    assert all(split[s] for s in ("train", "val", "test"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.8,0.2,0", (0.8, 0.2, 0.0)),
        ("80/20", (0.8, 0.2, 0.0)),
        ("80/10/10", (0.8, 0.1, 0.1)),
        ("0.7 0.15 0.15", (0.7, 0.15, 0.15)),
        ([0.6, 0.2, 0.2], (0.6, 0.2, 0.2)),
    ],
)
def test_parse_ratios(text, expected):
    assert parse_ratios(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    "text", ["0.5,0.2", "1,2,3", "a,b,c", "0,0.5,0.5", "-0.1,0.6,0.5", "0.1,0.1,0.1,0.7"]
)
def test_bad_ratios(text):
    with pytest.raises(ConfigError, match="ratios"):
        parse_ratios(text)


def test_split_file_streams_and_writes_three_files(tmp_path):
    from xinyu.data.schema import read_dialogues, write_dialogues

    data = corpus(100)
    src = tmp_path / "all.jsonl"
    write_dialogues(src, data)
    result = split_file(src, tmp_path / "out", SplitConfig(ratios=(0.8, 0.1, 0.1), seed=1))
    assert result["counts"] == {"train": 80, "val": 10, "test": 10}
    again = split_file(src, tmp_path / "out2", SplitConfig(ratios=(0.8, 0.1, 0.1), seed=1))
    assert again == result
    for name in ("train", "val", "test"):
        first = (tmp_path / "out" / f"{name}.jsonl").read_bytes()
        assert first == (tmp_path / "out2" / f"{name}.jsonl").read_bytes()
        assert len(read_dialogues(tmp_path / "out" / f"{name}.jsonl", strict=True)) == result["counts"][name]
