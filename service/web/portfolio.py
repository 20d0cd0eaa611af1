"""The portfolio and the pipeline pages: every project at a glance with its chokepoints (the needs
no strong candidate covers), and the shortlisted matches by stage, moved with a form.

Business developers and admins see the portfolio (View.portfolio refuses the other roles);
the pipeline shows each user the entries View.pipeline lets them see, and only roles that may
move entries get the forms. The CSV goes through service/export.py's writer."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from matcher import (
    Action,
    Match,
    Modality,
    Need,
    NotFound,
    PipelineEntry,
    PipelineEvent,
    PipelineStage,
    PortfolioRow,
    Principal,
    Stage,
    Strength,
    View,
    Visibility,
)

from ..export import write_csv
from .render import page
from .routes import PAGES
from .security import PageView, check_csrf

router = APIRouter(tags=[PAGES], include_in_schema=False)

PAGE_SIZE = 50
"""Rows per page of the portfolio."""


class SortKey(StrEnum):
    TITLE = "title"
    STAGE = "stage"
    PARTNER = "partner"
    CALL = "call"
    GAPS = "gaps"


class Order(StrEnum):
    ASC = "asc"
    DESC = "desc"


NATURAL_ORDER = {
    SortKey.TITLE: Order.ASC,
    SortKey.STAGE: Order.ASC,
    SortKey.PARTNER: Order.DESC,
    SortKey.CALL: Order.DESC,
    SortKey.GAPS: Order.DESC,
}
"""Each column's first order: scores and gaps largest first."""

SORT_NAMES = {
    SortKey.TITLE: "title",
    SortKey.STAGE: "stage",
    SortKey.PARTNER: "best partner's score",
    SortKey.CALL: "best call's score",
    SortKey.GAPS: "number of gaps",
}


def private(request: Request, template: str, principal: Principal, **context: Any) -> HTMLResponse:
    """A page of project data: kept out of every cache, as the API's signed-in responses are."""
    response = page(request, template, principal, **context)
    response.headers["Cache-Control"] = "no-store"
    return response


@dataclass(frozen=True)
class Cell:
    """One need of one project in the chokepoint picture."""

    need: Need
    state: Literal["covered", "partly", "gap", "unknown", "blank"]
    best: Match | None = None

    @property
    def css(self) -> str:
        return {"covered": "strong", "partly": "good", "gap": "weak"}.get(self.state, self.state)


def cells(row: PortfolioRow) -> list[Cell]:
    """The project's row of the chokepoint picture: one cell per Need, in Need's order."""
    covers = {c.need: c for c in row.covers}
    found = []
    for need in Need:
        cover = covers.get(need)
        if cover is None:
            found.append(Cell(need, "blank"))
        elif not row.indexed:
            found.append(Cell(need, "unknown"))
        elif cover.level is Strength.STRONG:
            found.append(Cell(need, "covered", cover.best))
        elif cover.level is Strength.GOOD:
            found.append(Cell(need, "partly", cover.best))
        else:
            found.append(Cell(need, "gap", cover.best))
    return found


@dataclass(frozen=True)
class Filters:
    """The portfolio's filters, as the query string gives them ("" for any)."""

    modality: Modality | Literal[""] = ""
    stage: Stage | Literal[""] = ""
    need: Need | Literal[""] = ""
    owner: str = ""
    visibility: Visibility | Literal[""] = ""

    def keep(self, row: PortfolioRow) -> bool:
        p = row.project
        return (
            (not self.modality or p.modality is self.modality)
            and (not self.stage or p.stage is self.stage)
            and (not self.need or self.need in (p.needs or ()))
            and (not self.owner or p.owner == self.owner)
            and (not self.visibility or p.visibility is self.visibility)
        )

    def params(self) -> dict[str, str]:
        return {k: str(v) for k, v in vars(self).items() if v}


@dataclass(frozen=True)
class SummaryCell:
    modality: Modality
    stage: Stage
    projects: int
    with_gaps: int


