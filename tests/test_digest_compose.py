"""The weekly digest's composition on a small world built for it, with the real model, store
and recommender: what each role gets, what counts as new, due dates, feedback, confidentiality,
erasure and stalled pipeline entries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from matcher import (
    CallStatus,
    DocumentEncoder,
    EntityKind,
    Feedback,
    FundingCall,
    Gate,
    PipelineStage,
    Principal,
    Recommender,
    Role,
    SentenceTransformerEmbedder,
    Store,
    clock,
    create_user,
    erase,
    ledger_path,
)
from matcher.digest import (
    Digest,
    Item,
    Section,
    SectionKey,
    SendState,
    Subscription,
    Threshold,
    Week,
    item_key,
    sections_for,
)
from matcher.digest.compose import Composer
from matcher.store.schema import digest_seen, entities, pipeline
from tests.conftest import (
    TODAY,
    build_world,
    copy_world,
    database_of,
    make_call,
    make_organisation,
    make_project,
    write_world,
)
from tests.postgres import Cluster

CANARY = "CANARY-DIGEST-5e1d0c"
RES, MATE, OTHER, BIZ, GUEST = "u.res", "u.mate", "u.other", "u.biz", "u.guest"
THIS_WEEK = Week.of(TODAY)  # 2026-W48; TODAY is its Wednesday
LONG_AGO = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def _day(days: int) -> str:
    return (TODAY + dt.timedelta(days=days)).isoformat()


def _cart(id: str, title: str, owner: str, **fields: object) -> dict[str, object]:
    return make_project(
        id=id,
        title=title,
        abstract=(
            f"{title}. An academic CAR-T cell product for relapsed B-cell lymphoma. We move "
            "manufacturing to a closed automated platform and need GMP CAR-T manufacturing, "
            "apheresis and clinical trial sites for a first-in-human study."
        ),
        modality="car_t",
        indications=["diffuse large B-cell lymphoma"],
        stage="gmp_process_development",
        needs=["gmp_manufacturing", "clinical_sites"],
        owner=owner,
        **fields,
    )


PROJECTS = [
    _cart("P-CART", "CD19 CAR-T cells made in a closed automated system", RES),
    _cart("P-CD22", "CD22 CAR-T cells for CD19-negative lymphoma relapse", RES),
    _cart("P-DUAL", "Bispecific CD19/CD20 CAR-T cells for mantle cell lymphoma", RES),
    make_project(id="P-AAV", owner=MATE, team=[RES]),  # AAV8 for retinal dystrophy
    _cart("P-MATE", "BCMA CAR-T cells for relapsed myeloma", MATE),
    _cart(
        "P-SECRET",
        f"Dual CAR-T {CANARY} against lymphoma",
        OTHER,
        visibility="confidential",
    ),
]

ORGANISATIONS = [
    make_organisation(
        id="O-CELL",
        name="Closed Cell Manufacturing",
        kind="cdmo",
        country="BE",
        capabilities=["cell_processing", "gmp_manufacturing"],
        documents=[
            {
                "title": "Capabilities",
                "text": "Closed automated GMP manufacturing of autologous CAR-T cells in grade B "
                "cleanrooms.",
            },
            {
                "title": "Past projects",
                "text": "Made CD19 CAR-T batches for academic lymphoma trials.",
            },
        ],
    ),
    make_organisation(
        id="O-HAEM",
        name="Haematology Trial Unit",
        kind="hospital_unit",
        country="NL",
        capabilities=["clinical_sites", "apheresis"],
        documents=[
            {
                "title": "Trials",
                "text": "Apheresis and phase I CAR-T cell trials in B-cell lymphoma and myeloma.",
            }
        ],
    ),
    make_organisation(
        id="O-APH",
        name="Nordic Apheresis Centre",
        kind="hospital_unit",
        country="SE",
        capabilities=["apheresis", "clinical_sites"],
        documents=[
            {
                "title": "Services",
                "text": "Leukapheresis for autologous CAR-T cell manufacturing and lymphoma "
                "trial patients.",
            }
        ],
    ),
    make_organisation(
        id="O-CRO",
        name="Cell Therapy Trials CRO",
        kind="cro",
        country="DE",
        capabilities=["cro_services"],
        documents=[
            {
                "title": "Services",
                "text": "Runs first-in-human CAR-T cell trials in lymphoma for academic sponsors.",
            }
        ],
    ),
    make_organisation(
        id="O-VEC",
        name="Vector Foundry",
        capabilities=["viral_vector_manufacturing", "gmp_manufacturing"],
        documents=[
            {
                "title": "Capabilities",
                "text": "GMP manufacturing of AAV vectors in suspension HEK293 cells at 50 to "
                "500 L for retinal gene therapy.",
            }
        ],
    ),
    make_organisation(
        id="O-EYE",
        name="University Eye Hospital Gene Therapy Unit",
        kind="hospital_unit",
        country="NL",
        capabilities=["clinical_sites"],
        documents=[
            {
                "title": "Facilities",
                "text": "Ophthalmology unit performing subretinal injections of AAV gene "
                "therapies in phase I/II trials for inherited retinal dystrophies.",
            }
        ],
    ),
]


def _cart_call(id: str, title: str, **fields: object) -> dict[str, object]:
    return make_call(
        id=id,
        title=title,
        funder="Example Cancer Fund",
        text=(
            f"{title}. Funds academic groups taking CAR-T cell therapies for B-cell lymphoma "
            "through GMP manufacturing into first-in-human clinical trials."
        ),
        **fields,
    )


CALLS = [
    _cart_call("C-D42", "CAR-T clinical trial support", deadlines=[{"date": _day(42)}]),
    _cart_call("C-D43", "Lymphoma cell therapy programme", deadlines=[{"date": _day(43)}]),
    _cart_call(
        "C-NEXT",
        "Cell therapy manufacturing awards",
        deadlines=[{"date": _day(-20), "label": "outline"}, {"date": _day(25)}],
    ),
    _cart_call(
        "C-OPENS",
        "Forthcoming CAR-T lymphoma call",
        opening_date=_day(20),
        deadlines=[{"date": _day(140)}],
    ),
    _cart_call(
        "C-LATER",
        "Forthcoming immune cell therapy call",
        opening_date=_day(60),
        deadlines=[{"date": _day(180)}],
    ),
    _cart_call("C-CLOSED", "Closed CAR-T lymphoma call", deadlines=[{"date": _day(-30)}]),
    _cart_call(
        "C-WITHDRAWN",
        "Withdrawn CAR-T lymphoma call",
        status="withdrawn",
        deadlines=[{"date": _day(15)}],
    ),
    _cart_call(
        "C-PHARMA",
        "CAR-T lymphoma call for companies",
        deadlines=[{"date": _day(12)}],
        eligibility={"applicant_kinds": ["pharma"]},
    ),
    make_call(id="C-EYE", deadlines=[{"date": _day(96)}]),  # rare eye diseases
]
NEVER = {"C-CLOSED", "C-WITHDRAWN", "C-PHARMA"}


@pytest.fixture(scope="session")
def built_digest_world(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Path:
    root = tmp_path_factory.mktemp("digest")
    return build_world(root, embedder, write_world(root / "data", PROJECTS, ORGANISATIONS, CALLS))


@pytest.fixture(scope="session")
def built_digest_world_pg(
    tmp_path_factory: pytest.TempPathFactory,
    embedder: SentenceTransformerEmbedder,
    postgres: Cluster,
) -> Path:
    root = tmp_path_factory.mktemp("digest-pg")
    data = write_world(root / "data", PROJECTS, ORGANISATIONS, CALLS)
    return build_world(root, embedder, data, postgres.create_database("digest_template"))


@pytest.fixture
def digest_world(
    built_digest_world: Path, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> Iterator[Path]:
    target = tmp_path / "digest"
    yield from copy_world(request, built_digest_world, "built_digest_world_pg", target, backend)


@pytest.fixture
def hub(digest_world: Path, embedder: SentenceTransformerEmbedder) -> Iterator[Gate]:
    """The world's gate as of TODAY, with one user per role."""
    with Store(database_of(digest_world)) as store:
        for username, role in [
            (RES, Role.RESEARCHER),
            (MATE, Role.RESEARCHER),
            (OTHER, Role.RESEARCHER),
            (BIZ, Role.BIZDEV),
        ]:
            create_user(store, username, role)
        create_user(store, GUEST, Role.GUEST, "O-HAEM")
        recommender = Recommender.open(
            store,
            DocumentEncoder(embedder, store),
            digest_world / "models",
            today=lambda: TODAY,
        )
        yield Gate(store, recommender)


