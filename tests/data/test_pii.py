"""PII detection: true positives per kind, and the ordinary numbers and hotlines it must leave alone."""

from __future__ import annotations

import pytest

from xinyu.safety.pii import (
    ALLOWED_NUMBERS,
    PiiMatch,
    find_pii,
    id_card_valid,
    luhn_valid,
    redact,
    redact_with_counts,
)


def _luhn_complete(prefix: str) -> str:
    for d in "0123456789":
        if luhn_valid(prefix + d):
            return prefix + d
    raise AssertionError("unreachable")


def _id_complete(first17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return first17 + "10X98765432"[sum(int(a) * b for a, b in zip(first17, weights, strict=True)) % 11]


VALID_ID = _id_complete("44030419900307123")
CARD = _luhn_complete("622202100112345678")  # 19 digits


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        ("我的手机号是13812345678，打给我", "我的手机号是[电话]，打给我", "mobile"),
        ("电话 138-1234-5678 晚上打", "电话 [电话] 晚上打", "mobile"),
        ("请联系+86 139 0000 1111", "请联系[电话]", "mobile"),
        ("家里座机010-62345678", "家里座机[电话]", "landline"),
        ("（0571）87654321找我", "[电话]找我", "landline"),
        (f"身份证号{VALID_ID}，请核对", "身份证号[身份证号]，请核对", "id_card"),
        ("邮箱是 zhang.san+test@example.com.cn 哦", "邮箱是 [邮箱] 哦", "email"),
        ("我的邮箱abc_1@qq.com", "我的邮箱[邮箱]", "email"),
        ("QQ号：123456789", "QQ号：[QQ号]", "qq"),
        ("加我扣扣 55667788 吧", "加我扣扣 [QQ号] 吧", "qq"),
        ("加我微信abc_12345", "加我微信[微信号]", "wechat"),
        ("vx: Helper-2024 备注来意", "vx: [微信号] 备注来意", "wechat"),
        (f"卡号{CARD}", "卡号[银行卡号]", "bank_card"),
    ],
)
def test_true_positives(text, expected, kind):
    redacted, counts = redact_with_counts(text)
    assert redacted == expected
    assert counts == {kind: 1}


@pytest.mark.parametrize(
    "text",
    [
        "我今年32岁，2023年5月1日开始失眠",
        "2023-05-01 到 2024-12-31 期间",
        "这个月工资12000元，房租3500元，存款才20000",
        "考了第1名，做了100个俯卧撑，睡了8小时",
        "请拨打12356心理援助热线",
        "危险时请拨打110或120",
        "希望24热线400-161-9995可以帮你",
        "北京心理危机研究与干预中心 010-82951332",
        "青少年热线12355，卫生热线12320",
        "订单号20230501123456已经发货",
        "用微信聊天，QQ空间也不怎么看",
        "手机号长度是11位，比如1381234567就少了一位",
        "身份证号440304199003071230是校验位不对的",  # 18 digits, wrong checksum
        "我的体重是65.5公斤，身高175cm",
        "email 是个英文单词, @ 符号也常见",
    ],
)
def test_false_positive_traps_are_left_alone(text):
    assert find_pii(text) == []
    assert redact(text) == text


def test_allow_list_contains_the_hotlines_the_safety_layer_shows():
    for number in ("12356", "110", "120", "4001619995", "01082951332"):
        assert number in ALLOWED_NUMBERS


def test_checksums():
    assert id_card_valid(VALID_ID)
    assert id_card_valid("11010519491231002X")
    assert not id_card_valid("110105194912310021")
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")


def test_several_kinds_offsets_and_counts():
    text = "电话13812345678，邮箱a@b.cn，QQ号987654321"
    matches = find_pii(text)
    assert [m.kind for m in matches] == ["mobile", "email", "qq"]
    assert text[matches[0].start : matches[0].end] == "13812345678"
    assert isinstance(matches[0], PiiMatch) and matches[0].placeholder == "[电话]"
    redacted, counts = redact_with_counts(text)
    assert redacted == "电话[电话]，邮箱[邮箱]，QQ号[QQ号]" and sum(counts.values()) == 3


def test_kinds_filter_and_unknown_kind():
    text = "手机13812345678 邮箱a@b.cn"
    assert redact(text, kinds=["email"]) == "手机13812345678 邮箱[邮箱]"
    with pytest.raises(ValueError, match="unknown PII kinds"):
        find_pii("13812345678", kinds=["ssn"])


def test_full_width_digits_are_detected():
    assert redact("电话１３８１２３４５６７８") == "电话[电话]"