def summary(rows: Sequence[PortfolioRow]) -> list[tuple[Modality, list[SummaryCell]]]:
    """Modality x stage: how many projects, and how many of them have at least one gap (ranked
    projects only: one not indexed yet has no candidates to judge)."""
    table = []
    for modality in Modality:
        mine = [r for r in rows if r.project.modality is modality]
        if not mine:
            continue
        line = []
        for stage in Stage:
            here = [r for r in mine if r.project.stage is stage]
            gapped = sum(1 for r in here if r.indexed and r.gaps)
            line.append(SummaryCell(modality, stage, len(here), gapped))
        table.append((modality, line))
    return table


def ordered(rows: Iterable[PortfolioRow], key: SortKey, order: Order) -> list[PortfolioRow]:
    """Rows sorted by the column; rows without a value (no match, not indexed) come last
    whichever the order, then by title."""

    def value(row: PortfolioRow) -> Any:
        match key:
            case SortKey.TITLE:
                return row.project.title.casefold()
            case SortKey.STAGE:
                return row.project.stage.order
            case SortKey.PARTNER:
                return row.best_partner.score if row.best_partner else None
            case SortKey.CALL:
                return row.best_call.score if row.best_call else None
            case SortKey.GAPS:
                return len(row.gaps) if row.indexed else None

    by_title = sorted(rows, key=lambda r: (r.project.title.casefold(), r.project.id))
    present = [r for r in by_title if value(r) is not None]
    missing = [r for r in by_title if value(r) is None]
    present.sort(key=value, reverse=order is Order.DESC)
    return present + missing


