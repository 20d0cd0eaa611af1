import pytest

from matcher import Outcome, Stage, assess, parse_call
from tests.conftest import make_call


@pytest.mark.parametrize(
    ("eligibility", "stage", "outcome", "fragment"),
    [
        ({"countries": ["EU"]}, "preclinical", Outcome.ELIGIBLE, "the hub is in NL"),
        ({"countries": ["US"]}, "preclinical", Outcome.INELIGIBLE, "the hub is in NL"),
        ({"applicant_kinds": ["biotech"]}, "preclinical", Outcome.INELIGIBLE, "only biotech"),
        ({"min_stage": "phase_1"}, "preclinical", Outcome.INELIGIBLE, "before the call's minimum"),
        ({"max_stage": "discovery"}, "preclinical", Outcome.INELIGIBLE, "past the call's maximum"),
        ({"industry_partner_required": True}, "preclinical", Outcome.CONDITIONAL, "industry"),
        ({"min_consortium": 3}, "phase_1", Outcome.CONDITIONAL, "at least 3 partners"),
        ({}, "phase_1", Outcome.ELIGIBLE, "no restriction"),
    ],
)
def test_the_deciding_rule_is_given(eligibility, stage, outcome, fragment):
    call = parse_call(make_call(eligibility=eligibility))
    verdict = assess(call, Stage(stage), "NL")
    assert verdict.outcome is outcome
    assert fragment in verdict.rule


def test_every_rule_that_applies_is_listed_worst_first():
    call = parse_call(
        make_call(
            eligibility={
                "countries": ["DE"],
                "applicant_kinds": ["biotech"],
                "min_stage": "phase_1",
                "industry_partner_required": True,
            }
        )
    )
    verdict = assess(call, Stage.PRECLINICAL, "SE")
    assert verdict.outcome is Outcome.INELIGIBLE
    assert [r.outcome for r in verdict.rules] == [Outcome.INELIGIBLE] * 3 + [Outcome.CONDITIONAL]
    assert "based in DE" in verdict.rule and "only biotech" in verdict.rule
    assert "before the call's minimum" in verdict.rule
    assert not verdict.proposable


def test_met_rules_and_conditions_are_kept_beside_each_other():
    call = parse_call(make_call(eligibility={"countries": ["EU"], "min_consortium": 3}))
    verdict = assess(call, Stage.PHASE_1, "SE")
    assert verdict.outcome is Outcome.CONDITIONAL and verdict.proposable
    assert {r.outcome for r in verdict.rules} == {Outcome.ELIGIBLE, Outcome.CONDITIONAL}


def test_without_a_stage_the_stage_range_is_a_condition():
    call = parse_call(make_call(eligibility={"min_stage": "preclinical"}))
    verdict = assess(call, None, "DE")
    assert verdict.outcome is Outcome.CONDITIONAL
    assert "preclinical" in verdict.rule
