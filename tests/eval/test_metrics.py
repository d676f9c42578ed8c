"""Metrics: LLaMA-Factory-compatible BLEU/ROUGE pinned to independently computed values."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest

from xinyu.errors import DataError
from xinyu.eval.fastscore import lcs_length
from xinyu.eval.metrics import compute_metrics, distinct_n, llamafactory_pair, similarity_scores, text_metrics

# (prediction, reference) → values from LLaMA-Factory's ComputeSimilarity formula run once in a separate
# script with the global jieba, rouge_chinese and nltk (and checked by hand for "short": BLEU =
# e^-1 * 2^-1.5 * 100 = 13.0065, ROUGE-1/L = 2·1·0.5/1.5 = 66.6667).
REFERENCE = {
    "identical": (("我理解你现在的感受，愿意多说一些吗？", "我理解你现在的感受，愿意多说一些吗？"), (100.0, 100.0, 100.0, 100.0)),
    "disjoint": (("今天天气很好。", "考试让我非常焦虑"), (0.0, 0.0, 0.0, 0.0)),
    "partial": (
        ("听起来你最近压力很大，晚上睡得好吗？", "听起来你最近压力很大，能具体说说是什么让你担心吗？"),
        (41.4755, 64.2857, 50.0, 60.0),
    ),
    "short": (("好", "好的"), (13.0065, 66.6667, 0.0, 66.6667)),
    "empty_pred": (("", "我在这里陪着你。"), (0.0, 0.0, 0.0, 0.0)),
    "empty_ref": (("我在这里陪着你。", ""), (0.0, 0.0, 0.0, 0.0)),
    "whitespace_pred": (("   \n ", "我在这里陪着你。"), (0.0, 0.0, 0.0, 0.0)),
    "punct_pred": (("。。。！", "我在这里陪着你。"), (5.8764, 22.2222, 0.0, 18.1818)),
    "newlines": (("你好。\n\n我在听。\n请继续说", "你好。\n我在听，请继续说。"), (53.3351, 94.7368, 70.0, 78.2609)),
    "mixed_en": (
        ("试试CBT的方法，比如写thought record。", "可以试试CBT，例如记录自己的想法 thought record。"),
        (55.4372, 63.6364, 30.0, 54.5455),
    ),
}
KEYS = ("bleu-4", "rouge-1", "rouge-2", "rouge-l")


@pytest.mark.parametrize("case", sorted(REFERENCE))
def test_pinned_reference_values(case):
    (pred, ref), expected = REFERENCE[case]
    fast = similarity_scores([pred], [ref], workers=1)
    assert tuple(fast[k][0] for k in KEYS) == expected
    verbatim = llamafactory_pair(pred, ref)
    assert tuple(verbatim[k] for k in KEYS) == expected


def test_means_are_means_of_rounded_values():
    pairs = [REFERENCE[c][0] for c in ("partial", "short", "empty_pred")]
    out = text_metrics([p for p, _ in pairs], [r for _, r in pairs], workers=1)
    assert out["bleu-4"] == pytest.approx((41.4755 + 13.0065 + 0.0) / 3, abs=1e-12)
    assert out["rouge-1"] == pytest.approx((64.2857 + 66.6667 + 0.0) / 3, abs=1e-12)
    assert out["n"] == 3


PHRASES = ["我最近总是失眠", "听起来你很累", "能多说一些吗", "工作压力很大", "和父母吵架了", "你已经很努力了",
           "我们一起想想办法", "心里空落落的", "不知道该怎么办", "谢谢你愿意说出来"]
PUNCT = ["，", "。", "？", "！", "\n", " ", "……", "“", "”", ""]


def _random_text(rng: random.Random) -> str:
    return "".join(rng.choice(PHRASES)[: rng.randint(1, 8)] + rng.choice(PUNCT) for _ in range(rng.randint(0, 6)))


def test_fast_path_equals_verbatim_on_random_pairs():
    rng = random.Random(7)
    pairs = [(_random_text(rng), _random_text(rng)) for _ in range(150)]
    pairs += [(ref[: len(ref) // 2] + pred, ref) for pred, ref in pairs[:50]]
    fast = similarity_scores([p for p, _ in pairs], [r for _, r in pairs], workers=1)
    for i, (pred, ref) in enumerate(pairs):
        verbatim = llamafactory_pair(pred, ref)
        assert tuple(fast[k][i] for k in KEYS) == tuple(verbatim[k] for k in KEYS), (pred, ref)


def test_process_pool_gives_the_same_numbers():
    rng = random.Random(3)
    preds = [_random_text(rng) for _ in range(60)]
    refs = [_random_text(rng) for _ in range(60)]
    assert similarity_scores(preds, refs, workers=2) == similarity_scores(preds, refs, workers=1)


def test_bit_parallel_lcs_matches_dynamic_programming():
    from rouge_chinese.rouge_score import _len_lcs

    rng = random.Random(0)
    for _ in range(300):
        a = [rng.choice("abcde") for _ in range(rng.randint(0, 70))]
        b = [rng.choice("abcdef") for _ in range(rng.randint(0, 70))]
        assert lcs_length(a, b) == (_len_lcs(a, b) if a and b else 0)


def test_distinct_n_counts_characters_over_all_predictions():
    # chars: 你好你好 → unigrams 你,好 (2 unique / 4); 好的 → 好,的. Pooled: {你,好,的} 3 / 6.
    assert distinct_n(["你好你好", "好的"], 1) == pytest.approx(3 / 6)
    # bigrams: 你好,好你,你好 | 好的 → unique {你好,好你,好的} 3 / 4; whitespace is removed first
    assert distinct_n(["你好 你好", "好的"], 2) == pytest.approx(3 / 4)
    assert distinct_n(["", "a"], 2) == 0.0


def test_jieba_loads_quietly():
    code = "from xinyu.eval.segment import segment; print(segment('我最近总是睡不着'))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert proc.stderr == ""
    assert json.loads(proc.stdout.replace("'", '"')) == ["我", "最近", "总是", "睡不着"]


def _write_generations(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def test_compute_metrics_writes_metrics_json(tmp_path):
    (pred, ref), expected = REFERENCE["partial"]
    rows = [
        {"id": "a#1", "reference": ref, "prediction": pred, "tokens": 10, "cost_s": 0.5},
        {"id": "a#2", "reference": ref, "prediction": ref, "tokens": 30, "cost_s": 1.5},
    ]
    _write_generations(tmp_path / "generations.jsonl", rows)
    metrics = compute_metrics(tmp_path, progress=False)
    saved = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert saved == metrics
    assert metrics["bleu-4"] == pytest.approx((expected[0] + 100.0) / 2)
    assert metrics["n"] == 2
    assert metrics["runtime_s"] == 2.0
    assert metrics["samples_per_s"] == 1.0
    assert metrics["tokens_per_s"] == 20.0
    for key in ("rouge-1", "rouge-2", "rouge-l", "distinct-1", "distinct-2", "mean_len"):
        assert key in metrics


def test_bad_generations_name_line_and_field(tmp_path):
    _write_generations(tmp_path / "generations.jsonl", [{"id": "x", "reference": "好", "prediction": "好"},
                                                        {"id": "y", "reference": "好"}])
    with pytest.raises(DataError) as err:
        compute_metrics(tmp_path, progress=False)
    assert "line 2" in str(err.value) and "prediction" in str(err.value)
