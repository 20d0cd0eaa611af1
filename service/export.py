"""The CSV files the product writes, through one writer that keeps formulas out of spreadsheets.

A cell a spreadsheet would read as a formula (it starts with =, +, -, @, a tab or a carriage
return) is written with a leading apostrophe, as OWASP advises against CSV injection; the text
stays readable and nothing is evaluated when the file is opened.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from matcher import ExportRow, Match

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """The value as text, neutralised if a spreadsheet would take it for a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return buffer.getvalue()


EXPORT_COLUMNS = (
    "project_id", "project_title", "visibility", "modality", "stage", "owner",
    "match", "rank", "id", "name", "kind", "country", "funder", "score", "strength",
    "call_status", "next_deadline", "days_left", "eligibility", "eligibility_rules",
)  # fmt: skip
"""One row per match: a project's best partners, then its best calls."""


def export_rows(rows: Iterable[ExportRow]) -> Iterable[list[object]]:
    for row in rows:
        p = row.project
        lead = [p.id, p.title, p.visibility, p.modality, p.stage, p.owner or ""]
        for m in row.partners:
            yield [*lead, "partner", *_match(m), "", "", "", "", ""]
        for m in row.calls:
            deadline, verdict = row.call_facts[m.id]
            yield [
                *lead, "call", *_match(m), deadline.status, deadline.next_deadline or "",
                "" if deadline.days_left is None else deadline.days_left,
                verdict.outcome.value, verdict.rule,
            ]  # fmt: skip


def _match(m: Match) -> list[object]:
    return [
        m.rank, m.id, m.name, m.kind.value if m.kind else "", m.country or "", m.funder or "",
        f"{m.score:.3f}", m.strength.value,
    ]  # fmt: skip
