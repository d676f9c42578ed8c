"""Settings of the safety layer (YAML-loadable, unknown keys rejected).

Example ``safety.yaml``::

    layers: [rules, classifier, judge]
    history_window: 6
    classifier:
      path: runs/risk-clf          # any HF sequence-classification model
      threshold: 0.8
    judge:
      base_url: http://localhost:8000/v1
      model: qwen2.5-7b-instruct
      api_key_env: XINYU_JUDGE_API_KEY
    policy:
      locale: zh-CN
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from xinyu.config import StrictModel, load_config

LAYERS = ("rules", "lexical", "classifier", "judge")


class LexicalConfig(StrictModel):
    """The lexical layer (character n-gram model + combiner; on by default, numpy only).

    Attributes:
        path: A model trained by ``xinyu safety train-lexical``; ``None`` uses the bundled one.
        threshold: Combined P(crisis) that makes a turn a crisis; ``None`` uses the value stored
            with the model (chosen on the development set).
    """

    path: str | None = None
    threshold: float | None = Field(None, gt=0.0, lt=1.0)


class ClassifierConfig(StrictModel):
    """The optional classifier layer.

    Attributes:
        path: Directory of a Hugging Face sequence-classification model (labels none/distress/crisis,
            or two labels where the second means risk). ``None`` disables the layer.
        threshold: Probability of crisis (or of any risk, for distress) needed to raise the level.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
        max_length: Tokens per utterance (history is not fed to the classifier).
    """

    path: str | None = None
    threshold: float = Field(0.8, ge=0.0, le=1.0)
    device: str = "cpu"
    max_length: int = Field(256, ge=8)


class JudgeConfig(StrictModel):
    """The optional LLM-judge layer (any OpenAI-compatible endpoint).

    Attributes:
        base_url: Endpoint, e.g. ``http://localhost:8000/v1``. ``None`` disables the layer.
        model: Model name sent to the endpoint.
        api_key_env: Environment variable holding the API key (a placeholder key is sent when unset,
            which local servers accept).
        timeout_s: Per-request timeout; on timeout or any error the rule result stands.
        max_retries: Retries on transient errors (the ``openai`` client's own retry logic).
        when: ``"ambiguous"`` (only turns the rules find ambiguous: distress with weak crisis cues,
            third-party or resolved risk) or ``"always"`` (every turn the rules do not already call crisis).
    """

    base_url: str | None = None
    model: str | None = None
    api_key_env: str = "XINYU_JUDGE_API_KEY"
    timeout_s: float = Field(10.0, gt=0)
    max_retries: int = Field(1, ge=0)
    when: Literal["ambiguous", "always"] = "ambiguous"


class PolicySettings(StrictModel):
    """Response policy: which action each level gets, and where the texts come from.

    Attributes:
        locale: Default locale for replies and hotlines (``zh-CN``; others fall back to ``zh``/``en``).
        directory: A YAML file replacing the bundled hotline directory and templates (same schema as
            ``xinyu/safety/resources/policy.yaml``); ``None`` uses the bundled one.
        imminent: Action for imminent crisis.
        crisis: Action for (non-imminent) crisis.
        distress: Action for distress.
        none: Action when no risk is found.
        append_referral_on_crisis: Append the hotline referral after the model's reply on crisis.
    """

    locale: str = "zh-CN"
    directory: str | None = None
    imminent: Literal["template", "generate_with_preamble", "generate"] = "template"
    crisis: Literal["template", "generate_with_preamble", "generate"] = "generate_with_preamble"
    distress: Literal["template", "generate_with_preamble", "generate"] = "generate_with_preamble"
    none: Literal["template", "generate_with_preamble", "generate"] = "generate"
    append_referral_on_crisis: bool = True


class ScreenSettings(StrictModel):
    """What the output screen does with each kind of violation.

    Attributes:
        severe: For method details, lethal doses, concealment advice, encouragement of self-harm:
            ``"replace"`` the reply with the crisis template, or ``"repair"`` (drop the sentences
            and append the referral).
        identity: For false claims to be human or a clinician: ``"repair"`` (rewrite into an
            honest AI disclosure) or ``"replace"``.
        medical: For diagnoses and prescriptions stated as fact: ``"repair"`` or ``"replace"``.
    """

    severe: Literal["replace", "repair"] = "replace"
    identity: Literal["replace", "repair"] = "repair"
    medical: Literal["replace", "repair"] = "repair"


class SafetyConfig(StrictModel):
    """All settings of the safety layer.

    Attributes:
        layers: Layers to run, in order; ``rules`` always runs first, ``lexical`` (default) next.
        history_window: Earlier user turns whose risk carries over to the current turn.
        lexical: Lexical layer settings.
        classifier: Classifier layer settings.
        judge: LLM-judge layer settings.
        policy: Response policy.
        screen: Output screening.
    """

    layers: list[Literal["rules", "lexical", "classifier", "judge"]] = Field(
        default_factory=lambda: ["rules", "lexical"]
    )
    history_window: int = Field(6, ge=0, le=100)
    lexical: LexicalConfig = Field(default_factory=LexicalConfig)
    classifier: ClassifierConfig = Field(default_factory=ClassifierConfig)
    judge: JudgeConfig = Field(default_factory=JudgeConfig)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    screen: ScreenSettings = Field(default_factory=ScreenSettings)

    @field_validator("layers")
    @classmethod
    def _rules_first(cls, value: list[str]) -> list[str]:
        out = ["rules"] + [layer for layer in value if layer != "rules"]
        return list(dict.fromkeys(out))


def load_safety_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> SafetyConfig:
    """Load a :class:`SafetyConfig` from YAML (or defaults when ``path`` is None) with dotted overrides."""
    if path is None:
        from xinyu.config import apply_overrides, validate

        return validate(SafetyConfig, apply_overrides({}, list(overrides)), source="<overrides>")
    return load_config(SafetyConfig, path, overrides)
