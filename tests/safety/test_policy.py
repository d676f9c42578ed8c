"""Policy: actions per level, emergency numbers first, template variants, locales, YAML directories."""

from __future__ import annotations

import pytest

from xinyu.errors import ConfigError
from xinyu.safety import Category, Level, RiskAssessment, SafetyPolicy, assess
from xinyu.safety.config import PolicySettings


def test_imminent_crisis_gets_a_template_with_emergency_numbers_first(policy):
    decision = policy.decide(assess("我刚吃了一整瓶安眠药"))
    assert decision.action == "template"
    assert [r["number"] for r in decision.resources][:2] == ["120", "110"]
    assert decision.reply.index("120") < decision.reply.index("12356")
    assert "120" in decision.banner
    assert "AI" in decision.reply  # honest about what it is
    assert "？" in decision.reply  # keeps the conversation going with a question


def test_crisis_generates_with_preamble_and_referral(policy):
    decision = policy.decide(assess("我想死"))
    assert decision.action == "generate_with_preamble"
    assert "12356" in decision.append and "12356" in decision.banner
    assert "不要提供" in decision.system_preamble and "AI助手" in decision.system_preamble
    assert decision.resources[0]["number"] == "12356"
    assert decision.reply == ""


def test_distress_is_gentle_and_none_is_plain(policy):
    distress = policy.decide(assess("最近压力好大，睡不着"))
    assert distress.action == "generate_with_preamble" and not distress.banner and not distress.append
    none = policy.decide(assess("推荐一本书吧"))
    assert none.action == "generate" and not none.system_preamble


def test_abuse_routes_to_police_and_womens_hotline(policy):
    decision = policy.decide(assess("我老公又打我了"))
    numbers = [r["number"] for r in decision.resources]
    assert numbers[0] == "110" and "12338" in numbers


def test_third_party_gets_referral_for_the_other_person(policy):
    decision = policy.decide(assess("我朋友说她想死"))
    assert decision.action == "generate_with_preamble"
    assert "120" in decision.append and "对方" in decision.append


def test_template_variants_are_deterministic_and_vary(policy):
    risk = assess("我现在站在天台边上")
    replies = [policy.decide(risk, turn=t).reply for t in range(3)]
    assert len(set(replies)) == 3
    assert policy.decide(risk, turn=4).reply == replies[1]


def test_locale_fallback(policy):
    assert policy.resolve_locale("zh_CN") == "zh-CN"
    assert policy.resolve_locale("zh-TW") == "zh"
    assert policy.resolve_locale("fr-FR") == "en"
    english = policy.decide(assess("I want to die"), locale="en-GB")
    assert "findahelpline.com" in english.append and "12356" not in english.banner
    taiwan = policy.decide(assess("我想死"), locale="zh-TW")
    assert "findahelpline.com" in taiwan.append


def test_configurable_actions():
    policy = SafetyPolicy(PolicySettings(crisis="template", append_referral_on_crisis=False))
    decision = policy.decide(RiskAssessment(level=Level.CRISIS, categories={Category.SUICIDE}))
    assert decision.action == "template" and "12356" in decision.reply


def test_custom_directory_from_yaml(tmp_path):
    import yaml

    from xinyu.safety.policy import BUNDLED

    data = yaml.safe_load(BUNDLED.read_text(encoding="utf-8"))
    data["locales"]["zh-CN"]["hotlines"][2]["number"] = "12345-TEST"
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    policy = SafetyPolicy(PolicySettings(directory=str(path)))
    assert "12345-TEST" in policy.decide(assess("我想死")).banner or any(
        r["number"] == "12345-TEST" for r in policy.decide(assess("我想死")).resources)


def test_broken_directory_names_the_problem(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("default_locale: en\nlocales:\n  en:\n    hotlines: []\n    routes: {crisis: [nope]}\n"
                    "    banner: {}\n    preamble: {}\n    referral: {}\n    templates: {}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"routes\.crisis names unknown hotlines"):
        SafetyPolicy(PolicySettings(directory=str(path)))
