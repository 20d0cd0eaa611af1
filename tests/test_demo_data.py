"""The demo data loads cleanly, is as varied as promised, and stays useful as time passes."""

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest

from matcher import CallStatus, Modality, OrgKind, Stage, read_directory

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"


@pytest.fixture(scope="module")
def demo():
    parsed = read_directory(DEMO)
    return (
        parsed["projects.jsonl"],
        parsed["organisations.jsonl"],
        parsed["calls.jsonl"],
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
    day = dt.date(2026, 11, 25) + dt.timedelta(days=365 * years_ahead)
    open_calls = [c for c in calls if c.status_on(day) is CallStatus.OPEN]
    assert len(open_calls) >= 10
    dated = [c for c in open_calls if c.deadlines]
    assert dated, "some open calls should still have a deadline to show"