PRINCIPALS = {
    RES: Principal(RES, Role.RESEARCHER),
    MATE: Principal(MATE, Role.RESEARCHER),
    OTHER: Principal(OTHER, Role.RESEARCHER),
    BIZ: Principal(BIZ, Role.BIZDEV),
    GUEST: Principal(GUEST, Role.GUEST, "O-HAEM"),
}
OWN = {RES: {"P-CART", "P-CD22", "P-DUAL", "P-AAV"}, MATE: {"P-AAV", "P-MATE"}}
"""The projects each researcher owns or is in the team of."""


def compose(
    gate: Gate,
    username: str,
    week: Week = THIS_WEEK,
    threshold: Threshold = Threshold.STRONG,
    sections: Iterable[SectionKey] = tuple(SectionKey),
    **given: Any,
) -> Digest:
    subscription = Subscription(True, frozenset(sections), threshold)
    return Composer(gate, week).compose(PRINCIPALS[username], subscription, **given)


def deliver(gate: Gate, username: str, digest: Digest) -> None:
    """What the sender does with a digest the mail server accepted."""
    user_id = gate.store.user(username).id
    week = str(digest.week)
    gate.store.set_send(
        user_id, week, SendState.SENDING, items=digest.keys, address="a@example.org", attempt=True
    )
    gate.store.set_send(user_id, week, SendState.SENT, message_id="<m@example.org>")


