"""The demo data loads cleanly, is as varied as promised, and stays useful as time passes."""

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest

from matcher import CallStatus, Modality, OrgKind, Stage, read_directory

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"

TODAY = dt.date(2026, 12, 1)
"""The date the demo data were written for."""

HUB_COUNTRY = "SE"
NORDIC = {"SE", "NO", "FI", "DK"}
HUB_KINDS = {OrgKind.ACADEMIC_GROUP, OrgKind.HOSPITAL_UNIT}


@pytest.fixture(scope="module")
def demo():
    parsed = read_directory(DEMO)
    return (
        parsed["projects.jsonl"],
        parsed["organisations.jsonl"],
        parsed["calls.jsonl"],
    )


def open_to_hub(call) -> bool:
    """A Swedish academic group or hospital unit may apply, judged by country and kind alone."""
    countries = set(call.eligibility.countries)
    kinds = set(call.eligibility.applicant_kinds)
    return (not countries or bool(countries & {HUB_COUNTRY, "EU", "ANY"})) and (
        not kinds or bool(kinds & HUB_KINDS)
    )


def test_sizes_and_variety(demo):
    projects, organisations, calls = demo
    assert len(projects) >= 30 and len(organisations) >= 120 and len(calls) >= 40
    assert {p.modality for p in projects} >= set(Modality) - {Modality.OTHER}
    assert {p.stage for p in projects} == set(Stage)
    assert set(Counter(o.kind for o in organisations)) == set(OrgKind)
    assert len({i for p in projects for i in p.indications}) >= 15


@pytest.mark.parametrize("years_ahead", [0, 1, 2])
def test_open_calls_remain_for_years(demo, years_ahead):
    _, _, calls = demo
    day = TODAY + dt.timedelta(days=365 * years_ahead)
    open_calls = [c for c in calls if c.status_on(day) is CallStatus.OPEN]
    assert len(open_calls) >= 10
    dated = [c for c in open_calls if c.deadlines]
    assert dated, "some open calls should still have a deadline to show"


def test_nordic_hospital_units(demo):
    _, organisations, _ = demo
    units = [o for o in organisations if o.kind is OrgKind.HOSPITAL_UNIT]
    nordic = Counter(o.country for o in units if o.country in NORDIC)
    assert sum(nordic.values()) >= 8, nordic
    assert nordic[HUB_COUNTRY] >= 4, nordic
    assert all(2 <= len(o.profile) <= 3 for o in units if o.country in NORDIC)


def test_calls_a_swedish_academic_hub_can_apply_for_a_year_from_now(demo):
    _, _, calls = demo
    day = dt.date(2027, 12, 1)
    usable = [c.id for c in calls if c.status_on(day) is CallStatus.OPEN and open_to_hub(c)]
    assert len(usable) >= 10, usable


def test_ineligible_calls_remain_to_be_hidden(demo):
    _, _, calls = demo
    open_now = [c for c in calls if c.status_on(TODAY) is CallStatus.OPEN]
    assert any(not open_to_hub(c) for c in open_now)


def test_withdrawn_and_expired_calls(demo):
    _, _, calls = demo
    withdrawn = [c for c in calls if c.status is CallStatus.WITHDRAWN]
    assert withdrawn
    for call in withdrawn:
        assert call.status_on(TODAY) is CallStatus.WITHDRAWN
        # Only the funder's word closes it: its dates alone would make it open today.
        assert call.opening_date is not None and call.opening_date <= TODAY
        assert call.next_deadline(TODAY) is not None
    expired = [
        c for c in calls if c.status is None and c.deadlines and c.next_deadline(TODAY) is None
    ]
    assert expired
    assert all(c.status_on(TODAY) is CallStatus.CLOSED for c in expired)
    closed_early = [c for c in calls if c.status is CallStatus.CLOSED]
    assert any(c.next_deadline(TODAY) is not None for c in closed_early)


def test_forthcoming_calls_open_to_the_hub(demo):
    _, _, calls = demo
    forthcoming = [
        c for c in calls if c.status_on(TODAY) is CallStatus.FORTHCOMING and open_to_hub(c)
    ]
    assert len(forthcoming) >= 3, [c.id for c in forthcoming]
