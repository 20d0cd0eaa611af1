"""Whether the hub may apply to a funding call with a project, and the rule that decided it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .domain import FundingCall, OrgKind, Project, Stage

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
    ELIGIBLE = "eligible"
    CONDITIONAL = "conditional"
    INELIGIBLE = "ineligible"


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    rule: str


def _country_allowed(country: str, allowed: tuple[str, ...]) -> bool:
    if not allowed or "ANY" in allowed or country in allowed:
        return True
    return "EU" in allowed and country in EU_MEMBERS


def _stage_name(stage: Stage) -> str:
    return stage.value.replace("_", " ")


def assess(call: FundingCall, project: Project | None, hub_country: str) -> Verdict:
    """The first rule that excludes the hub decides; otherwise the conditions left to meet."""
    rules = call.eligibility
    if not _country_allowed(hub_country, rules.countries):
        return Verdict(
            Outcome.INELIGIBLE,
            f"applicants must be based in {', '.join(rules.countries)}; "
            f"the hub is in {hub_country}",
        )
    if rules.applicant_kinds and not set(HUB_APPLICANT_KINDS) & set(rules.applicant_kinds):
        kinds = ", ".join(k.value.replace("_", " ") for k in rules.applicant_kinds)
        return Verdict(Outcome.INELIGIBLE, f"only {kinds} applicants may apply")
    if project is not None:
        stage = project.stage
        if rules.min_stage is not None and stage.order < rules.min_stage.order:
            return Verdict(
                Outcome.INELIGIBLE,
                f"project stage '{_stage_name(stage)}' is before the call's minimum "
                f"'{_stage_name(rules.min_stage)}'",
            )
        if rules.max_stage is not None and stage.order > rules.max_stage.order:
            return Verdict(
                Outcome.INELIGIBLE,
                f"project stage '{_stage_name(stage)}' is past the call's maximum "
                f"'{_stage_name(rules.max_stage)}'",
            )
    conditions = []
    if rules.industry_partner_required:
        conditions.append("an industry partner in the consortium")
    if rules.min_consortium > 1:
        conditions.append(f"a consortium of at least {rules.min_consortium} partners")
    if project is None and (rules.min_stage or rules.max_stage):
        low = _stage_name(rules.min_stage) if rules.min_stage else "any stage"
        high = _stage_name(rules.max_stage) if rules.max_stage else "any stage"
        conditions.append(f"a project stage from {low} to {high}")
    if conditions:
        return Verdict(Outcome.CONDITIONAL, "requires " + " and ".join(conditions))
    where = "" if not rules.countries else f" in {hub_country}"
    stage_note = f" at stage '{_stage_name(project.stage)}'" if project else ""
    return Verdict(Outcome.ELIGIBLE, f"open to academic applicants{where}{stage_note}")
