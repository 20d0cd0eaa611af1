"""Calls the hub can use, with their true status, in both directions (library and demo data)."""

import datetime as dt

import pytest

from matcher import (
    CallStatus,
    EntityKind,
    Outcome,
    Profile,
    Project,
    Stage,
    Target,
    deadline_info,
    parse_call,
    timing_of,
)
from tests.conftest import DEMO_TODAY, make_call

WITHDRAWN, CLOSED_EARLY, EXPIRED = "C-066", "C-004", "C-001"
GERMANY_ONLY = "C-020"


def _projects(demo):
    return [p for p in demo.entities(EntityKind.PROJECT) if isinstance(p, Project)]


def test_status_is_computed_from_dates_and_the_funders_word():
    day = dt.date(2026, 12, 1)
    assert parse_call(make_call(deadlines=[{"date": "2026-11-30"}])).status_on(day) is (
        CallStatus.CLOSED
    )
    withdrawn = parse_call(make_call(status="withdrawn", deadlines=[{"date": "2027-06-01"}]))
    assert withdrawn.status_on(day) is CallStatus.WITHDRAWN
    soon = parse_call(make_call(opening_date="2027-01-10", deadlines=[{"date": "2027-05-01"}]))
    assert soon.status_on(day) is CallStatus.FORTHCOMING


def test_a_closed_call_shows_no_next_deadline():
    day = dt.date(2026, 12, 1)
    closed = parse_call(make_call(status="closed", deadlines=[{"date": "2027-02-26"}]))
    info = deadline_info(closed, day)
    assert info.status == "closed" and info.next_deadline is None and info.days_left is None


@pytest.mark.parametrize(
    ("days", "factor"), [(60, 1.0), (30, 1.0), (18, 0.478), (7, 0.0), (3, 0.0)]
)
def test_timing_weighs_the_days_left_to_prepare(days, factor):
    day = dt.date(2026, 12, 1)
    call = parse_call(make_call(deadlines=[{"date": str(day + dt.timedelta(days=days))}]))
    assert timing_of(call, day).factor == pytest.approx(factor, abs=1e-3)


def test_a_later_cut_off_rescues_a_call_whose_next_one_is_too_close():
    day = dt.date(2026, 12, 1)
    call = parse_call(
        make_call(deadlines=[{"date": "2026-12-04"}, {"date": "2027-04-01", "label": "cut-off 2"}])
    )
    timing = timing_of(call, day)
    assert timing.factor == 1.0 and timing.deadline.date == dt.date(2027, 4, 1)
    two_stage = parse_call(
        make_call(
            deadlines=[
                {"date": "2026-12-04", "label": "pre-proposal"},
                {"date": "2027-04-01", "label": "full proposal (invited)"},
            ]
        )
    )
    assert timing_of(two_stage, day).factor == 0.0


def test_closed_and_withdrawn_calls_are_never_proposed_for_any_demo_project(demo):
    never = {WITHDRAWN, CLOSED_EARLY, EXPIRED, "C-002", "C-003"}
    for project in _projects(demo):
        for ineligible in (False, True):
            ids = {m.id for m in demo.calls_for(project.id, k=100, explain=False,
                                                 include_ineligible=ineligible)}  # fmt: skip
            assert not ids & never, project.id


def test_the_other_direction_says_a_call_is_closed_or_withdrawn_first(demo):
    closed = demo.projects_for(CLOSED_EARLY, k=3)
    assert closed.notice.startswith(f"{CLOSED_EARLY} is closed")
    for m in closed:
        assert m.reasons.deadline.status == "closed" and m.reasons.deadline.days_left is None
        assert "the call is closed" in m.reasons.summary
        assert "days left" not in m.reasons.summary
    expired = demo.projects_for(EXPIRED, k=3)
    assert expired.notice.startswith(f"{EXPIRED} is closed (last deadline 2026-06-23)")
    withdrawn = demo.projects_for(WITHDRAWN, k=3)
    assert withdrawn.notice.startswith(f"{WITHDRAWN} was withdrawn")
    assert [m.id for m in withdrawn] == [m.id for m in demo.projects_for(WITHDRAWN, k=3)]


def test_ineligible_calls_are_hidden_unless_asked_for(demo):
    for project in _projects(demo):
        for m in demo.calls_for(project.id, k=100):
            assert m.reasons.eligibility.outcome is not Outcome.INELIGIBLE, (project.id, m.id)
    shown = demo.calls_for("P-001", k=100, include_ineligible=True)
    german = next(m for m in shown if m.id == GERMANY_ONLY)
    verdict = german.reasons.eligibility
    assert verdict.outcome is Outcome.INELIGIBLE
    assert "applicants must be based in DE; the hub is in SE" in verdict.rule
    assert GERMANY_ONLY not in {m.id for m in demo.calls_for("P-001", k=100)}


def test_a_call_the_hub_may_not_apply_to_says_so_first(demo):
    ranking = demo.projects_for(GERMANY_ONLY, k=3)
    assert "The hub may not apply to C-020: applicants must be based in DE" in ranking.notice
    assert not ranking.matches
    assert demo.projects_for(GERMANY_ONLY, k=3, include_ineligible=True).matches


def test_projects_that_may_not_apply_are_left_out_of_a_calls_ranking(demo):
    call = demo.get("C-025", EntityKind.CALL)  # Nordic call, preclinical to phase 2+
    fitting = demo.projects_for(call.id, k=100)
    stages = {demo.get(m.id, EntityKind.PROJECT).stage for m in fitting}
    assert Stage.DISCOVERY not in stages and fitting
    everyone = demo.projects_for(call.id, k=100, include_ineligible=True)
    assert len(everyone) > len(fitting)


def test_forthcoming_calls_are_proposed_and_marked_with_their_opening_date(demo):
    seen = False
    for project in _projects(demo):
        for m in demo.calls_for(project.id, k=10):
            d = m.reasons.deadline
            assert d.status in ("open", "forthcoming")
            if d.status == "forthcoming":
                seen = True
                assert f"opens {d.opening_date.isoformat()}" in m.reasons.summary
        only_open = demo.calls_for(project.id, k=10, statuses={CallStatus.OPEN})
        assert all(m.reasons.deadline.status == "open" for m in only_open)
    assert seen


def test_a_pasted_texts_stage_decides_stage_rules(demo):
    text = (
        "Autologous CAR-T cells for relapsed lymphoma, ready for a phase I trial at our hospital."
    )
    unknown = demo.search(text, Target.CALLS, k=20)
    assert any(m.reasons.eligibility.outcome is Outcome.CONDITIONAL for m in unknown)
    staged = demo.search(text, Target.CALLS, k=20, profile=Profile(stage=Stage.PHASE_1))
    for m in staged:
        assert not any("project stage from" in r.text for r in m.reasons.eligibility.rules)


def test_demo_today_is_the_fixed_date(demo):
    assert demo.today() == DEMO_TODAY
