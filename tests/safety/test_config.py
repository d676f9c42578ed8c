"""Safety config: YAML with dotted overrides, unknown keys rejected with the key named."""

from __future__ import annotations

import pytest

from xinyu.errors import ConfigError
from xinyu.safety.config import load_safety_config


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "safety.yaml"
    path.write_text("layers: [judge]\nhistory_window: 3\njudge:\n  base_url: http://x/v1\n  model: m\n", encoding="utf-8")
    cfg = load_safety_config(path, ["policy.locale=en", "judge.timeout_s=2"])
    assert cfg.layers == ["rules", "judge"]
    assert cfg.history_window == 3 and cfg.policy.locale == "en" and cfg.judge.timeout_s == 2


def test_unknown_keys_and_bad_values_are_listed(tmp_path):
    path = tmp_path / "safety.yaml"
    path.write_text("layers: [rules, magic]\nclassifier:\n  treshold: 0.5\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_safety_config(path)
    text = str(err.value)
    assert "layers.1" in text and "classifier.treshold: unknown key" in text


def test_layers_without_settings_fail_clearly():
    from xinyu.safety.config import SafetyConfig
    from xinyu.safety.crisis import Assessor

    with pytest.raises(ConfigError, match=r"classifier\.path"):
        Assessor(SafetyConfig(layers=["rules", "classifier"]))
    with pytest.raises(ConfigError, match=r"judge\.base_url"):
        Assessor(SafetyConfig(layers=["rules", "judge"]))
