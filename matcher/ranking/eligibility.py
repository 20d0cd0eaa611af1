"""Whether the hub may apply to a funding call with a project, and the rule that decided it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..domain import FundingCall, OrgKind, Stage

EU_MEMBERS = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "EL",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
    ]
)
HUB_APPLICANT_KINDS = (OrgKind.ACADEMIC_GROUP, OrgKind.HOSPITAL_UNIT)
"""A university hub applies as an academic group, or through its hospital's clinical units."""


class Outcome(StrEnum):
    """Ordered from best to worst: a verdict takes the worst outcome of its rules."""

    ELIGIBLE = "eligible"
    CONDITIONAL = "conditional"
    INELIGIBLE = "ineligible"

    @property
    def severity(self) -> int:
        return list(Outcome).index(self)


@dataclass(frozen=True)
class Rule:
    """One of a call's rules as it applies to the hub and the project: met, a condition the
    hub can still meet (an industry partner, a consortium), or unmet."""

    outcome: Outcome
    text: str


@dataclass(frozen=True)
class Verdict:
    """Every rule of the call that applies, and the worst of their outcomes."""

    outcome: Outcome
    rules: tuple[Rule, ...] = ()

    @property
    def rule(self) -> str:
        """The rules that decide the outcome, in one line."""
        return "; ".join(r.text for r in self.rules if r.outcome is self.outcome)

    @property
    def proposable(self) -> bool:
        """Whether the call may be proposed without asking for ineligible calls."""
        return self.outcome is not Outcome.INELIGIBLE


def _country_allowed(country: str, allowed: tuple[str, ...]) -> bool:
    if not allowed or "ANY" in allowed or country in allowed:
        return True
    return "EU" in allowed and country in EU_MEMBERS


def _stage_name(stage: Stage) -> str:
    return stage.value.replace("_", " ")


def assess(call: FundingCall, stage: Stage | None, hub_country: str) -> Verdict:
    """Every rule of the call for the hub, as an academic applicant in `hub_country`, with a
    project at `stage` (None when the stage is not known, e.g. a pasted text)."""
    rules = call.eligibility
    checks: list[Rule] = []
    if rules.countries and "ANY" not in rules.countries:
        places = ", ".join(rules.countries)
        if _country_allowed(hub_country, rules.countries):
            checks.append(Rule(Outcome.ELIGIBLE, f"applicants based in {places}: the hub is in "
                               f"{hub_country}"))  # fmt: skip
        else:
            checks.append(Rule(Outcome.INELIGIBLE, f"applicants must be based in {places}; "
                               f"the hub is in {hub_country}"))  # fmt: skip
    if rules.applicant_kinds:
        kinds = ", ".join(k.value.replace("_", " ") for k in rules.applicant_kinds)
        if set(HUB_APPLICANT_KINDS) & set(rules.applicant_kinds):
            checks.append(Rule(Outcome.ELIGIBLE, f"academic applicants accepted ({kinds})"))
        else:
            checks.append(Rule(Outcome.INELIGIBLE, f"only {kinds} applicants may apply"))
    if rules.min_stage is not None or rules.max_stage is not None:
        low = _stage_name(rules.min_stage) if rules.min_stage else "any stage"
        high = _stage_name(rules.max_stage) if rules.max_stage else "any stage"
        if stage is None:
            checks.append(Rule(Outcome.CONDITIONAL, f"a project stage from {low} to {high}"))
        elif rules.min_stage is not None and stage.order < rules.min_stage.order:
            checks.append(Rule(Outcome.INELIGIBLE, f"project stage '{_stage_name(stage)}' is "
                               f"before the call's minimum '{low}'"))  # fmt: skip
        elif rules.max_stage is not None and stage.order > rules.max_stage.order:
            checks.append(Rule(Outcome.INELIGIBLE, f"project stage '{_stage_name(stage)}' is "
                               f"past the call's maximum '{high}'"))  # fmt: skip
        else:
            checks.append(Rule(Outcome.ELIGIBLE, f"project stage '{_stage_name(stage)}' lies "
                               f"within {low} to {high}"))  # fmt: skip
    if rules.industry_partner_required:
        checks.append(Rule(Outcome.CONDITIONAL, "requires an industry partner in the consortium"))
    if rules.min_consortium > 1:
        checks.append(
            Rule(
                Outcome.CONDITIONAL,
                f"requires a consortium of at least {rules.min_consortium} partners",
            )
        )
    if not checks:
        checks.append(Rule(Outcome.ELIGIBLE, "no restriction on who may apply"))
    worst = max((r.outcome for r in checks), key=lambda o: o.severity)
    ordered = sorted(checks, key=lambda r: -r.outcome.severity)
    return Verdict(worst, tuple(ordered))