def keys_of(digest: Digest, *sections: SectionKey) -> set[str]:
    return {i.key for s in digest.sections if s.key in sections for i in s.items}


def section(digest: Digest, key: SectionKey) -> Section:
    [found] = [s for s in digest.sections if s.key is key]
    return found


def by_candidate(digest: Digest, key: SectionKey) -> dict[str, Item]:
    return {i.candidate_id or "": i for i in section(digest, key).items}


def pairs(digest: Digest) -> set[tuple[str, str]]:
    """Every project and candidate the digest puts together, as an item or as a fit."""
    found = {i.pair for i in digest.items if i.pair}
    found |= {
        (f.project_id, i.candidate_id) for i in digest.items for f in i.fits if i.candidate_id
    }
    return found


# ---------------------------------------------------------------------- sections by role


def test_each_role_has_its_sections():
    assert sections_for(Role.RESEARCHER) == (SectionKey.PARTNERS, SectionKey.CALLS, SectionKey.DUE)
    portfolio = (
        SectionKey.NEW,
        SectionKey.MATCHES,
        SectionKey.DUE,
        SectionKey.CHOKEPOINTS,
        SectionKey.PIPELINE,
    )
    assert sections_for(Role.BIZDEV) == sections_for(Role.ADMIN) == portfolio
    assert sections_for(Role.GUEST) == ()


def test_a_researchers_digest_holds_only_their_own_projects(hub):
    for username, own in OWN.items():
        digest = compose(hub, username, threshold=Threshold.GOOD)
        assert digest.role is Role.RESEARCHER and digest.username == username
        assert [s.key for s in digest.sections] == list(sections_for(Role.RESEARCHER))
        assert digest.project_ids <= own, username
        assert {i.project_id for i in digest.items} <= own
    # As owner and as team member; another's internal project, which they may read, is not in it.
    assert {"P-CART", "P-AAV"} <= compose(hub, RES).project_ids
    assert "P-MATE" not in compose(hub, RES).project_ids
    assert "P-MATE" in compose(hub, MATE).project_ids


