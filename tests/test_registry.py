"""Registry facts: normalised from the spellings real exports use, kept in records, and turned
into features (interventions, conditions, phase, recency, leading role) that agree in both
directions and leave with their document under the leave-one-out mask."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from matcher import (
    FEATURES,
    DocumentEncoder,
    EntityKind,
    InvalidRecord,
    Recommender,
    Store,
    Target,
    build_indexes,
    parse_organisation,
    parse_project,
    to_record,
)
from matcher import facts as registry
from tests.conftest import make_organisation, make_project


@pytest.mark.parametrize(
    ("raw", "phases"),
    [
        ("Phase 1", (1,)), ("PHASE1", (1,)), ("EARLY_PHASE1", (0,)), ("Early Phase 1", (0,)),
        ("Phase 1/Phase 2", (1, 2)), ("PHASE2|PHASE3", (2, 3)), ("Phase 2/3", (2, 3)),
        ("Phase II", (2,)), (["PHASE1", "PHASE2"], (1, 2)), ("NA", ()), ("N/A", ()),
        ("", ()), (None, ()), ("Not Applicable", ()),
    ],
)  # fmt: skip
def test_phases_from_every_registry_spelling(raw, phases):
    assert registry.phases(raw) == phases


def test_dates_with_or_without_a_day_and_lists_in_any_form():
    assert registry.date("2019-05-14") == dt.date(2019, 5, 14)
    assert registry.date("2019-05") == dt.date(2019, 5, 1)
    assert registry.date("May 2019") == dt.date(2019, 5, 1)
    assert registry.date("May 14, 2019") == dt.date(2019, 5, 14)
    assert registry.date("2019-13-01") is None and registry.date("soon") is None
    assert registry.names("GvHD| gvhd ;Crohn Disease") == ("GvHD", "Crohn Disease")
    assert registry.names([]) == () and registry.facts() is None


def test_facts_round_trip_in_records_and_bad_ones_name_the_field():
    record = make_organisation(documents=[{"title": "NCT1", "text": "A trial.", "facts": {
        "phases": "Phase 1/Phase 2", "start": "2019-05", "conditions": ["GvHD"],
        "interventions": ["MSC-FFM"], "role": "lead"}}])  # fmt: skip
    organisation = parse_organisation(record)
    facts = organisation.profile[0].facts
    assert facts is not None and facts.phases == (1, 2) and facts.start == dt.date(2019, 5, 1)
    assert parse_organisation(to_record(organisation)) == organisation
    bad = make_organisation(documents=[{"title": "t", "text": "x", "facts": {"start": "soon"}}])
    with pytest.raises(InvalidRecord, match=r"documents\[0\]\.facts\.start"):
        parse_organisation(bad)
    with pytest.raises(InvalidRecord, match=r"facts\.role"):
        parse_project(make_project(facts={"role": "boss"}))


GVHD = "Mesenchymal stromal cells for steroid-refractory acute graft-versus-host disease."


def trial(title: str, text: str, **facts: object) -> dict[str, object]:
    return {"title": title, "text": text, "facts": facts}


@pytest.fixture(scope="module")
def registered(tmp_path_factory, embedder):
    """Two sponsors with registered trials, and projects with and without facts of their own."""
    root = tmp_path_factory.mktemp("registry")
    organisations = [
        make_organisation(id="O-LEAD", name="Stromal Cell Sponsor", kind="biotech", documents=[
            trial("NCT1", GVHD, phases="PHASE2", start="2019-03", conditions=["GvHD"],
                  interventions=["MSC-FFM"], role="lead"),
            trial("NCT2", "Stromal cells for Crohn's fistulas.", phases="PHASE3",
                  start="2021-01", conditions=["Crohn Disease"],
                  interventions=["darvadstrocel"], role="lead"),
            trial("NCT3", "Cord blood cells in children with GvHD.", phases="PHASE1",
                  start="2015-06", conditions=["GvHD"], interventions=["cord blood MSC"],
                  role="collaborator"),
        ]),
        make_organisation(id="O-OTHER", name="Knee Clinic", kind="hospital_unit", documents=[
            trial("NCT4", "Adipose cells injected into osteoarthritic knees.", phases="PHASE1",
                  start="2012-01", conditions=["Osteoarthritis"],
                  interventions=["adipose stromal cells"], role="site"),
            trial("NCT5", "Cartilage repair with autologous chondrocytes.", start="2010-01",
                  conditions=["Cartilage defect"], interventions=["chondrocytes"]),
        ]),
    ]  # fmt: skip
    projects = [
        make_project(id="P-REG", title="MSC-FFM in acute GvHD", abstract=GVHD,
                     stage="phase_2_plus", indications=["GvHD"],
                     facts={"phases": [2], "start": "2020-01-01", "conditions": ["GvHD"],
                            "interventions": ["MSC-FFM"]}),
        make_project(id="P-TEXT", title="Stromal cells for GvHD", stage="phase_1",
                     abstract="We give MSC-FFM to children with graft-versus-host disease."),
    ]  # fmt: skip
    with Store(root / "matcher.db") as store:
        store.upsert([*map(parse_organisation, organisations), *map(parse_project, projects)])
        build_indexes(store, DocumentEncoder(embedder, store), root / "models", sentences=False)
    return root


def recommender_for(root, store, embedder):
    return Recommender.open(store, DocumentEncoder(embedder, store), root / "models")


def column(name: str) -> int:
    return FEATURES.index(name)


def test_registry_features_read_the_facts(registered, embedder):
    with Store(registered / "matcher.db") as store:
        r = recommender_for(registered, store, embedder)
        ids, rows = r.features_for("P-REG", Target.PARTNERS)
        lead, other = rows[ids.index("O-LEAD")], rows[ids.index("O-OTHER")]
        assert lead[column("intervention")] == pytest.approx(1.0)  # MSC-FFM, NCT1
        assert other[column("intervention")] < 0.5
        assert lead[column("condition")] == pytest.approx(1.0)
        assert lead[column("phase")] == pytest.approx(1 / 3)  # one of three phased trials
        assert other[column("phase")] == 0.0
        assert lead[column("recency")] > other[column("recency")] > 0
        assert lead[column("leading")] == pytest.approx(2 / 3)
        assert other[column("leading")] == 0.0
        # A project without facts of its own: its words and its stage stand in.
        ids, rows = r.features_for("P-TEXT", Target.PARTNERS)
        lead = rows[ids.index("O-LEAD")]
        assert lead[column("intervention")] > 0.5  # 'MSC-FFM' is in its text
        assert lead[column("phase")] == pytest.approx(1 / 3)  # phase_1 stage: NCT3


def test_forward_and_reverse_registry_features_agree(registered, embedder):
    with Store(registered / "matcher.db") as store:
        r = recommender_for(registered, store, embedder)
        organisations = r.collections[EntityKind.ORGANISATION]
        projects = r.collections[EntityKind.PROJECT]
        for position, organisation in enumerate(organisations.entities):
            reverse = organisations.features_against(position, projects)
            for row, project in enumerate(projects.entities):
                ids, forward = r.features_for(project.id, Target.PARTNERS)
                np.testing.assert_allclose(
                    reverse[row], forward[ids.index(organisation.id)], atol=1e-5,
                    err_msg=f"{project.id} x {organisation.id}",
                )  # fmt: skip


def test_a_left_out_document_takes_its_facts_with_it(registered, embedder):
    with Store(registered / "matcher.db") as store:
        r = recommender_for(registered, store, embedder)
        nct1 = next(d.rowid for d in store.documents(EntityKind.ORGANISATION) if d.title == "NCT1")
        ids, rows = r.features_for("P-REG", Target.PARTNERS, exclude_documents=[nct1])
        lead = rows[ids.index("O-LEAD")]
        assert lead[column("intervention")] == 0.0  # MSC-FFM was in NCT1 only
        assert lead[column("condition")] == pytest.approx(1.0)  # NCT3 is on GvHD too
        assert lead[column("phase")] == 0.0  # neither NCT2 (III) nor NCT3 (I) is phase II
        assert lead[column("leading")] == pytest.approx(1 / 2)


def test_reasons_name_the_facts_that_counted(registered, embedder):
    with Store(registered / "matcher.db") as store:
        r = recommender_for(registered, store, embedder)
        (lead,) = [m for m in r.partners_for("P-REG").matches if m.id == "O-LEAD"]
        assert lead.reasons is not None
        record = lead.reasons.track_record
        assert record == "took part in 2 trials with MSC-FFM in GvHD since 2015, 1 as lead"
        assert lead.reasons.summary.startswith("Took part in 2 trials with MSC-FFM in GvHD")
        # The reverse direction tells the same record.
        (back,) = [m for m in r.projects_for("O-LEAD").matches if m.id == "P-REG"]
        assert back.reasons is not None and back.reasons.track_record == record
        # Nothing registered that meets the project: nothing said.
        (knee,) = [m for m in r.partners_for("P-REG").matches if m.id == "O-OTHER"]
        assert knee.reasons is not None and knee.reasons.track_record == ""


def test_a_track_record_in_words():
    from matcher.domain import Facts
    from matcher.ranking.registry import RegistryIndex, query_side, track_record

    side = query_side(None, "MSC-FFM for acute GvHD", (2,), dt.date(2024, 1, 1))
    led = [
        Facts((2,), dt.date(2019, 3, 1), None, ("GvHD",), ("Biological: MSC-FFM",), "lead"),
        Facts((2,), dt.date(2021, 6, 1), None, ("Acute GvHD",), ("MSC-FFM",), "lead"),
        Facts((2,), dt.date(2022, 1, 1), None, ("GvHD",), ("MSC-FFM",), "lead"),
        Facts((1,), dt.date(2010, 1, 1), None, ("Crohn Disease",), ("infliximab",), "lead"),
    ]
    meets = [True, True, True, False]
    assert track_record(led, meets, side) == "ran 3 phase II trials with MSC-FFM in GvHD since 2019"
    assert track_record(led[3:], meets[3:], side) == ""
    assert track_record(led, meets, None) == ""
    # A document that shares only a generic word with a long text does not count.
    text = query_side(None, "A liver-directed AAV5 vector for haemophilia A", (), None)
    aav8 = [Facts((1,), dt.date(2022, 1, 1), None, ("Retinal Dystrophy",),
                  ("Genetic: HLX-201 (Subretinal AAV8 vector)",), "lead")]  # fmt: skip
    index = RegistryIndex(aav8)
    assert index.meets(text, [0]) == [False]
    assert track_record(aav8, index.meets(text, [0]), text) == ""
