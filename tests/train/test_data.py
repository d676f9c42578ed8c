"""Stage data: mixing by style, limits, validation split, and tokenised rows."""

from __future__ import annotations

import random

import pytest

from tests.train.conftest import write_dialogues
from xinyu.errors import ConfigError
from xinyu.train.config import DataArgs
from xinyu.train.data import load_stage_data, mix_by_style


def test_mix_by_style_weights(tmp_path):
    path = write_dialogues(tmp_path / "d.jsonl", 40, styles=("warm", "direct", "other"))
    from xinyu.data.schema import read_dialogues

    dialogues = read_dialogues(path)
    counts = {"warm": 14, "direct": 13, "other": 13}
    assert {s: sum(d.meta["style"] == s for d in dialogues) for s in counts} == counts
    mixed = mix_by_style(dialogues, {"warm": 2.0, "direct": 0.0}, default=1.0, rng=random.Random(0))
    got = {s: sum(d.meta["style"] == s for d in mixed) for s in counts}
    assert got == {"warm": 28, "direct": 0, "other": 13}
    halves = [sum(d.meta["style"] == "warm" for d in mix_by_style(dialogues, {"warm": 0.5}, 1.0, random.Random(s)))
              for s in range(20)]
    assert min(halves) >= 4 and max(halves) <= 10 and abs(sum(halves) / 20 - 7) < 1.5


def test_load_stage_data_split_limit_and_determinism(tmp_path):
    path = write_dialogues(tmp_path / "d.jsonl", 30)
    args = DataArgs(train=str(path), val_ratio=0.2, limit=10, mix={"warm": 2.0})
    a = load_stage_data(args, seed=3)
    b = load_stage_data(args, seed=3)
    assert len(a.train) == 10 and len(a.val) == 6  # 20% held out, the rest mixed, then the limit
    assert a.train == b.train and a.val == b.val
    assert not {id(m) for m in a.val} & {id(m) for m in a.train}  # no dialogue on both sides
    assert a.stats == {"dialogues_read": 30, "train_dialogues": 10, "val_dialogues": 6}


def test_missing_data_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"data file not found: .*nope\.jsonl"):
        load_stage_data(DataArgs(train=str(tmp_path / "nope.jsonl")), seed=0)


def test_system_prompt_given_to_dialogues_without_one(tmp_path):
    import json

    from xinyu.serve.persona import DEFAULT_PERSONA

    with_own = write_dialogues(tmp_path / "own.jsonl", 3)  # these carry their own system message
    rows = [json.loads(line) for line in with_own.read_text(encoding="utf-8").splitlines()]
    bare = tmp_path / "bare.jsonl"
    bare.write_text("".join(json.dumps({**r, "id": r["id"] + "-b", "messages": r["messages"][1:]}, ensure_ascii=False)
                            + "\n" for r in rows), encoding="utf-8")
    data = load_stage_data(DataArgs(train=[str(with_own), str(bare)], system="persona"), seed=0)
    firsts = sorted(m[0]["content"] for m in data.train)
    assert firsts == sorted([rows[0]["messages"][0]["content"]] * 3 + [DEFAULT_PERSONA] * 3)
    assert all(sum(msg["role"] == "system" for msg in m) == 1 for m in data.train)
    literal = load_stage_data(DataArgs(train=str(bare), system="你是小语。"), seed=0)
    assert {m[0]["content"] for m in literal.train} == {"你是小语。"}
    plain = load_stage_data(DataArgs(train=str(bare)), seed=0)
    assert all(m[0]["role"] == "user" for m in plain.train)
