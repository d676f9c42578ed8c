"""Contamination check: a planted leak is found, a clean split reports none, stock phrases are ignored."""

from __future__ import annotations

import random

from xinyu.data.contamination import check, ngram_hashes
from xinyu.data.schema import Dialogue

CHARS = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严"


def text(rng, n=80):
    return "".join(rng.choice(CHARS) for _ in range(n))


def D(i, reply, user="问题"):
    return Dialogue(i, "t", [{"role": "user", "content": user}, {"role": "assistant", "content": reply}])


def corpus(seed, n):
    rng = random.Random(seed)
    return [D(f"{seed}-{i}", text(rng)) for i in range(n)]


def test_clean_split_reports_nothing():
    train, test = corpus(1, 200), corpus(2, 50)
    result = check(test, train, n=13).to_dict()
    assert result["targets_checked"] == 50 and result["reference_dialogues"] == 200
    assert result["flagged_count"] == 0 and result["flagged"] == [] and result["likely_leak_count"] == 0


def test_planted_leaks_are_found_with_ids_and_fractions():
    train, test = corpus(1, 200), corpus(2, 50)
    train.append(D("leak-copy", test[7].messages[1]["content"]))  # verbatim copy of a test reply
    partial = test[11].messages[1]["content"][20:40]  # a 20-character span
    train.append(D("leak-span", text(random.Random(9), 30) + partial + text(random.Random(10), 30)))
    result = check(test, train, n=13).to_dict()
    flagged = {f["id"]: f for f in result["flagged"]}
    assert set(flagged) == {test[7].id, test[11].id}
    assert (
        flagged[test[7].id]["fraction"] == 1.0 and flagged[test[7].id]["example_reference_id"] == "leak-copy"
    )
    assert flagged[test[11].id]["shared_ngrams"] == 20 - 13 + 1 and flagged[test[11].id]["fraction"] < 0.5
    assert result["likely_leaks"] == [test[7].id]
    assert result["reference_ids_overlapping"] == ["leak-copy", "leak-span"]


def test_whitespace_is_ignored_and_short_spans_do_not_count():
    reply = "这是一段足够长的回复内容用来测试空白字符不会影响匹配结果"
    spaced = " ".join(reply[i : i + 5] for i in range(0, len(reply), 5))
    assert check([D("t", reply)], [D("r", spaced)], n=13).to_dict()["flagged_count"] == 1
    assert check([D("t", reply)], [D("r", reply[:12])], n=13).to_dict()["flagged_count"] == 0


def test_stock_phrases_above_max_df_are_ignored():
    rng = random.Random(3)
    stock = "如果你有任何问题随时可以来找我聊聊"
    train = [D(f"r{i}", text(rng, 40) + stock) for i in range(30)]
    test = [D("t", text(rng, 40) + stock)]
    assert check(test, train, n=13, max_df=20).to_dict()["flagged_count"] == 0
    assert check(test, train, n=13, max_df=0).to_dict()["flagged_count"] == 1


def test_only_assistant_turns_are_compared():
    same = "这是一段完全相同的文字并且长度超过十三个字符"
    train = [
        Dialogue(
            "r",
            "t",
            [
                {"role": "user", "content": same},
                {"role": "assistant", "content": "不同的回答内容在这里出现了"},
            ],
        )
    ]
    test = [
        Dialogue(
            "t",
            "t",
            [{"role": "user", "content": same}, {"role": "assistant", "content": "另一段毫不相干的回复文字"}],
        )
    ]
    assert check(test, train).to_dict()["flagged_count"] == 0


def test_ngram_hashes_are_unique_and_do_not_cross_texts():
    assert len(ngram_hashes(["abcdef"], 3)) == 4
    assert len(ngram_hashes(["abc", "def"], 3)) == 2
    assert len(ngram_hashes(["ab"], 3)) == 0