def test_a_business_developers_digest_is_the_portfolio(hub):
    digest = compose(hub, BIZ, since=LONG_AGO)  # everything is new
    # No pipeline yet: that section is left out; the others come in their order.
    assert [s.key for s in digest.sections] == [
        SectionKey.NEW,
        SectionKey.MATCHES,
        SectionKey.DUE,
        SectionKey.CHOKEPOINTS,
    ]
    assert digest.project_ids == {p["id"] for p in PROJECTS}
    new = by_candidate(digest, SectionKey.NEW)
    assert {"O-CELL", "O-EYE"} <= set(new)
    assert [f.project_id for f in new["O-EYE"].fits] == ["P-AAV"]
    assert all(i.fits and i.score == i.fits[0].score for i in new.values())
    for item in section(digest, SectionKey.CHOKEPOINTS).items:
        assert item.project_id and item.reason.startswith("No strong partner or eligible call")


def test_a_guest_gets_no_digest(hub):
    digest = compose(hub, GUEST, threshold=Threshold.GOOD)
    assert digest.empty and digest.sections == () and digest.keys == ()


# ---------------------------------------------------------------------- items


@pytest.mark.parametrize("threshold", list(Threshold))
@pytest.mark.parametrize("username", [RES, BIZ])
def test_a_pair_item_names_both_sides_with_an_admitted_score_and_a_reason(hub, username, threshold):
    digest = compose(hub, username, threshold=threshold)
    paired = [
        i
        for s in digest.sections
        if s.key in (SectionKey.PARTNERS, SectionKey.CALLS, SectionKey.MATCHES)
        for i in s.items
    ]
    assert len(paired) >= 5
    for item in paired:
        assert item.pair == (item.project_id, item.candidate_id), item
        assert item.key == item_key(item.key.split("|")[0], item.project_id, item.candidate_id)
        assert item.score is not None and 0.0 <= item.score <= 1.0
        assert item.strength is not None and threshold.admits(item.strength), item
        assert item.reason.strip() and "\n" not in item.reason, item
        assert item.project_title and item.title
        assert item.path.endswith(f"/{item.candidate_id}")
    for item in digest.items:  # fits, too, are admitted
        assert all(threshold.admits(f.strength) for f in item.fits)
    if threshold is Threshold.STRONG:
        assert {i.strength for i in digest.items if i.strength} == {"strong"}


@pytest.mark.parametrize("username", [RES, MATE, BIZ])
def test_good_and_strong_matches_hold_every_strong_one(hub, username):
    strong = compose(hub, username, threshold=Threshold.STRONG)
    good = compose(hub, username, threshold=Threshold.GOOD)
    assert set(strong.keys) <= set(good.keys)
    for key in (SectionKey.PARTNERS, SectionKey.MATCHES, SectionKey.DUE):
        shown_strong = {
            (i.key, i.candidate_id) for s in strong.sections if s.key is key for i in s.items
        }
        shown_good = {
            (i.key, i.candidate_id) for s in good.sections if s.key is key for i in s.items
        }
        assert shown_strong <= shown_good, key


def test_a_full_section_keeps_the_strongest_and_counts_the_rest(hub):
    # u.res has four projects with more good or strong partners than a section shows.
    partners = section(compose(hub, RES, threshold=Threshold.GOOD), SectionKey.PARTNERS)
    assert len(partners.items) == 8 and partners.more >= 1
    strong = section(compose(hub, RES), SectionKey.PARTNERS)
    assert {i.key for i in strong.items} <= {i.key for i in partners.items}
    # A project's items stay together, its best first.
    projects = [i.project_id for i in partners.items]
    assert projects == sorted(projects, key=projects.index)
    for project in set(projects):
        scores = [i.score or 0.0 for i in partners.items if i.project_id == project]
        assert scores == sorted(scores, reverse=True)


