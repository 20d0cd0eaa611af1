"""The portfolio and pipeline pages (service/web/portfolio.py), through a TestClient signed in
with the web form: what each role sees, the chokepoint picture, filters, sorting and paging,
moves by form and by htmx, CSRF, and the pipeline CSV."""

from __future__ import annotations

import csv
import io
import itertools
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from matcher import Feedback, Need, PipelineStage, Store, parse_project, set_password
from service.app import create_app
from service.web.render import label
from tests.conftest import (
    ACCESS_PROJECTS,
    CANARY_OTHER,
    CANARY_OWN,
    DEMO_TODAY,
    PRINCIPALS,
    access_settings,
    add_principals,
    make_project,
    world_settings,
)

PASSWORD = "a long enough secret"
DASH = "\N{EN DASH}"
USERS = {role: username for role, (username, _, _) in PRINCIPALS.items()}


def sign_in(client: TestClient, username: str) -> None:
    """Sign the client in through the sign-in form, as a browser does."""
    form = client.get("/signin")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token, form.text
    signed = client.post(
        "/signin",
        data={"username": username, "password": PASSWORD, "csrf": token[1], "next": "/"},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found[1]


def row_ids(html: str) -> list[str]:
    """The project ids of the projects table, in order."""
    table = html[html.index('<table class="projects">') :]
    return re.findall(r'<td class="title"><a href="/projects/([^"]+)">', table)


def matrix_ids(html: str) -> list[str]:
    table = html[html.index('<table class="matrix">') : html.index('<table class="summary">')]
    return re.findall(r'<th scope="row" class="who"><a href="/projects/([^"]+)"', table)


@pytest.fixture
def site(access_world: Path, embedder: Any) -> Iterator[tuple[Any, Path | str]]:
    """The access world served, with a password for every principal; `open_as(role)` gives a
    client of the running app signed in as that role (None: not signed in). The server does not
    look for fresh indexes meanwhile, so projects stored by a test stay unindexed."""
    settings = access_settings(access_world, follow_seconds=3600)
    add_principals(settings.database)
    with Store(settings.database) as store:
        for username in USERS.values():
            set_password(store, username, PASSWORD)
    app = create_app(settings, embedder)

    def open_as(role: str | None) -> TestClient:
        client = TestClient(app)  # the running app's state; a cookie jar of its own
        if role:
            sign_in(client, USERS[role])
        return client

    with TestClient(app):  # runs the lifespan once
        yield open_as, settings.database


def add_projects(database: Path | str, records: list[dict[str, Any]]) -> None:
    """Store projects after the indexes were built: they are listed, not ranked."""
    with Store(database) as store:
        store.upsert([parse_project(r) for r in records])


def shortlist(database: Path | str, project: str, candidate: str, note: str = "") -> int:
    with Store(database) as store:
        return store.shortlist(project, candidate, USERS["bizdev"], note).id


# ---------------------------------------------------------------------- the portfolio


def test_the_portfolio_shows_every_project_with_its_chokepoints(site):
    open_as, database = site
    shortlist(database, "P-INTERNAL", "O-SITE")
    response = open_as("bizdev").get("/portfolio")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    html = response.text
    assert len(html.encode()) < 1_000_000
    ids = [p["id"] for p in ACCESS_PROJECTS]
    assert sorted(row_ids(html)) == sorted(ids)
    assert sorted(matrix_ids(html)) == sorted(ids)
    # One column per need, and one linked cell per need a project has.
    head = html[html.index('<table class="matrix">') : html.index("</thead>")]
    assert re.findall(r'<th scope="col">([^<]+)</th>', head) == ["Project"] + [
        label(n) for n in Need
    ]
    for project in ACCESS_PROJECTS:
        for need in project["needs"]:
            assert f'href="/projects/{project["id"]}?need={need}#partners"' in html
    cells = re.findall(r'<td class="cp (strong|good|weak|blank)">', html)
    assert len(cells) == len(ids) * len(Need)
    assert cells.count("blank") == sum(len(Need) - len(p["needs"]) for p in ACCESS_PROJECTS)
    # Each state has words as well as a colour, and what "covered" means is said.
    assert "at least 35 %" in html
    for state in re.findall(r'<td class="cp (strong|good|weak)">', html):
        word = {"strong": "covered", "good": "partly", "weak": "gap"}[state]
        assert f'</span> {word}<span class="visually-hidden">' in html
    assert 'title="Best: ' in html
    # Best partner and call with their scores; the pipeline status of the shortlisted project.
    assert re.search(r'<a href="/organisations/O-[A-Z-]+">[^<]+</a><br>\d+ %', html)
    assert re.search(r'<a href="/calls/C-CART">[^<]+</a><br>\d+ %', html)
    assert '<a href="/pipeline?project=P-INTERNAL"><span class="badge stage">To contact' in html
    # Accessible structure: captions, scoped headers, labelled filters, headings in order.
    assert html.count("<caption>") == 3
    assert '<th scope="col">' in html and '<th scope="row"' in html
    for control in re.findall(r'<select id="([^"]+)"', html):
        assert f'<label for="{control}">' in html
    headings = re.findall(r"<h([1-6])", html)
    assert headings[0] == "1" and headings.count("1") == 1
    assert all(int(b) - int(a) <= 1 for a, b in itertools.pairwise(headings))
    # The modality x stage summary: five CAR-T projects, all preclinical.
    summary = html[html.index('<table class="summary">') :]
    assert "CAR-T" in summary and "5 projects</a>" in summary


def test_only_business_developers_and_admins_get_the_portfolio(site):
    open_as, _ = site
    assert open_as("admin").get("/portfolio").status_code == 200
    for role in ("researcher", "guest"):
        response = open_as(role).get("/portfolio")
        assert response.status_code == 403
        assert "text/html" in response.headers["content-type"]
        assert "<h1>Not allowed</h1>" in response.text
        assert CANARY_OTHER not in response.text and CANARY_OWN not in response.text
    anonymous = open_as(None).get("/portfolio?stage=preclinical", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/signin?next=/portfolio%3Fstage%3Dpreclinical"


def test_filters_narrow_the_rows(site):
    open_as, database = site
    add_projects(
        database,
        [
            make_project(id="P-AAV", title="AAV retina", modality="aav", stage="phase_1",
                         needs=["co_funding"], owner="u.someone", visibility="public"),
        ],
    )  # fmt: skip
    client = open_as("bizdev")

    def ids(query: str) -> list[str]:
        response = client.get(f"/portfolio?{query}")
        assert response.status_code == 200, response.text
        return sorted(row_ids(response.text))

    assert ids("modality=aav") == ["P-AAV"]
    assert ids("stage=phase_1") == ["P-AAV"]
    assert ids("need=co_funding") == ["P-AAV"]
    assert ids("owner=u.res") == ["P-OWN-CONF"]
    assert ids("visibility=confidential") == ["P-OTHER-CONF", "P-OWN-CONF", "P-TEAM-CONF"]
    assert ids("modality=car_t&visibility=public") == ["P-PUBLIC"]
    # The empty choice of a select is "any".
    assert len(ids("modality=&stage=&need=&owner=&visibility=&sort=title&order=")) == 6
    nothing = client.get("/portfolio?modality=msc")
    assert "No project matches these filters." in nothing.text
    # The form shows what is chosen; the unindexed project says so.
    chosen = client.get("/portfolio?modality=aav").text
    assert '<option value="aav" selected>AAV</option>' in chosen
    assert "Not indexed yet" in chosen and "not ranked" in chosen
    # A value the filters do not know, or a parameter the page does not take: 422 as a page.
    for query in ("modality=banana", "page=0", "colour=red"):
        refused = client.get(f"/portfolio?{query}")
        assert refused.status_code == 422
        assert "<h1>Cannot do that</h1>" in refused.text


def test_sorting_by_each_column(site):
    open_as, database = site
    newcomer = make_project(id="P-NEW", title="Zz unranked newcomer", stage="phase_1")
    add_projects(database, [newcomer])
    client = open_as("bizdev")

    def ids(query: str) -> list[str]:
        return row_ids(client.get(f"/portfolio?{query}").text)

    titles = {p["id"]: p["title"] for p in ACCESS_PROJECTS} | {"P-NEW": "Zz unranked newcomer"}
    by_title = sorted(titles, key=lambda i: titles[i].casefold())
    assert ids("") == by_title
    assert ids("sort=title&order=desc") == by_title[::-1]
    html = client.get("/portfolio?sort=partner").text
    scores = [int(s) for s in re.findall(r'href="/organisations/[^"]+">[^<]+</a><br>(\d+) %', html)]
    assert scores == sorted(scores, reverse=True) and len(scores) == 5
    assert row_ids(html)[-1] == "P-NEW"  # no score: last, whichever the order
    assert ids("sort=partner&order=asc")[-1] == "P-NEW"
    ascending = client.get("/portfolio?sort=call&order=asc").text
    calls = [int(s) for s in re.findall(r'href="/calls/[^"]+">[^<]+</a><br>(\d+) %', ascending)]
    assert calls == sorted(calls)
    assert len(calls) == 5
    gaps = client.get("/portfolio?sort=gaps").text
    table = gaps[gaps.index('<table class="projects">') :]
    counts = [
        int(n) for n in re.findall(r'<span class="badge (?:weak|strong)">(\d+)</span>', table)
    ]
    assert counts == sorted(counts, reverse=True) and len(counts) == 5
    assert ids("sort=stage")[-1] == "P-NEW" and ids("sort=stage&order=desc")[0] == "P-NEW"
    assert 'aria-sort="ascending"' in client.get("/portfolio").text
    # A sorted column's header link flips its order and keeps the filters.
    html = client.get("/portfolio?visibility=confidential&sort=gaps").text
    assert 'aria-sort="descending"' in html
    assert 'href="/portfolio?visibility=confidential&amp;sort=gaps&amp;order=asc"' in html


def test_more_than_fifty_projects_are_paged(site):
    open_as, database = site
    add_projects(
        database,
        [make_project(id=f"P-X{i:03d}", title=f"Extra project {i:03d}") for i in range(55)],
    )
    client = open_as("bizdev")
    first = client.get("/portfolio").text
    assert len(row_ids(first)) == 50 and len(matrix_ids(first)) == 50
    assert f"Rows 1{DASH}50 of 60" in first
    assert '<a href="/portfolio?page=2" rel="next">' in first
    second = client.get("/portfolio?page=2").text
    assert len(row_ids(second)) == 10
    assert f"Rows 51{DASH}60 of 60" in second
    assert '<a href="/portfolio" rel="prev">' in second
    assert set(row_ids(first)).isdisjoint(row_ids(second))
    # Past the last page: the last page. Filters and order travel with the pager.
    assert row_ids(client.get("/portfolio?page=9").text) == row_ids(second)
    desc = client.get("/portfolio?sort=title&order=desc").text
    assert 'href="/portfolio?sort=title&amp;order=desc&amp;page=2" rel="next"' in desc
    assert "page=" not in client.get("/portfolio?visibility=internal").text.split("<table")[0]


# ---------------------------------------------------------------------- the pipeline


def test_the_pipeline_groups_entries_by_stage_and_moves_them_by_form(site):
    open_as, database = site
    entry = shortlist(database, "P-INTERNAL", "O-SITE", "Met them at ISCT")
    call = shortlist(database, "P-PUBLIC", "C-CART")
    client = open_as("bizdev")
    page = client.get("/pipeline")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    html = page.text
    assert [h for h in re.findall(r'<h2 id="stage-(\w+)"', html)] == [
        s.value for s in PipelineStage
    ]
    to_contact = html[html.index('id="stage-to_contact"') : html.index('id="stage-contacted"')]
    assert f'id="entry-{entry}"' in to_contact and f'id="entry-{call}"' in to_contact
    assert '<a href="/organisations/O-SITE">Haematology Trial Unit</a>' in html
    assert '<a href="/calls/C-CART">Clinical translation of CAR-T therapies</a>' in html
    assert "CD19 CAR-T cells made in a closed automated system" in html
    assert "Met them at ISCT" in html and "shortlisted by u.bizdev" in html
    assert "<details>" in html and '<a href="/pipeline.csv"' in html
    assert f'hx-post="/pipeline/{entry}/moves" hx-target="#entry-{entry}"' in html
    for control in re.findall(r'<(?:select|textarea) id="([^"]+)"', html):
        assert f'<label for="{control}">' in html

    moved = client.post(
        f"/pipeline/{entry}/moves",
        data={"stage": "contacted", "note": "Call booked for Monday", "csrf": csrf_of(html)},
        follow_redirects=False,
    )
    assert moved.status_code == 303
    assert moved.headers["location"] == f"/pipeline#entry-{entry}"
    html = client.get("/pipeline").text
    contacted = html[html.index('id="stage-contacted"') : html.index('id="stage-cda_signed"')]
    assert f'id="entry-{entry}"' in contacted and "Call booked for Monday" in contacted
    history = contacted[contacted.index("<details>") : contacted.index("</details>")]
    assert "To contact</strong> by u.bizdev: Met them at ISCT" in history
    assert "Contacted</strong> by u.bizdev: Call booked for Monday" in history
    # One project's entries only.
    only = client.get("/pipeline?project=P-PUBLIC").text
    assert f'id="entry-{call}"' in only and f'id="entry-{entry}"' not in only
    assert client.get("/pipeline?project=P-NOPE").status_code == 404


def test_a_move_by_htmx_answers_the_entry_alone(site):
    open_as, database = site
    entry = shortlist(database, "P-INTERNAL", "O-SITE")
    client = open_as("admin")
    token = csrf_of(client.get("/pipeline").text)
    moved = client.post(
        f"/pipeline/{entry}/moves",
        data={"stage": "cda_signed", "note": "CDA signed <b>today</b>", "csrf": token},
        headers={"HX-Request": "true"},
    )
    assert moved.status_code == 200
    fragment = moved.text.strip()
    assert fragment.startswith(f'<li class="entry" id="entry-{entry}">')
    assert "<html" not in fragment and "<main" not in fragment
    assert 'role="status">Moved to <strong>CDA signed</strong>' in fragment
    assert "CDA signed &lt;b&gt;today&lt;/b&gt;" in fragment  # escaped
    assert '<option value="cda_signed" selected>' in fragment
    assert f'name="csrf" value="{token}"' in fragment  # the next move works too
    with Store(database) as store:
        moved_entry = store.pipeline_entry(entry)
    assert moved_entry.stage is PipelineStage.CDA_SIGNED
    assert [e.note for e in moved_entry.history] == ["", "CDA signed <b>today</b>"]


def test_moves_need_the_form_token_a_known_stage_and_the_role(site):
    open_as, database = site
    entry = shortlist(database, "P-OWN-CONF", "O-SITE")
    client = open_as("bizdev")
    token = csrf_of(client.get("/pipeline").text)
    url = f"/pipeline/{entry}/moves"
    for data in ({"stage": "won"}, {"stage": "won", "csrf": "0" * 64}):
        refused = client.post(url, data=data, follow_redirects=False)
        assert refused.status_code == 403
        assert "<h1>Form refused</h1>" in refused.text
    bad = client.post(url, data={"stage": "signed_in_blood", "csrf": token})
    assert bad.status_code == 422 and "<h1>Cannot do that</h1>" in bad.text
    assert (
        client.post("/pipeline/999999/moves", data={"stage": "won", "csrf": token}).status_code
        == 404
    )
    # A researcher sees their own project's entry but gets no form, and may not move it.
    researcher = open_as("researcher")
    html = researcher.get("/pipeline").text
    assert f'id="entry-{entry}"' in html and '<form class="move"' not in html
    forbidden = researcher.post(url, data={"stage": "won", "csrf": csrf_of(html)})
    assert forbidden.status_code == 403 and "<h1>Not allowed</h1>" in forbidden.text
    with Store(database) as store:
        assert store.pipeline_entry(entry).stage is PipelineStage.TO_CONTACT


def test_a_researcher_sees_only_their_own_projects_entries(site):
    open_as, database = site
    own = shortlist(database, "P-OWN-CONF", "O-SITE", "own project")
    team = shortlist(database, "P-TEAM-CONF", "C-CART", "team project")
    other = shortlist(database, "P-OTHER-CONF", "O-SITE", f"about {CANARY_OTHER}")
    internal = shortlist(database, "P-INTERNAL", "O-SITE", "someone else's")
    researcher = open_as("researcher")
    html = researcher.get("/pipeline").text
    assert f'id="entry-{own}"' in html and f'id="entry-{team}"' in html
    assert f'id="entry-{other}"' not in html and f'id="entry-{internal}"' not in html
    assert CANARY_OTHER not in html and "P-OTHER-CONF" not in html
    assert "/pipeline.csv" not in html
    assert researcher.get("/pipeline?project=P-OTHER-CONF").status_code == 404
    csv_refused = researcher.get("/pipeline.csv")
    assert csv_refused.status_code == 403 and CANARY_OTHER not in csv_refused.text
    guest = open_as("guest").get("/pipeline")
    assert guest.status_code == 403 and CANARY_OWN not in guest.text


def test_the_pipeline_csv_neutralises_formulas(site):
    open_as, database = site
    shortlist(database, "P-INTERNAL", "O-SITE", '=HYPERLINK("http://evil","x")')
    shortlist(database, "P-PUBLIC", "C-CART", "+46 8 123 45")
    response = open_as("bizdev").get("/pipeline.csv")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="pipeline.csv"'
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == [
        "project_id", "project_title", "candidate_id", "candidate_name", "kind", "stage",
        "shortlisted_by", "shortlisted_at", "last_moved_at", "last_note",
    ]  # fmt: skip
    by_project = {r[0]: r for r in rows[1:]}
    assert set(by_project) == {"P-INTERNAL", "P-PUBLIC"}
    internal = by_project["P-INTERNAL"]
    assert internal[1:6] == [
        "CD19 CAR-T cells made in a closed automated system", "O-SITE", "Haematology Trial Unit",
        "organisation", "to_contact",
    ]  # fmt: skip
    assert internal[6] == "u.bizdev" and internal[7].startswith("20")
    assert internal[9] == '\'=HYPERLINK("http://evil","x")'
    assert by_project["P-PUBLIC"][4] == "call" and by_project["P-PUBLIC"][9] == "'+46 8 123 45"


# ---------------------------------------------------------------------- the demo


@pytest.mark.slow
def test_the_demo_portfolio_and_pipeline_stay_light(demo_world, tmp_path, embedder):
    world = tmp_path / "demo"
    shutil.copytree(demo_world, world)
    settings = world_settings(world, today=DEMO_TODAY)
    with Store(settings.database) as store:
        from matcher import Role, create_user

        create_user(store, "u.bd", Role.BIZDEV)
        set_password(store, "u.bd", PASSWORD)
        for project in ("P-001", "P-002", "P-003"):
            store.shortlist(project, "O-001", "u.bd", "first call")
    with TestClient(create_app(settings, embedder)) as client:
        sign_in(client, "u.bd")
        html = client.get("/portfolio").text
        assert len(row_ids(html)) == 40
        assert len(html.encode()) < 1_000_000
        assert len(client.get("/pipeline").text.encode()) < 1_000_000


def test_admins_see_the_feedback_counts_page_and_others_do_not(site):
    open_as, database = site
    with Store(database) as store:
        store.set_feedback(USERS["bizdev"], "P-PUBLIC", "O-SITE", Feedback.NOT_RELEVANT)
        store.set_feedback(USERS["admin"], "P-PUBLIC", "O-SITE", Feedback.RELEVANT)
    admin = open_as("admin")
    shown = admin.get("/feedback")
    assert shown.status_code == 200
    assert "<caption>Verdicts per pair, most judged first</caption>" in shown.text
    row = shown.text[shown.text.index("P-PUBLIC</a>") :]
    assert re.match(
        r"P-PUBLIC</a></td>\s*<td>O-SITE</td>\s*<td>1</td>\s*<td>1</td>\s*<td>0</td>", row
    )
    assert 'href="/feedback"' in admin.get("/pipeline").text
    for role in ("bizdev", "researcher", "guest"):
        refused = open_as(role).get("/feedback")
        assert refused.status_code == 403 and "Not allowed" in refused.text
