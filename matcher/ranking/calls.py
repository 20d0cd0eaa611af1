"""What a funding call offers a project today: its status, the time left to apply, and whether
the hub may apply at all. One clock (the recommender's `today`) decides all three.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..domain import CallStatus, Deadline, Entity, FundingCall, Project, Stage
from ..errors import InvalidQuery
from .eligibility import Verdict, assess
from .reasons import DeadlineInfo

PROPOSABLE = frozenset({CallStatus.OPEN, CallStatus.FORTHCOMING})
"""Statuses a call may be proposed in; closed and withdrawn calls never are."""
PREPARATION_DAYS = 30
"""About how long the hub needs to write an application to a call it has just found."""
TOO_LATE_DAYS = 7
"""With fewer days left than this, no application can be ready."""
_DEPENDENT = ("invited", "second stage", "stage 2", "full proposal")
"""Labels of a deadline that only those who met an earlier one may use."""


@dataclass(frozen=True)
class Timing:
    """How far the time left lets the hub apply: 1 with a month or more (or a rolling call),
    falling to 0 a week before the deadline that can still be met."""

    factor: float
    deadline: Deadline | None
    note: str


def timing_of(call: FundingCall, today: dt.date) -> Timing:
    status = call.status_on(today)
    if status not in PROPOSABLE:
        return Timing(0.0, None, f"the call is {status.value}")
    if call.rolling:
        return Timing(1.0, None, "rolling call: apply any time")
    upcoming = sorted((d for d in call.deadlines if d.date >= today), key=lambda d: d.date)
    best = Timing(0.0, upcoming[0] if upcoming else None, "")
    for deadline in upcoming:
        follows = any(d.date < deadline.date for d in call.deadlines)
        if follows and any(word in deadline.label.lower() for word in _DEPENDENT):
            continue  # only those who met the earlier stage may use it
        days = (deadline.date - today).days
        factor = float(np.clip((days - TOO_LATE_DAYS) / (PREPARATION_DAYS - TOO_LATE_DAYS), 0, 1))
        if factor > best.factor:
            best = Timing(factor, deadline, "")
        if factor >= 1.0:
            break
    if best.factor >= 1.0:
        return best
    if best.deadline is None:
        return Timing(0.0, None, "no deadline left that can be met")
    days = (best.deadline.date - today).days
    return Timing(
        best.factor,
        best.deadline,
        f"only {days} days left to prepare an application (about {PREPARATION_DAYS} needed)",
    )


def deadline_info(call: FundingCall, today: dt.date) -> DeadlineInfo:
    """The call's status today and, while it may be applied to, its next deadline."""
    status = call.status_on(today)
    upcoming = call.next_deadline(today) if status in PROPOSABLE else None
    return DeadlineInfo(
        status=status.value,
        next_deadline=upcoming.date if upcoming else None,
        label=upcoming.label if upcoming else "",
        days_left=(upcoming.date - today).days if upcoming else None,
        opening_date=call.opening_date,
        timing=timing_of(call, today).factor,
    )


class CallBook:
    """The loaded calls' status, timing and eligibility, computed once per day (or per stage)
    and reused by every query."""

    def __init__(
        self, calls: Sequence[Entity], hub_country: str, today: Callable[[], dt.date]
    ) -> None:
        self.calls = [c for c in calls if isinstance(c, FundingCall)]
        self.hub_country = hub_country
        self.today = today
        self._day: dt.date | None = None
        self._status: npt.NDArray[np.object_] = np.array([], dtype=object)
        self._timing: npt.NDArray[np.float64] = np.zeros(0)
        self._verdicts: dict[Stage | None, list[Verdict]] = {}

    def _refresh(self) -> None:
        today = self.today()
        if today != self._day:
            self._status = np.array([c.status_on(today) for c in self.calls], dtype=object)
            self._timing = np.array([timing_of(c, today).factor for c in self.calls])
            self._day = today

    def status_mask(self, statuses: Collection[CallStatus]) -> npt.NDArray[np.bool_]:
        self._refresh()
        return np.isin(self._status, list(statuses))

    def timing(self) -> npt.NDArray[np.float64]:
        self._refresh()
        return self._timing

    def verdicts(self, stage: Stage | None) -> list[Verdict]:
        if stage not in self._verdicts:
            self._verdicts[stage] = [assess(c, stage, self.hub_country) for c in self.calls]
        return self._verdicts[stage]

    def mask(
        self, statuses: Collection[CallStatus], stage: Stage | None, include_ineligible: bool
    ) -> npt.NDArray[np.bool_]:
        """The calls to propose: with these statuses (open and forthcoming at most) and, unless
        `include_ineligible`, that the hub may apply to at this stage. Raises InvalidQuery for
        closed or withdrawn."""
        wanted = {CallStatus(s) for s in statuses} or set(PROPOSABLE)
        never = wanted - PROPOSABLE
        if never:
            names = ", ".join(sorted(s.value for s in never))
            raise InvalidQuery(
                f"Calls that are {names} are never proposed; ask for open or forthcoming calls."
            )
        mask = self.status_mask(wanted)
        if not include_ineligible:
            mask = mask & self.proposable(stage)
        return mask

    def proposable(self, stage: Stage | None) -> npt.NDArray[np.bool_]:
        """The calls the hub may apply to with a project at this stage (conditions allowed)."""
        return np.array([v.proposable for v in self.verdicts(stage)], dtype=bool)


def may_apply(
    call: FundingCall, projects: Sequence[Entity], hub_country: str
) -> npt.NDArray[np.bool_]:
    """Which of these projects the hub may put forward for the call (by their stage)."""
    by_stage = {s: assess(call, s, hub_country).proposable for s in Stage}
    return np.array([isinstance(p, Project) and by_stage[p.stage] for p in projects], bool)


def call_notice(call: FundingCall, today: dt.date) -> str:
    status = call.status_on(today)
    if status is CallStatus.WITHDRAWN:
        return f"{call.id} was withdrawn by its funder: no project can apply to it."
    if status is CallStatus.CLOSED:
        passed = [d.date for d in call.deadlines if d.date < today]
        when = f" (last deadline {max(passed).isoformat()})" if passed else " by its funder"
        return f"{call.id} is closed{when}: no project can apply to it now."
    if status is CallStatus.FORTHCOMING and call.opening_date:
        return f"{call.id} is forthcoming: it opens {call.opening_date.isoformat()}."
    return ""