def test_only_the_chosen_sections_are_there(hub):
    digest = compose(hub, RES, sections=[SectionKey.PARTNERS])
    assert [s.key for s in digest.sections] == [SectionKey.PARTNERS]
    assert all(i.candidate_kind is EntityKind.ORGANISATION for i in digest.items)
    digest = compose(hub, BIZ, sections=[SectionKey.DUE, SectionKey.PIPELINE])
    assert [s.key for s in digest.sections] == [SectionKey.DUE]  # no stalled entry: left out
    # Sections of another role give nothing; no section gives an empty digest.
    assert compose(hub, RES, sections=[SectionKey.NEW, SectionKey.MATCHES]).empty
    nothing = compose(hub, BIZ, sections=[])
    assert nothing.empty and nothing.sections == ()


def test_an_empty_section_is_left_out_and_a_digest_of_empty_sections_is_empty(hub):
    for username in (RES, MATE, OTHER, BIZ):
        digest = compose(hub, username, threshold=Threshold.GOOD)
        assert digest.sections and all(s.items for s in digest.sections)
        assert not digest.empty
    item = Item(key="gap|P-CART||clinical_sites", title="t", path="/projects/P-CART")
    made = Digest(RES, "", Role.RESEARCHER, THIS_WEEK, TODAY, Threshold.STRONG)
    assert made.empty and made.items == ()
    with_empty = replace(made, sections=(Section(SectionKey.PARTNERS, ()),))
    assert with_empty.empty
    with_item = replace(made, sections=(Section(SectionKey.CHOKEPOINTS, (item,)),))
    assert not with_item.empty and with_item.keys == (item.key,)
    assert with_item.project_ids == frozenset()  # the key is not an item's project


# ---------------------------------------------------------------------- new means not shown


@pytest.mark.both_databases
def test_what_a_delivered_digest_showed_is_not_shown_again_but_due_calls_are(hub):
    first = compose(hub, RES, threshold=Threshold.GOOD)
    user_id = hub.store.user(RES).id
    hub.store.set_send(user_id, str(THIS_WEEK), SendState.SENDING, items=first.keys)
    assert hub.store.seen(RES) == frozenset()  # not known to be delivered yet
    assert compose(hub, RES, threshold=Threshold.GOOD).keys == first.keys
    hub.store.set_send(user_id, str(THIS_WEEK), SendState.SENT, message_id="<1@example.org>")
    assert hub.store.seen(RES) == set(first.keys)

    later = compose(hub, RES, Week(2026, 49), threshold=Threshold.GOOD)
    assert later.today == dt.date(2026, 11, 30)  # the gate's today is not in that week
    shown = keys_of(first, SectionKey.PARTNERS, SectionKey.CALLS)
    assert shown and not keys_of(later, SectionKey.PARTNERS, SectionKey.CALLS) & shown
    # The partners not shown for want of room come now.
    assert keys_of(later, SectionKey.PARTNERS)
    # Due calls come back while they are due; a shown call that is now due is among them.
    due = by_candidate(later, SectionKey.DUE)
    assert {"C-NEXT", "C-D42", "C-OPENS"} <= set(due)
    assert due["C-D43"].key in shown and due["C-D43"].days_left == 38
    # Other readers' seen items are theirs.
    assert set(compose(hub, MATE).keys) & set(first.keys)


