"""ClinicalTrials.gov importer: sponsors, collaborators and sites of studies as organisations."""

from __future__ import annotations

import copy
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
from matcher.sources import clean_text, ctgov, import_source
from service.cli import main

DATA = Path(__file__).parent / "data" / "sources" / "ctgov"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "ctgov.db") as opened:
        yield opened


def imported(store: Store, path: Path) -> dict[str, Organisation]:
    import_source(store, "ctgov", path)
    return {e.id: e for e in store.entities(EntityKind.ORGANISATION) if isinstance(e, Organisation)}


@pytest.mark.parametrize(
    ("id", "kind", "country"),
    [
        ("CTGOV:norrhavn-university-hospital", OrgKind.HOSPITAL_UNIT, "SE"),  # OTHER, 'Hospital'
        ("CTGOV:helixa-therapeutics-gmbh", OrgKind.BIOTECH, "ZZ"),  # INDUSTRY; sites SE, DE, US
        ("CTGOV:nordic-cancer-research-foundation", OrgKind.FUNDER, "SE"),  # OTHER, 'Foundation'
        ("CTGOV:national-eye-research-institute", OrgKind.FUNDER, "ZZ"),  # NIH
        ("CTGOV:britannia-pharmaceuticals-plc", OrgKind.PHARMA, "ZZ"),  # INDUSTRY, 'Pharma'
        ("CTGOV:vectorforge-contract-manufacturing-ab", OrgKind.CDMO, "ZZ"),
        ("CTGOV:trialpath-cro-ltd", OrgKind.CRO, "ZZ"),
        ("CTGOV:swedish-agency-for-advanced-therapies", OrgKind.FUNDER, "ZZ"),  # OTHER_GOV
        ("CTGOV:nordic-cell-therapy-network", OrgKind.OTHER, "ZZ"),  # NETWORK
        ("CTGOV:site:norrhavn-university-hospital-se", OrgKind.HOSPITAL_UNIT, "SE"),
        ("CTGOV:site:universitatsklinikum-nordstadt-de", OrgKind.HOSPITAL_UNIT, "DE"),
        ("CTGOV:site:hanbit-medical-center-kr", OrgKind.HOSPITAL_UNIT, "KR"),  # 'Korea, Rep...'
        ("CTGOV:site:st-elsewhere-medical-center-us", OrgKind.HOSPITAL_UNIT, "US"),
    ],
)
def test_kind_and_country_rules(store: Store, id: str, kind: OrgKind, country: str) -> None:
    org = imported(store, DATA / "studies")[id]
    assert (org.kind, org.country) == (kind, country)


def test_people_and_placeholder_sites_are_not_organisations(store: Store) -> None:
    orgs = imported(store, DATA / "studies")
    assert len(orgs) == 14
    names = " ".join(o.name for o in orgs.values())
    assert "Investigator Placeholder" not in names  # class INDIV: a person
    assert "Investigative Site" not in names  # 'Helixa Investigative Site'
    texts = " ".join(d.text for o in orgs.values() for d in o.profile)
    assert "Investigator Placeholder" not in texts and "an individual investigator" in texts


def test_an_organisation_in_several_studies_gets_a_document_for_each(store: Store) -> None:
    orgs = imported(store, DATA / "studies")
    helixa = orgs["CTGOV:helixa-therapeutics-gmbh"]
    assert [d.title for d in helixa.profile] == [
        "Trial NCT90000002 (phase 1, started 2022-09-15), lead sponsor",
        "Trial NCT90000001 (phase 1/2, started 2021-03), collaborator",
    ]
    site = orgs["CTGOV:site:norrhavn-university-hospital-se"]
    assert [d.title for d in site.profile] == [
        "Trial NCT90000003 (phase 2, started 2023-01-10), site",
        "Trial NCT90000001 (phase 1/2, started 2021-03), site",
    ]
    text = site.profile[1].text
    assert text.startswith("NRH-19 CAR-T Cells in Relapsed B-cell Lymphoma\nA Phase 1/2 Study")
    assert "safe & effective" in text and "<p>" not in text
    assert "Conditions: Diffuse Large B-cell Lymphoma; B-cell Lymphoma." in text
    assert "Interventions: Biological: NRH-19 (Autologous anti-CD19 CAR-T cells" in text
    assert "Phase 1/2, interventional, status completed, started 2021-03" in text
    assert "Lead sponsor: Norrhavn University Hospital. Collaborators: Helixa" in text
    assert "Norrhavn University Hospital, Norrhavn took part as site." in text


