import pytest

from matcher import Outcome, assess, parse_call, parse_project
from tests.conftest import make_call, make_project


@pytest.mark.parametrize(
    ("eligibility", "stage", "outcome", "fragment"),
    [
        ({"countries": ["EU"]}, "preclinical", Outcome.ELIGIBLE, "open to academic applicants"),
        ({"countries": ["US"]}, "preclinical", Outcome.INELIGIBLE, "the hub is in NL"),
        ({"applicant_kinds": ["biotech"]}, "preclinical", Outcome.INELIGIBLE, "only biotech"),
        ({"min_stage": "phase_1"}, "preclinical", Outcome.INELIGIBLE, "before the call's minimum"),
        ({"max_stage": "discovery"}, "preclinical", Outcome.INELIGIBLE, "past the call's maximum"),
        ({"industry_partner_required": True}, "preclinical", Outcome.CONDITIONAL, "industry"),
        ({"min_consortium": 3}, "phase_1", Outcome.CONDITIONAL, "at least 3 partners"),
    ],
)
def test_the_deciding_rule_is_given(eligibility, stage, outcome, fragment):
    call = parse_call(make_call(eligibility=eligibility))
    verdict = assess(call, parse_project(make_project(stage=stage)), "NL")
    assert verdict.outcome is outcome
    assert fragment in verdict.rule


def test_without_a_project_the_stage_range_is_a_condition():
    call = parse_call(make_call(eligibility={"min_stage": "preclinical"}))
    verdict = assess(call, None, "DE")
    assert verdict.outcome is Outcome.CONDITIONAL
    assert "preclinical" in verdict.rule
