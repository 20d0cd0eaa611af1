"""EU Funding & Tenders importer: topics as funding calls, on invented fixtures in the export's
format and, when it is there, on the real 2026 export."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from matcher import (
    CallStatus,
    DocumentEncoder,
    EntityKind,
    FundingCall,
    InvalidRecord,
    InvalidRecords,
    OrgKind,
    Recommender,
    SentenceTransformerEmbedder,
    Stage,
    Store,
    build_indexes,
)
from matcher.ranking.eligibility import Outcome, assess
from matcher.sources import SourceItem, eu_ft, import_source
from service.cli import main

DATA = Path(__file__).parent / "data" / "sources" / "eu_ft"
TOPICS = DATA / "topics.jsonl"
REAL = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "raw"
    / "eu-ft-open-calls-2026"
    / "open_calls.jsonl.gz"
)
EXPORTED = dt.date(2026, 8, 12)
TODAY = dt.date(2099, 1, 15)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "eu_ft.db") as opened:
        yield opened


def calls(store: Store) -> dict[str, FundingCall]:
    return {e.id: e for e in store.entities(EntityKind.CALL) if isinstance(e, FundingCall)}


def items() -> dict[str, SourceItem]:
    return {i.source_id: i for i in eu_ft.read(TOPICS) if isinstance(i, SourceItem)}


def test_a_single_stage_topic_becomes_a_call_with_repaired_readable_text() -> None:
    item = items()["HORIZON-HLTH-2099-01-CELL-01"]
    call = item.entity
    assert isinstance(call, FundingCall)
    assert call.id == "EU-FT:HORIZON-HLTH-2099-01-CELL-01"
    assert (
        call.title
        == 'Scalable manufacturing of "off-the-shelf" CAR-T cells \u2013 Europe\'s next step'
    )
    assert call.funder == "European Commission"
    assert call.programme == "Horizon Europe (HORIZON-HLTH-2099-01)"
    assert [(d.date, d.label) for d in call.deadlines] == [(dt.date(2099, 4, 13), "")]
    assert call.status is CallStatus.FORTHCOMING and call.opening_date is None
    assert call.budget is not None and call.budget.per_project_max == 6_000_000
    assert call.budget.currency == "EUR" and call.budget.total is None
    assert call.url is not None and call.url.endswith("horizon-hlth-2099-01-cell-01")
    assert call.text.startswith("Expected Outcome: Hospitals make allogeneic CAR-T cells at scale.")
    assert 'Patients get "ready to use" products.' in call.text
    assert "vein-to-vein time & fewer failed batches" in call.text  # HTML list and entity
    for leftover in ("<", "â€", "[1]", "null", "\ufeff"):
        assert leftover not in call.text
    assert "Invented destination" in call.text  # the objectives follow the description
    assert "budget: EUR 4,000,000-6,000,000 per project, 3 grants expected" in item.notes


def test_rules_stated_in_the_text_are_derived_with_their_sentence() -> None:
    item = items()["HORIZON-HLTH-2099-01-CELL-01"]
    rules = item.entity.eligibility  # type: ignore[union-attr]
    assert rules.min_consortium == 3 and rules.countries == ()
    assert (rules.min_stage, rules.max_stage) == (Stage.PRECLINICAL, Stage.GMP_PROCESS_DEVELOPMENT)
    assert (
        'min_consortium=3 from "The consortium must include at least three independent legal '
        'entities, each established in a different Member State or Associated Country."'
    ) in item.notes
    assert any(n.startswith("min_stage=preclinical, max_stage=gmp_process_development (TRL 3-5)")
               for n in item.notes)  # fmt: skip


def test_two_stage_deadlines_industry_partner_and_the_annex_b_consortium() -> None:
    item = items()["HORIZON-HLTH-2099-02-VECTOR-01-two-stage"]
    call = item.entity
    assert isinstance(call, FundingCall)
    assert call.title == "AAV vector production for inherited retinal disease gene therapy"
    assert [(d.date.isoformat(), d.label) for d in call.deadlines] == [
        ("2099-02-02", "first stage"),
        ("2099-09-15", "second stage"),
    ]
    assert call.text == (
        "Expected Outcome: Vector yields rise tenfold.\n"
        "Scope: Proposals scale up AAV vector production with full and empty capsid analytics."
    )
    assert call.eligibility.industry_partner_required
    assert call.eligibility.min_consortium == 3
    assert any(
        n.startswith("min_consortium=3 (General Annex B default for HORIZON Research and "
                     'Innovation Actions) from "Eligible countries are described in Annex B')
        for n in item.notes
    )  # fmt: skip
    verdict = assess(call, Stage.PRECLINICAL, "SE")
    assert verdict.outcome is Outcome.CONDITIONAL


def test_multiple_cut_offs_an_opening_date_and_a_country_list() -> None:
    item = items()["NORDIC-2099-CUTOFF-01"]
    call = item.entity
    assert isinstance(call, FundingCall)
    assert [(d.date.isoformat(), d.label) for d in call.deadlines] == [
        ("2099-09-17", "cut-off 1"),
        ("2099-11-19", "cut-off 2"),
        ("2100-02-18", "cut-off 3"),
    ]
    assert call.opening_date == dt.date(2099, 5, 1) and call.budget is None
    assert call.status_on(TODAY) is CallStatus.FORTHCOMING
    assert call.eligibility.countries == ("DK", "FI", "NO")
    assert call.eligibility.min_consortium == 1
    assert assess(call, None, "SE").outcome is Outcome.INELIGIBLE
    assert 'countries=DK,FI,NO from "Only legal entities established in Denmark' in " ".join(
        item.notes
    )


def test_a_closed_topic_stays_closed_whatever_its_dates_and_sme_only_excludes_the_hub() -> None:
    call = items()["HORIZON-EIC-2099-SME-01"].entity
    assert isinstance(call, FundingCall)
    assert call.funder == "European Innovation Council"
    assert call.status_on(TODAY) is CallStatus.CLOSED
    assert call.eligibility.applicant_kinds == (OrgKind.BIOTECH, OrgKind.CDMO, OrgKind.CRO)
    assert assess(call, None, "SE").outcome is Outcome.INELIGIBLE


def test_an_id_with_slashes_and_a_topic_without_text_or_budget() -> None:
    item = items()["EuropeAid/999999/DD/ACT/XX"]
    call = item.entity
    assert isinstance(call, FundingCall)
    assert call.id == "EU-FT:EuropeAid-999999-DD-ACT-XX"
    assert call.text == call.title and call.budget is None and call.url is None
    assert call.eligibility.min_consortium == 1 and call.status is CallStatus.OPEN
    assert "holds characters an id may not" in item.notes[0]


def test_bad_records_name_the_file_the_record_and_the_field() -> None:
    problems = [i for i in eu_ft.read(TOPICS) if isinstance(i, InvalidRecord)]
    assert [(p.file, p.record, p.field) for p in problems] == [
        (str(TOPICS), "line 6 (topic HORIZON-HLTH-2099-03-BAD-01)", "deadline"),
        (str(TOPICS), "line 7", "topicId"),
    ]
    assert "'2099-13-45' is not a date" in problems[0].reason


def test_progress_every_hundred_records_and_gzip(tmp_path: Path) -> None:
    line = TOPICS.read_text().splitlines()[0]
    record = json.loads(line)
    path = tmp_path / "many.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as out:
        for n in range(250):
            out.write(json.dumps(record | {"topicId": f"T-{n}"}) + "\n")
    seen: list[int] = []
    read = list(eu_ft.read(path, seen.append))
    assert len(read) == 250 and seen == [100, 200]


def test_strict_stores_nothing_and_otherwise_the_valid_topics(store: Store) -> None:
    before = store.generation()
    with pytest.raises(InvalidRecords) as raised:
        import_source(store, "eu-ft", TOPICS, strict=True)
    assert [p.field for p in raised.value.problems] == ["deadline", "topicId"]
    assert calls(store) == {} and store.generation() == before
    report = import_source(store, "eu-ft", TOPICS)
    assert report.counts == {"added": 5, "invalid": 2}
    assert len(calls(store)) == 5


def test_a_second_import_changes_nothing_and_a_changed_topic_is_updated(
    store: Store, tmp_path: Path
) -> None:
    import_source(store, "eu-ft", TOPICS)
    generation = store.generation()
    again = import_source(store, "eu-ft", TOPICS)
    assert again.counts == {"unchanged": 5, "invalid": 2}
    assert store.generation() == generation
    lines = TOPICS.read_text().splitlines()
    first = json.loads(lines[0]) | {"callStatus": "closed", "deadline": "2099-04-14"}
    changed = tmp_path / "changed.jsonl"
    changed.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    report = import_source(store, "eu-ft", changed)
    assert report.counts == {"updated": 1, "unchanged": 4, "invalid": 2}
    call = calls(store)["EU-FT:HORIZON-HLTH-2099-01-CELL-01"]
    assert call.status is CallStatus.CLOSED and call.deadlines[0].date == dt.date(2099, 4, 14)
    assert store.generation() > generation


def test_cli_imports_and_writes_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATCHER_DB_PATH", str(tmp_path / "cli.db"))
    monkeypatch.setenv("MATCHER_MODELS_DIR", str(tmp_path / "models"))
    runner = CliRunner()
    strict = runner.invoke(main, ["import", "eu-ft", str(TOPICS), "--strict"])
    assert strict.exit_code != 0 and "with --strict nothing was stored" in strict.output
    report_path = tmp_path / "report.json"
    done = runner.invoke(main, ["import", "eu-ft", str(TOPICS), "--report", str(report_path)])
    assert done.exit_code == 0, done.output
    assert "eu-ft: 5 added, 0 updated, 0 unchanged, 0 skipped, 2 invalid" in done.output
    report: dict[str, Any] = json.loads(report_path.read_text())
    assert report["counts"] == {"added": 5, "invalid": 2}
    by_id = {r["source_id"]: r for r in report["records"]}
    assert any(n.startswith("min_consortium=3 from") for n in by_id[
        "HORIZON-HLTH-2099-01-CELL-01"]["notes"])  # fmt: skip
    invalid = [r["reason"] for r in report["records"] if r["action"] == "invalid"]
    assert any("line 6 (topic HORIZON-HLTH-2099-03-BAD-01), field 'deadline'" in r for r in invalid)
    again = runner.invoke(main, ["import", "eu-ft", str(TOPICS)])
    assert "0 added, 0 updated, 5 unchanged" in again.output


def real_export() -> Path:
    if not REAL.exists():
        pytest.skip(f"the EU Funding & Tenders export is not at {REAL}")
    return REAL


def test_the_real_export_imports_whole_with_plausible_dates(store: Store) -> None:
    path = real_export()
    report = import_source(store, "eu-ft", path)
    assert report.counts == {"added": 629}, [o.reason for o in report.outcomes if o.reason]
    stored = calls(store)
    assert len(stored) == 629
    closed = [c for c in stored.values() if c.status is CallStatus.CLOSED]
    assert len(closed) == 4 and all(c.status_on(EXPORTED) is CallStatus.CLOSED for c in closed)
    for call in stored.values():
        assert call.deadlines, call.id
        if call.status is not CallStatus.CLOSED:
            assert call.next_deadline(EXPORTED) is not None, call.id
            assert call.status_on(EXPORTED) is not CallStatus.CLOSED, call.id
        assert "â€" not in call.title + call.text and "<" not in call.title, call.id
    # The export gives no opening dates: the portal's "forthcoming" holds (262 topics).
    forthcoming = [c for c in stored.values() if c.status is CallStatus.FORTHCOMING]
    assert len(forthcoming) == 262
    assert all(c.status_on(EXPORTED) is CallStatus.FORTHCOMING for c in forthcoming)
    hlth = [c for c in stored.values() if c.id.startswith("EU-FT:HORIZON-HLTH")]
    assert len(hlth) == 19
    two_stage = stored["EU-FT:HORIZON-HLTH-2027-02-TOOL-01-two-stage"]
    assert [d.label for d in two_stage.deadlines] == ["first stage"]
    again = import_source(store, "eu-ft", path)
    assert again.counts == {"unchanged": 629}


@pytest.mark.slow
def test_health_topics_of_the_real_export_match_the_demo_projects(
    demo_world: Path, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    path = real_export()
    world = tmp_path / "world"
    shutil.copytree(demo_world, world)
    with Store(world / "matcher.db") as store:
        import_source(store, "eu-ft", path)
        # The documents only (as `matcher serve --load` builds): sentences for reasons are
        # embedded when a match is shown, and this test shows none.
        build_indexes(store, DocumentEncoder(embedder, store), world / "models", sentences=False)
        recommender = Recommender.open(
            store,
            DocumentEncoder(embedder, store),
            world / "models",
            hub_country="SE",
            today=lambda: EXPORTED,
        )
        projects = [p for p in store.entities(EntityKind.PROJECT)]
        found: dict[str, list[str]] = {}
        for project in projects:
            ranking = recommender.calls_for(project.id, k=10, explain=False)
            found[project.id] = [m.id for m in ranking.matches if m.id.startswith("EU-FT:")]
    assert sum(1 for ids in found.values() if ids) >= 1, found
    health = {i for ids in found.values() for i in ids if i.startswith("EU-FT:HORIZON-HLTH")}
    assert health, found