@pytest.mark.both_databases
def test_new_organisations_and_calls_are_those_stored_since_the_last_digest(hub):
    store = hub.store
    deliver(hub, BIZ, compose(hub, BIZ, Week(2026, 47), sections=[]))  # shows nothing
    assert store.last_delivered(BIZ) is not None
    assert SectionKey.NEW not in [s.key for s in compose(hub, BIZ).sections]
    later = clock.now() + dt.timedelta(minutes=5)
    with store.write() as db:
        db.execute(
            update(entities).where(entities.c.id.in_(["O-CRO", "C-EYE"])).values(stored_at=later)
        )
    new = by_candidate(compose(hub, BIZ), SectionKey.NEW)
    assert set(new) == {"O-CRO", "C-EYE"}
    assert new["O-CRO"].candidate_kind is EntityKind.ORGANISATION
    assert new["C-EYE"].candidate_kind is EntityKind.CALL
    assert [f.project_id for f in new["C-EYE"].fits] == ["P-AAV"]
    # Given explicitly: everything stored after that moment, nothing before.
    since_then = compose(hub, BIZ, since=later - dt.timedelta(seconds=1))
    assert set(by_candidate(since_then, SectionKey.NEW)) == {"O-CRO", "C-EYE"}
    everything = compose(hub, BIZ, since=LONG_AGO)
    assert len(by_candidate(everything, SectionKey.NEW)) == 8  # shown; the rest counted
    assert section(everything, SectionKey.NEW).more >= 1


# ---------------------------------------------------------------------- calls and due dates


def test_composer_today_is_today_in_its_week_else_the_weeks_monday(hub):
    assert Composer(hub, THIS_WEEK).today == TODAY
    assert Composer(hub, Week(2026, 49)).today == dt.date(2026, 11, 30)
    assert Composer(hub, Week(2026, 47)).today == dt.date(2026, 11, 16)


@pytest.mark.parametrize("username", [RES, OTHER, BIZ])
def test_only_open_or_forthcoming_eligible_calls_are_mentioned(hub, username):
    for threshold in Threshold:
        digest = compose(hub, username, threshold=threshold)
        calls = {i.candidate_id for i in digest.items if i.candidate_kind is EntityKind.CALL}
        assert calls and not calls & NEVER
        for id in calls:
            call = hub.store.get(id or "", EntityKind.CALL)
            assert isinstance(call, FundingCall)
            assert call.status_on(TODAY) in (CallStatus.OPEN, CallStatus.FORTHCOMING)


@pytest.mark.parametrize("username", [RES, BIZ])
def test_due_lists_deadlines_and_openings_within_six_weeks_with_the_days_left(hub, username):
    due = by_candidate(compose(hub, username), SectionKey.DUE)
    # C-NEXT's outline deadline passed: its next one counts.
    expected = {"C-OPENS": (None, 20), "C-NEXT": (_day(25), 25), "C-D42": (_day(42), 42)}
    assert {k: (i.deadline and i.deadline.isoformat(), i.days_left) for k, i in due.items()} == (
        expected
    )
    assert due["C-OPENS"].opening == dt.date.fromisoformat(_day(20))
    assert [i.candidate_id for i in section(compose(hub, username), SectionKey.DUE).items] == [
        "C-OPENS",
        "C-NEXT",
        "C-D42",
    ]  # soonest first
    assert all(i.fits for i in due.values())
    # A week on, counted from that week's Monday; the 43-day one is now due too.
    later = by_candidate(compose(hub, username, Week(2026, 49)), SectionKey.DUE)
    assert {k: i.days_left for k, i in later.items()} == {
        "C-OPENS": 15,
        "C-NEXT": 20,
        "C-D42": 37,
        "C-D43": 38,
    }


def test_a_call_due_later_is_a_new_call_with_its_deadline(hub):
    calls = [i for i in section(compose(hub, RES), SectionKey.CALLS).items]
    d43 = [i for i in calls if i.candidate_id == "C-D43"]
    assert d43 and all(i.days_left == 43 for i in d43)
    assert not {i.candidate_id for i in calls} & {"C-NEXT", "C-D42", "C-OPENS"}
    later = [i for i in calls if i.candidate_id == "C-LATER"]
    assert later and later[0].opening == dt.date.fromisoformat(_day(60))


# ---------------------------------------------------------------------- feedback


