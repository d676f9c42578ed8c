"""Response policy: what the assistant does for a risk level, in the user's locale.

    policy = SafetyPolicy()                       # bundled directory, default actions
    decision = policy.decide(risk, locale="zh-CN", turn=3)

Default actions (configurable in :class:`~xinyu.safety.config.PolicySettings`):

=================  ==========================  ================================================
risk               action                      extras
=================  ==========================  ================================================
crisis, imminent   ``template``                emergency numbers (110/120) first, banner
crisis             ``generate_with_preamble``  safety preamble, referral appended, banner
distress           ``generate_with_preamble``  gentle preamble (third-party risk: + referral)
none               ``generate``                nothing
=================  ==========================  ================================================

Texts and hotlines come from ``resources/policy.yaml`` (or a file named by
``policy.directory``); templates have several variants chosen deterministically by ``turn`` so
the same person does not get the same words twice in a row. Locales fall back from ``zh-TW`` to
``zh`` to the directory's default (``en``: international resources).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator

from xinyu.config import StrictModel, load_yaml, validate
from xinyu.errors import ConfigError
from xinyu.safety.config import PolicySettings, SafetyConfig
from xinyu.safety.types import Category, Level, PolicyDecision, RiskAssessment

BUNDLED = Path(__file__).parent / "resources" / "policy.yaml"
ROUTES = (
    "imminent", "crisis", "abuse", "abuse_imminent", "harm_others", "harm_others_imminent", "third_party",
    "third_party_imminent", "distress",
)
TEMPLATES = (*ROUTES[:-1], "screen_replacement")
PREAMBLES = ("imminent", "crisis", "abuse", "harm_others", "third_party", "distress")
BANNERS = ("imminent", "crisis", "abuse", "harm_others", "third_party")
REFERRALS = ("crisis", "third_party", "abuse")


class Hotline(StrictModel):
    """One entry of the directory."""

    id: str
    name: str
    number: str
    note: str = ""
    emergency: bool = False


class LocaleDirectory(StrictModel):
    """Hotlines and texts of one locale."""

    hotlines: list[Hotline]
    routes: dict[str, list[str]]
    banner: dict[str, str]
    preamble: dict[str, str]
    referral: dict[str, str]
    templates: dict[str, list[str]]

    @model_validator(mode="after")
    def _complete(self) -> LocaleDirectory:
        problems = []
        ids = {h.id for h in self.hotlines}
        for section, required in (("routes", ROUTES), ("templates", TEMPLATES), ("preamble", PREAMBLES),
                                  ("banner", BANNERS), ("referral", REFERRALS)):
            missing = [key for key in required if key not in getattr(self, section)]
            if missing:
                problems.append(f"{section} is missing {', '.join(missing)}")
        for route, names in self.routes.items():
            unknown = [n for n in names if n not in ids]
            if unknown:
                problems.append(f"routes.{route} names unknown hotlines {unknown}")
        for key, variants in self.templates.items():
            if not variants:
                problems.append(f"templates.{key} has no variants")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Directory(StrictModel):
    """The whole policy file."""

    default_locale: str = "en"
    locales: dict[str, LocaleDirectory] = Field(min_length=1)

    @model_validator(mode="after")
    def _default_exists(self) -> Directory:
        if self.default_locale not in self.locales:
            raise ValueError(f"default_locale '{self.default_locale}' is not one of {sorted(self.locales)}")
        return self


@lru_cache(maxsize=8)
def load_directory(path: str | None = None) -> Directory:
    """Load and validate a policy directory (the bundled one when ``path`` is None)."""
    source = Path(path) if path else BUNDLED
    return validate(Directory, load_yaml(source), source=source)


class SafetyPolicy:
    """Maps a :class:`RiskAssessment` to a :class:`PolicyDecision`.

    Args:
        config: A :class:`SafetyConfig` (its ``policy`` section is used), a :class:`PolicySettings`,
            or None for the defaults.
    """

    def __init__(self, config: SafetyConfig | PolicySettings | None = None) -> None:
        if isinstance(config, SafetyConfig):
            config = config.policy
        self.settings = config or PolicySettings()
        self.directory = load_directory(self.settings.directory)

    def resolve_locale(self, locale: str | None = None) -> str:
        """The directory locale used for ``locale``: exact, then its language, then the default."""
        wanted = (locale or self.settings.locale or "").replace("_", "-")
        by_lower = {name.lower(): name for name in self.directory.locales}
        if wanted.lower() in by_lower:
            return by_lower[wanted.lower()]
        language = wanted.split("-")[0].lower()
        if language in by_lower:
            return by_lower[language]
        return self.directory.default_locale

    def hotlines(self, locale: str | None = None, route: str = "crisis") -> list[dict[str, str]]:
        """Hotline entries of a route (``crisis``, ``imminent``, ``abuse``...) as dicts."""
        texts = self.directory.locales[self.resolve_locale(locale)]
        if route not in texts.routes:
            raise ConfigError([f"unknown route '{route}': expected one of {sorted(texts.routes)}"])
        by_id = {h.id: h for h in texts.hotlines}
        return [{"name": by_id[i].name, "number": by_id[i].number, "note": by_id[i].note} for i in texts.routes[route]]

    def template(self, route: str, locale: str | None = None, turn: int = 0) -> str:
        """A filled template variant for ``route`` (deterministic in ``turn``)."""
        loc = self.resolve_locale(locale)
        texts = self.directory.locales[loc]
        variants = texts.templates[route]
        hotline_route = route if route in texts.routes else "crisis"
        return self._fill(variants[turn % len(variants)], loc, hotline_route)

    def referral(self, kind: str = "crisis", locale: str | None = None) -> str:
        """The referral text appended after a model reply."""
        return self.directory.locales[self.resolve_locale(locale)].referral[kind]

    def _fill(self, text: str, locale: str, route: str) -> str:
        texts = self.directory.locales[locale]
        by_id = {h.id: h for h in texts.hotlines}
        entries = [by_id[i] for i in texts.routes[route]]
        lines = "\n".join(f"· {h.name}：{h.number}" + (f"（{h.note}）" if h.note else "") for h in entries)
        if not locale.startswith("zh"):
            lines = "\n".join(f"- {h.name}: {h.number}" + (f" ({h.note})" if h.note else "") for h in entries)
        # Emergency numbers in the route's order: an overdose needs 120 before 110, an attacker 110 first.
        emergency = " / ".join(h.number for h in entries if h.emergency) or " / ".join(
            h.number for h in texts.hotlines if h.emergency
        )
        return text.replace("{hotlines}", lines).replace("{emergency}", emergency)

    def route(self, risk: RiskAssessment) -> str | None:
        """Which route a risk takes: ``imminent``, ``crisis``, ``abuse``... or ``distress``; None for no risk."""
        if risk.level is Level.NONE:
            return None
        cats = risk.categories
        if risk.subject == "other" and cats:
            return "third_party_imminent" if risk.level is Level.CRISIS and risk.imminent else "third_party"
        if risk.level is Level.DISTRESS:
            return "distress"
        self_risk = cats & {Category.SUICIDE, Category.SELF_HARM}
        if Category.ABUSE in cats and not self_risk:
            return "abuse_imminent" if risk.imminent else "abuse"
        if Category.HARM_OTHERS in cats and not self_risk:
            return "harm_others_imminent" if risk.imminent else "harm_others"
        return "imminent" if risk.imminent else "crisis"

    def decide(self, risk: RiskAssessment, locale: str | None = None, *, turn: int = 0) -> PolicyDecision:
        """Decide what the assistant does for this turn.

        Args:
            risk: The assessment of the user's turn.
            locale: ``zh-CN`` (default from settings), ``en``, ``zh-TW``...; unknown locales fall back.
            turn: Turn index (or any seed) choosing the template variant.

        Returns:
            The :class:`PolicyDecision`.
        """
        route = self.route(risk)
        if route is None:
            return PolicyDecision(action=self.settings.none)
        loc = self.resolve_locale(locale)
        texts = self.directory.locales[loc]
        preamble_key = {
            "imminent": "imminent", "crisis": "crisis", "abuse": "abuse", "abuse_imminent": "abuse",
            "harm_others": "harm_others", "harm_others_imminent": "harm_others", "third_party": "third_party",
            "third_party_imminent": "third_party", "distress": "distress",
        }[route]
        if risk.level is Level.CRISIS:
            action = self.settings.imminent if risk.imminent else self.settings.crisis
        else:
            action = self.settings.distress
        decision = PolicyDecision(action=action, system_preamble=texts.preamble[preamble_key])
        if route == "distress":
            return decision
        decision.resources = self.hotlines(loc, route)
        decision.banner = texts.banner["imminent" if route.endswith("imminent") else preamble_key]
        if action == "template":
            decision.reply = self.template(route, loc, turn)
        elif route in ("third_party", "third_party_imminent"):
            decision.append = texts.referral["third_party"]
        elif risk.level is Level.CRISIS and self.settings.append_referral_on_crisis:
            decision.append = texts.referral["abuse" if route.startswith("abuse") else "crisis"]
        return decision
