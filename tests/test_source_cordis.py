"""CORDIS importer: participants of EU projects as organisations, from CSV or JSON exports."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from matcher import (
    EntityKind,
    InvalidRecord,
    InvalidRecords,
    NotFound,
    Organisation,
    OrgKind,
    Store,
    parse_organisation,
    to_record,
)
from matcher.sources import ImportReport, cordis, import_source
from service.cli import main

DATA = Path(__file__).parent / "data" / "sources" / "cordis"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "cordis.db") as opened:
        yield opened


def imported(store: Store, path: Path) -> dict[str, Organisation]:
    import_source(store, "cordis", path)
    return {
        e.id: e
        for e in store.entities(EntityKind.ORGANISATION)
        if isinstance(e, Organisation)  # the store gives entities of the asked kind
    }


def test_each_participant_becomes_one_organisation_with_a_document_per_project(
    store: Store,
) -> None:
    orgs = imported(store, DATA / "csv")
    assert len(orgs) == 9
    university = orgs["CORDIS:999000001"]
    assert university.name == "UNIVERSITETET I NORRHAVN"  # the latest row's legal name
    assert university.country == "SE" and university.website == "https://www.unor.example"
    titles = [d.title for d in university.profile]
    assert titles == [
        "EU project NORDICART (2021-2024), coordinator",
        "EU project STEMCART (2018-2021), participant",
    ]
    text = university.profile[0].text
    assert text.startswith("NORDICART: Next-generation CAR-T cells for relapsed B-cell lymphoma")
    assert "closed-system</b>" not in text and "closed-system manufacturing" in text
    assert "Göteborg" in text and "&nbsp;" not in text  # mojibake and entities repaired
    assert "UNIVERSITETET I NORRHAVN (UNOR) took part as coordinator" in text
    assert "2021-01-01 to 2024-12-31" in text and "HORIZON-RIA (HORIZON)" in text
    assert "EUR 2,100,000 of EUR 5,999,876 to the project" in text  # '2100000,5': decimal comma
    assert university.capabilities == () and university.modalities == ()


@pytest.mark.parametrize(
    ("oid", "kind", "country"),
    [
        ("999000001", OrgKind.ACADEMIC_GROUP, "SE"),  # HES
        ("999000002", OrgKind.HOSPITAL_UNIT, "SE"),  # PUB named ...SJUKHUS
        ("999000003", OrgKind.CDMO, "SE"),  # PRC named ...BIOMANUFACTURING
        ("999000004", OrgKind.BIOTECH, "DE"),  # PRC, SME
        ("999000005", OrgKind.ACADEMIC_GROUP, "GR"),  # REC, CORDIS's EL
        ("999000006", OrgKind.PHARMA, "GB"),  # PRC, not an SME, ...PHARMACEUTICALS; UK
        ("999000007", OrgKind.OTHER, "ES"),  # PUB, not a hospital
        ("999000008", OrgKind.CRO, "IT"),  # PRC named ...CONTRACT RESEARCH
        ("999000009", OrgKind.OTHER, "FR"),  # OTH
    ],
)
def test_kind_and_country_rules(store: Store, oid: str, kind: OrgKind, country: str) -> None:
    org = imported(store, DATA / "csv")[f"CORDIS:{oid}"]
    assert (org.kind, org.country) == (kind, country)


def test_notes_say_where_kind_and_country_come_from(store: Store) -> None:
    report = import_source(store, "cordis", DATA / "csv")
    notes = {o.entity_id: o.notes for o in report.outcomes}
    assert (
        "kind=hospital_unit from activityType PUB and the name ('SJUKHUS')"
        in notes["CORDIS:999000002"]
    )
    assert "country=GR from CORDIS's EL" in notes["CORDIS:999000005"]
    assert any(n.startswith("kind=pharma from activityType PRC, not an SME") for n in notes[
        "CORDIS:999000006"
    ])  # fmt: skip
    sources = {o.entity_id: o.source_id for o in report.outcomes}
    assert sources["CORDIS:999000003"] == "999000003"


def test_json_export_gives_the_same_organisations_as_csv(tmp_path: Path) -> None:
    with Store(tmp_path / "a.db") as a, Store(tmp_path / "b.db") as b:
        from_csv = imported(a, DATA / "csv")
        from_json = imported(b, DATA / "json" / "organization.json")  # a file: its folder
    assert from_csv == from_json


def test_every_item_is_a_valid_organisation_record() -> None:
    for item in cordis.read(DATA / "csv"):
        assert not isinstance(item, InvalidRecord)
        assert parse_organisation(to_record(item.entity)) == item.entity


def test_bad_rows_are_named_and_their_organisations_not_half_stored(store: Store) -> None:
    report = import_source(store, "cordis", DATA / "bad")
    invalid = [o.reason for o in report.outcomes if o.action == "invalid"]
    bad = DATA / "bad"
    assert (
        f"file {bad}/organization.csv, record line 8 (projectID 101000002 / organisationID ?), "
        "field 'organisationID': is required" in invalid
    )
    assert (
        f"file {bad}/organization.csv, record line 12 (projectID 890000003 / organisationID "
        "999000009), field 'country': 'XY' is not a country code" in invalid
    )
    assert any(
        r.startswith(
            f"file {bad}/project.csv, record line 4 (projectID 101000002 / organisationID "
            "999000003), field 'startDate': '2022-13-01' is not a date"
        )
        for r in invalid
    )
    assert any("'ecContribution': 'seven hundred' is not an amount" in r for r in invalid)
    stored = store.ids(EntityKind.ORGANISATION)
    assert stored == {"CORDIS:999000002", "CORDIS:999000006", "CORDIS:999000008"}
    # the university had one good row (NORDICART) and one bad (STEMCART): none of it is stored
    with pytest.raises(NotFound):
        store.get("CORDIS:999000001")


def test_strict_stores_nothing_when_a_row_is_bad(store: Store) -> None:
    with pytest.raises(InvalidRecords) as caught:
        import_source(store, "cordis", DATA / "bad", strict=True)
    assert len(caught.value.problems) == 7
    assert store.count(EntityKind.ORGANISATION) == 0


def test_a_second_import_changes_nothing(store: Store) -> None:
    first = import_source(store, "cordis", DATA / "csv")
    assert first.counts == {"added": 9}
    generation = store.generation()
    second = import_source(store, "cordis", DATA / "json")
    assert second.counts == {"unchanged": 9}
    assert store.generation() == generation


def test_a_folder_without_the_tables_is_refused(tmp_path: Path, store: Store) -> None:
    (tmp_path / "project.csv").write_text("id;acronym\n")
    with pytest.raises(InvalidRecord, match=r"no organization\.csv or organization\.json"):
        import_source(store, "cordis", tmp_path)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    monkeypatch.setenv("MATCHER_DB_PATH", str(tmp_path / "cli.db"))
    monkeypatch.setenv("MATCHER_MODELS_DIR", str(tmp_path / "models"))
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


def test_cli_import_with_report_then_strict(cli: Callable[..., Result], tmp_path: Path) -> None:
    report_file = tmp_path / "report.json"
    result = cli("import", "cordis", str(DATA / "csv"), "--report", str(report_file))
    assert result.exit_code == 0, result.output
    assert "cordis: 9 added, 0 updated, 0 unchanged, 0 skipped, 0 invalid" in result.output
    report = json.loads(report_file.read_text())
    assert report["counts"] == {"added": 9}
    by_id = {r["entity_id"]: r for r in report["records"]}
    assert by_id["CORDIS:999000006"]["record"] == "organisationID 999000006 (line 5)"
    again = cli("import", "cordis", str(DATA / "csv"))
    assert "0 added, 0 updated, 9 unchanged" in again.output
    strict = cli("import", "cordis", str(DATA / "bad"), "--strict")
    assert strict.exit_code == 1
    assert "7 bad records; with --strict nothing was stored." in strict.output
    loose = cli("import", "cordis", str(DATA / "bad"))
    assert loose.exit_code == 0 and "0 added, 0 updated, 3 unchanged" in loose.output


def write_generated(folder: Path, participations: int) -> None:
    """A CORDIS export of `participations` rows: five participants per project, drawn from a
    pool of organisations so that most take part in several projects."""
    folder.mkdir()
    projects = participations // 5
    with (folder / "project.csv").open("w", newline="") as handle:
        out = csv.writer(handle, delimiter=";", quoting=csv.QUOTE_ALL)
        out.writerow(["id", "acronym", "title", "startDate", "endDate", "fundingScheme",
                      "frameworkProgramme", "ecMaxContribution", "objective"])  # fmt: skip
        for p in range(projects):
            out.writerow([f"1{p:08d}", f"PRJ{p}", f"Cell therapy project {p}", "2021-01-01",
                          "2024-12-31", "HORIZON-RIA", "HORIZON", "2500000,5",
                          f"<p>Objective {p}: CAR-T manufacturing and AAV vectors.\n"
                          "A second line.</p>"])  # fmt: skip
    kinds = ["HES", "REC", "PRC", "PUB", "OTH"]
    with (folder / "organization.csv").open("w", newline="") as handle:
        out = csv.writer(handle, delimiter=";", quoting=csv.QUOTE_ALL)
        out.writerow(["projectID", "organisationID", "name", "shortName", "SME", "activityType",
                      "country", "role", "ecContribution", "contentUpdateDate"])  # fmt: skip
        for row in range(participations):
            org = (row * 7) % (participations // 4)
            out.writerow([f"1{row // 5:08d}", f"9{org:08d}", f"ORGANISATION {org}", f"O{org}",
                          "true", kinds[org % 5], ["SE", "EL", "UK", "DE"][org % 4],
                          "coordinator" if row % 5 == 0 else "participant", "500000,25",
                          "2024-01-01"])  # fmt: skip


def timed(store: Store, path: Path) -> tuple[ImportReport, float, list[int]]:
    seen: list[int] = []
    started = time.perf_counter()
    report = import_source(store, "cordis", path, progress=seen.append)
    return report, time.perf_counter() - started, seen


@pytest.mark.slow
def test_records_per_second_on_5000_participations(tmp_path: Path, store: Store) -> None:
    write_generated(tmp_path / "big", 5000)
    report, seconds, seen = timed(store, tmp_path / "big")
    rows = 5000 + 1000
    assert report.counts == {"added": 1250}
    assert seen[:2] == [100, 200] and seen[-1] == rows
    again, second_seconds, _ = timed(store, tmp_path / "big")
    assert again.counts == {"unchanged": 1250}
    print(
        f"\nCORDIS: {rows} rows (5000 participations) -> 1250 organisations: first import "
        f"{seconds:.2f} s ({rows / seconds:.0f} rows/s, {1250 / seconds:.0f} organisations/s), "
        f"second {second_seconds:.2f} s ({rows / second_seconds:.0f} rows/s)"
    )