def test_notes_explain_kinds_and_countries(store: Store) -> None:
    report = import_source(store, "ctgov", DATA / "studies")
    notes = {o.entity_id: o.notes for o in report.outcomes}
    assert (
        "kind=hospital_unit from class OTHER and the name ('Hospital')"
        in notes["CTGOV:norrhavn-university-hospital"]
    )
    assert (
        "country=SE: every site of its studies is in SE"
        in notes["CTGOV:norrhavn-university-hospital"]
    )
    assert any(n.startswith("country=ZZ (unknown)") for n in notes[
        "CTGOV:helixa-therapeutics-gmbh"
    ])  # fmt: skip
    sources = {o.entity_id: o.source_id for o in report.outcomes}
    assert sources["CTGOV:site:hanbit-medical-center-kr"] == "site:hanbit-medical-center-kr"


def test_a_file_a_folder_and_json_lines_agree(tmp_path: Path) -> None:
    with Store(tmp_path / "a.db") as a, Store(tmp_path / "b.db") as b:
        from_folder = imported(a, DATA / "studies")
        from_lines = imported(b, DATA / "studies.jsonl")
    assert from_folder == from_lines
    with Store(tmp_path / "c.db") as c:
        single = imported(c, DATA / "studies" / "NCT90000001.json")
    assert set(single) == {
        "CTGOV:norrhavn-university-hospital",
        "CTGOV:helixa-therapeutics-gmbh",
        "CTGOV:nordic-cancer-research-foundation",
        "CTGOV:site:norrhavn-university-hospital-se",
        "CTGOV:site:sjostad-universitetssjukhus-se",
    }
    assert single["CTGOV:helixa-therapeutics-gmbh"].country == "SE"  # its one study is in SE


def test_an_api_page_of_studies_is_read(tmp_path: Path) -> None:
    studies = [json.loads(line) for line in (DATA / "studies.jsonl").read_text().splitlines()]
    page = tmp_path / "page.json"
    page.write_text(json.dumps({"studies": studies, "nextPageToken": "abc"}))
    items = [i for i in ctgov.read(page) if not isinstance(i, InvalidRecord)]
    assert len(items) == 14


def test_every_item_is_a_valid_organisation_record() -> None:
    for item in ctgov.read(DATA / "studies"):
        assert not isinstance(item, InvalidRecord)
        assert parse_organisation(to_record(item.entity)) == item.entity


def test_bad_studies_are_named_and_not_half_stored(store: Store) -> None:
    report = import_source(store, "ctgov", DATA / "bad.jsonl")
    invalid = [o.reason for o in report.outcomes if o.action == "invalid"]
    bad = DATA / "bad.jsonl"
    assert invalid == [
        f"file {bad}, record study NCT90000012 (line 2), field "
        "'protocolSection.statusModule.startDateStruct.date': '2021-14' is not a date "
        "(YYYY-MM or YYYY-MM-DD)",
        f"file {bad}, record line 3, field 'protocolSection.identificationModule.nctId': is "
        "required",
        f"file {bad}, record line 4: is not JSON: Expecting property name enclosed in double "
        "quotes: line 1 column 22 (char 21)",
        f"file {bad}, record study NCT90000013 (line 5), field "
        "'protocolSection.contactsLocationsModule.locations[0].country': 'Atlantis' is not a "
        "country we know",
        f"file {bad}, record study NCT90000014 (line 6), field "
        "'protocolSection.sponsorCollaboratorsModule.collaborators[0].class': 'BOGUS' is not "
        "one of INDUSTRY, NIH, FED, OTHER_GOV, INDIV, NETWORK, OTHER, UNKNOWN",
    ]
    assert store.ids(EntityKind.ORGANISATION) == {
        "CTGOV:solna-gene-medicine-ab",
        "CTGOV:site:solna-childrens-hospital-se",
    }
    sponsor = store.get("CTGOV:solna-gene-medicine-ab")
    assert isinstance(sponsor, Organisation)
    assert [d.title for d in sponsor.profile] == [  # not NCT90000014's, which was bad
        "Trial NCT90000011 (phase 1, started 2024-02), lead sponsor"
    ]
    with pytest.raises(NotFound):
        store.get("CTGOV:ghost-bio-inc")