@router.get("/portfolio")
def portfolio(
    request: Request,
    view: PageView,
    modality: Annotated[Modality | Literal[""], Query()] = "",
    stage: Annotated[Stage | Literal[""], Query()] = "",
    need: Annotated[Need | Literal[""], Query()] = "",
    owner: Annotated[str, Query(max_length=128)] = "",
    visibility: Annotated[Visibility | Literal[""], Query()] = "",
    sort: SortKey = SortKey.TITLE,
    order: Annotated[Order | Literal[""], Query()] = "",
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """Every project with its best partner and call, its chokepoints and its pipeline status
    (business developers and admins)."""
    everything = view.portfolio()
    filters = Filters(modality, stage, need, owner, visibility)
    direction = order or NATURAL_ORDER[sort]
    rows = ordered((r for r in everything if filters.keep(r)), sort, direction)
    pages = max(1, math.ceil(len(rows) / PAGE_SIZE))
    number = min(page_number, pages)
    start = (number - 1) * PAGE_SIZE
    shown = rows[start : start + PAGE_SIZE]
    base = {**filters.params(), "sort": sort.value, "order": direction.value}

    def href(**changes: str | int) -> str:
        """This page's address with some parameters changed (defaults left out)."""
        params = {**base, **{k: str(v) for k, v in changes.items()}}
        if params.get("sort") == SortKey.TITLE and params.get("order") == Order.ASC:
            params.pop("sort")
            params.pop("order")
        if params.get("page") == "1":
            params.pop("page")
        return "/portfolio" + (f"?{urlencode(params)}" if params else "")

    def sort_href(key: SortKey) -> str:
        flipped = Order.ASC if direction is Order.DESC else Order.DESC
        return href(sort=key.value, order=(flipped if key is sort else NATURAL_ORDER[key]).value)

    return private(
        request,
        "portfolio.html",
        view.principal,
        rows=[(row, cells(row)) for row in shown],
        total=len(rows),
        everything=len(everything),
        first=start + 1 if shown else 0,
        last=start + len(shown),
        page_number=number,
        pages=pages,
        filters=filters,
        filtered=bool(filters.params()),
        sort=sort,
        order=direction,
        order_param=order,
        sort_name=SORT_NAMES[sort],
        sort_keys=list(SortKey),
        sort_names=SORT_NAMES,
        summary=summary(rows),
        unranked=any(not r.indexed for r in shown),
        needs=list(Need),
        modalities=list(Modality),
        stages=list(Stage),
        visibilities=list(Visibility),
        owners=sorted({r.project.owner for r in everything if r.project.owner}),
        href=href,
        sort_href=sort_href,
    )


# ---------------------------------------------------------------------- the pipeline


@dataclass(frozen=True)
class Card:
    """A pipeline entry with the names a reader needs."""

    entry: PipelineEntry
    project_title: str
    candidate_name: str
    candidate_href: str

    @property
    def last_note(self) -> PipelineEvent | None:
        """The latest move that came with a note."""
        return next((e for e in reversed(self.entry.history) if e.note), None)

    def csv_row(self) -> list[object]:
        """The entry as PIPELINE_COLUMNS lists it."""
        e, note = self.entry, self.last_note
        return [
            e.project_id, self.project_title, e.candidate_id, self.candidate_name,
            e.candidate_kind, e.stage.value, e.created_by, e.created_at.isoformat(),
            e.updated_at.isoformat(), note.note if note else "",
        ]  # fmt: skip


def cards(view: View, entries: Sequence[PipelineEntry]) -> list[Card]:
    """Entries with their project's title and their candidate's name, each looked up once
    through the view (so a confidential project's read is audited)."""
    titles: dict[str, str] = {}
    names: dict[str, str] = {}
    found = []
    for entry in entries:
        if entry.project_id not in titles:
            titles[entry.project_id] = view.project(entry.project_id).title
        if entry.candidate_id not in names:
            names[entry.candidate_id] = _candidate_name(view, entry)
        found.append(
            Card(
                entry,
                titles[entry.project_id],
                names[entry.candidate_id],
                f"/{'calls' if entry.candidate_kind == 'call' else 'organisations'}/"
                f"{entry.candidate_id}",
            )
        )
    return found


def _candidate_name(view: View, entry: PipelineEntry) -> str:
    try:
        if entry.candidate_kind == "call":
            return view.call(entry.candidate_id).call.title
        return view.organisation(entry.candidate_id).name
    except NotFound:  # View.pipeline shows visible candidates only; never fail the page on it
        return entry.candidate_id


def may_move(view: View) -> bool:
    return view.principal.may(Action.PIPELINE)


@router.get("/pipeline")
def pipeline(
    request: Request,
    view: PageView,
    project: Annotated[str, Query(max_length=128)] = "",
) -> HTMLResponse:
    """Every shortlisted match the user may see, grouped by stage, dropped last."""
    found = cards(view, view.pipeline(project or None))
    groups = [(s, [c for c in found if c.entry.stage is s]) for s in PipelineStage]
    return private(
        request,
        "pipeline.html",
        view.principal,
        groups=groups,
        count=len(found),
        project=project,
        project_title=view.project(project).title if project else "",
        may_move=may_move(view),
        may_export=view.principal.may(Action.EXPORT),
        stages=list(PipelineStage),
    )


@router.post("/pipeline/{entry_id}/moves", dependencies=[Depends(check_csrf)])
def move(
    request: Request,
    view: PageView,
    entry_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    stage: Annotated[PipelineStage, Form()],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Move an entry to a stage with a note; back to the pipeline, or for htmx the entry alone."""
    entry = view.move(entry_id, stage, note)
    if request.headers.get("HX-Request") == "true":
        return private(
            request,
            "_portfolio_entry.html",
            view.principal,
            card=cards(view, [entry])[0],
            may_move=may_move(view),
            stages=list(PipelineStage),
            moved=True,
        )
    return RedirectResponse(f"/pipeline#entry-{entry_id}", status_code=303)


PIPELINE_COLUMNS = (
    "project_id", "project_title", "candidate_id", "candidate_name", "kind", "stage",
    "shortlisted_by", "shortlisted_at", "last_moved_at", "last_note",
)  # fmt: skip


@router.get("/pipeline.csv")
def pipeline_csv(view: PageView) -> Response:
    """The pipeline as CSV (roles that may export), formulas kept out of spreadsheets."""
    view.require(Action.EXPORT)
    rows = [c.csv_row() for c in cards(view, view.pipeline())]
    return Response(
        write_csv(PIPELINE_COLUMNS, rows),
        media_type="text/csv",
        headers={
            "Content-Disposition": 'attachment; filename="pipeline.csv"',
            "Cache-Control": "no-store",
        },
    )