def test_a_dismissed_pair_never_comes_back_to_whoever_dismissed_it(hub):
    before = compose(hub, RES)
    assert {("P-AAV", "O-EYE"), ("P-CART", "C-NEXT")} <= pairs(before)
    view = hub.view(PRINCIPALS[RES])
    view.give_feedback("P-AAV", "O-EYE", Feedback.NOT_RELEVANT)
    view.give_feedback("P-CART", "C-NEXT", Feedback.ALREADY_KNOWN)
    view.give_feedback("P-CD22", "O-CELL", Feedback.RELEVANT)  # says nothing against it
    for week in (THIS_WEEK, Week(2026, 49)):
        for threshold in Threshold:
            after = pairs(compose(hub, RES, week, threshold=threshold))
            assert ("P-AAV", "O-EYE") not in after and ("P-CART", "C-NEXT") not in after
            assert ("P-CD22", "O-CELL") in after
    # The call is still due for the reader's other projects, and the pair is not others' loss.
    due = by_candidate(compose(hub, RES), SectionKey.DUE)
    assert {f.project_id for f in due["C-NEXT"].fits} == {"P-CD22", "P-DUAL"}
    assert ("P-AAV", "O-EYE") in pairs(compose(hub, MATE))
    assert ("P-AAV", "O-EYE") in pairs(compose(hub, BIZ))


# ---------------------------------------------------------------------- confidentiality


def test_a_confidential_project_goes_only_to_those_who_may_read_it(hub):
    for username in (RES, MATE):
        for threshold in Threshold:
            digest = compose(hub, username, threshold=threshold)
            assert CANARY not in repr(digest) and "P-SECRET" not in repr(digest), username
    for username in (OTHER, BIZ):  # the owner, and the business developer
        digest = compose(hub, username)
        assert "P-SECRET" in digest.project_ids
        named = {i.project_title for i in digest.items} | {
            f.project_title for i in digest.items for f in i.fits
        }
        assert any(CANARY in title for title in named)


# ---------------------------------------------------------------------- erasure


@pytest.mark.both_databases
def test_an_erased_project_leaves_every_later_digest_and_what_was_shown_of_it(
    hub, digest_world, embedder
):
    store = hub.store
    for username in (RES, BIZ):
        digest = compose(hub, username, threshold=Threshold.GOOD)
        assert "P-CART" in digest.project_ids
        deliver(hub, username, digest)
    assert any("|P-CART|" in k for k in store.seen(RES))
    assert _seen_rows(store, "P-CART") > 0

    encoder = DocumentEncoder(embedder, store)
    models = digest_world / "models"
    erase(store, encoder, models, "project", "P-CART", "dpo", ledger_path(digest_world / "m.db"))
    assert _seen_rows(store, "P-CART") == 0
    assert not any("|P-CART|" in k for k in store.seen(RES) | store.seen(BIZ))
    assert any("|P-CD22|" in k for k in store.seen(RES))  # the rest stays

    reopened = Gate(store, Recommender.open(store, encoder, models, today=lambda: TODAY))
    for gate in (hub, reopened):  # the running service's gate, and after a restart
        for username in (RES, BIZ):
            for week in (THIS_WEEK, Week(2026, 49)):
                digest = compose(gate, username, week, threshold=Threshold.GOOD, seen=frozenset())
                assert "P-CART" not in repr(digest), (username, week)
                assert not digest.empty


def _seen_rows(store: Store, project_id: str) -> int:
    with store.read() as db:
        return int(
            db.execute(
                select(func.count())
                .select_from(digest_seen)
                .where(digest_seen.c.key.like(f"%|{project_id}|%"))
            ).scalar_one()
        )


# ---------------------------------------------------------------------- stalled pipeline