def test_strict_stores_nothing_when_a_study_is_bad(store: Store) -> None:
    with pytest.raises(InvalidRecords) as caught:
        import_source(store, "ctgov", DATA / "bad.jsonl", strict=True)
    assert len(caught.value.problems) == 5
    assert store.count(EntityKind.ORGANISATION) == 0


def test_a_second_import_changes_nothing(store: Store) -> None:
    assert import_source(store, "ctgov", DATA / "studies").counts == {"added": 14}
    generation = store.generation()
    assert import_source(store, "ctgov", DATA / "studies.jsonl").counts == {"unchanged": 14}
    assert store.generation() == generation


def test_an_empty_folder_is_refused(tmp_path: Path, store: Store) -> None:
    with pytest.raises(InvalidRecord, match=r"no \.json or \.jsonl files here"):
        import_source(store, "ctgov", tmp_path)


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
    result = cli("import", "ctgov", str(DATA / "studies.jsonl"), "--report", str(report_file))
    assert result.exit_code == 0, result.output
    assert "ctgov: 14 added, 0 updated, 0 unchanged, 0 skipped, 0 invalid" in result.output
    report = json.loads(report_file.read_text())
    by_id = {r["entity_id"]: r for r in report["records"]}
    assert by_id["CTGOV:helixa-therapeutics-gmbh"]["record"] == (
        "study NCT90000002 (line 2) and 1 more"
    )
    assert "kind=biotech from class INDUSTRY" in by_id["CTGOV:helixa-therapeutics-gmbh"]["notes"]
    assert "14 unchanged" in cli("import", "ctgov", str(DATA / "studies")).output
    strict = cli("import", "ctgov", str(DATA / "bad.jsonl"), "--strict")
    assert strict.exit_code == 1
    assert "5 bad records; with --strict nothing was stored." in strict.output
    loose = cli("import", "ctgov", str(DATA / "bad.jsonl"), "--report", str(report_file))
    assert loose.exit_code == 0 and "2 added, 0 updated, 0 unchanged, 0 skipped, 5 invalid" in (
        loose.output
    )


def write_generated(path: Path, count: int) -> None:
    """`count` studies as JSON lines: 200 sponsors and 300 sites, each in several studies."""
    template = json.loads((DATA / "studies" / "NCT90000003.json").read_text())
    with path.open("w") as out:
        for n in range(count):
            study = copy.deepcopy(template)
            section = study["protocolSection"]
            section["identificationModule"]["nctId"] = f"NCT9{n:07d}"
            section["identificationModule"]["briefTitle"] = f"Generated cell therapy study {n}"
            section["sponsorCollaboratorsModule"]["leadSponsor"]["name"] = f"Sponsor {n % 200}"
            section["contactsLocationsModule"]["locations"] = [
                {"facility": f"Hospital {(n + k) % 300}", "city": "Norrhavn", "country": "Sweden"}
                for k in range(3)
            ]
            out.write(json.dumps(study) + "\n")


@pytest.mark.slow
def test_records_per_second_on_2000_studies(tmp_path: Path, store: Store) -> None:
    write_generated(tmp_path / "big.jsonl", 2000)
    seen: list[int] = []
    started = time.perf_counter()
    report = import_source(store, "ctgov", tmp_path / "big.jsonl", progress=seen.append)
    seconds = time.perf_counter() - started
    organisations = len(report.outcomes)
    assert report.counts == {"added": organisations} and organisations == 200 + 4 + 300
    assert seen[:2] == [100, 200] and seen[-1] == 2000
    started = time.perf_counter()
    again = import_source(store, "ctgov", tmp_path / "big.jsonl")
    second = time.perf_counter() - started
    assert again.counts == {"unchanged": organisations}
    print(
        f"\nCT.gov: 2000 studies -> {organisations} organisations: first import {seconds:.2f} s "
        f"({2000 / seconds:.0f} studies/s, {organisations / seconds:.0f} organisations/s), "
        f"second {second:.2f} s ({2000 / second:.0f} studies/s)"
    )


@pytest.mark.parametrize(
    "raw",
    [
        "a  b\n\n  c d ",
        "x &amp; y",
        "<p>x</p><p>y</p>",
        "GÃ¶teborg",
        "tab\there\r\nline",
        "50% done!",
    ],
)
def test_the_fast_cleaning_of_plain_ascii_agrees_with_clean_text(raw: str) -> None:
    assert ctgov.clean_text(raw) == clean_text(raw)