@pytest.mark.both_databases
def test_a_pipeline_entry_with_no_move_for_four_weeks_is_stalled(hub):
    view = hub.view(PRINCIPALS[BIZ])
    stalled = view.shortlist("P-CART", "O-CELL")
    view.move(stalled.id, PipelineStage.CONTACTED, "sent the CDA")
    oldest = view.shortlist("P-AAV", "C-EYE")
    won = view.shortlist("P-CD22", "O-HAEM")
    view.move(won.id, PipelineStage.WON)
    dropped = view.shortlist("P-DUAL", "O-CRO")
    view.move(dropped.id, PipelineStage.DROPPED)
    recent = view.shortlist("P-AAV", "O-VEC")
    fresh = view.shortlist("P-MATE", "O-HAEM")
    moved = {stalled.id: 40, oldest.id: 28, won.id: 90, dropped.id: 90, recent.id: 27}
    with hub.store.write() as db:
        for entry_id, days in moved.items():
            at = dt.datetime.combine(TODAY - dt.timedelta(days=days), dt.time(9), dt.UTC)
            db.execute(update(pipeline).where(pipeline.c.id == entry_id).values(updated_at=at))

    digest = compose(hub, BIZ, sections=[SectionKey.PIPELINE])
    items = section(digest, SectionKey.PIPELINE).items
    # Sorted by their last move, the longest still first.
    assert [(i.project_id, i.candidate_id) for i in items] == [
        ("P-CART", "O-CELL"),
        ("P-AAV", "C-EYE"),
    ]
    found = {(i.project_id, i.candidate_id): i for i in items}
    assert set(found) == {("P-CART", "O-CELL"), ("P-AAV", "C-EYE")}
    assert fresh.id not in moved
    assert found[("P-CART", "O-CELL")].reason.endswith("no move for 40 days.")
    assert found[("P-CART", "O-CELL")].reason.startswith("Contacted since")
    assert found[("P-AAV", "C-EYE")].reason.endswith("no move for 28 days.")
    assert found[("P-CART", "O-CELL")].title == "Closed Cell Manufacturing"
    assert (
        found[("P-AAV", "C-EYE")].project_title
        == "AAV8 gene therapy for inherited retinal dystrophy"
    )
    # Researchers have no pipeline section; a delivered stalled entry is not repeated.
    assert SectionKey.PIPELINE not in [s.key for s in compose(hub, RES).sections]
    deliver(hub, BIZ, digest)
    # A week on, only the one that has now had no move for four weeks.
    later = compose(hub, BIZ, Week(2026, 49), sections=[SectionKey.PIPELINE]).items
    assert [(i.project_id, i.candidate_id) for i in later] == [("P-AAV", "O-VEC")]
    assert later[0].reason.endswith("no move for 32 days.")  # from Monday 2026-11-30


# ---------------------------------------------------------------------- weeks


def test_a_week_reads_and_writes_its_iso_name():
    assert Week.parse("2026-W50") == Week(2026, 50)
    assert Week.parse(" 2026-W05\n") == Week(2026, 5)
    assert str(Week(2026, 5)) == "2026-W05" and str(Week.parse("2026-W53")) == "2026-W53"
    assert Week.parse(str(Week(2027, 1))) == Week(2027, 1)
    assert Week(2026, 53) < Week(2027, 1)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2026",
        "2026-50",
        "2026-W5",
        "2026W50",
        "2026-w50",
        "W50-2026",
        "2026-W00",
        "2025-W53",
        "2026-W54",
        "20260-W10",
        "2026-W50-1",
    ],
)
def test_a_bad_week_says_what_is_expected(text):
    with pytest.raises(ValueError, match=r"is not an ISO week such as 2026-W50"):
        Week.parse(text)


def test_the_week_of_a_day_and_its_monday():
    assert Week.of(TODAY) == Week(2026, 48) and Week(2026, 48).monday == dt.date(2026, 11, 23)
    assert Week.of(dt.date(2026, 11, 29)) == Week(2026, 48)  # a Sunday
    assert Week.of(dt.date(2027, 1, 1)) == Week(2026, 53)  # ISO years start on a Monday
    assert Week(2026, 53).monday == dt.date(2026, 12, 28)
    assert Week(2026, 1).monday == dt.date(2025, 12, 29)
    for day in (dt.date(2026, 1, 1), TODAY, dt.date(2027, 1, 3)):
        assert Week.of(day).monday <= day < Week.of(day).monday + dt.timedelta(days=7)
