"""The object pages (service/web/objects.py) through a TestClient signed in with the web form:
the project list, a project with its partners in tabs and its calls, the `need` view, feedback
and the shortlist by form and by htmx, an organisation's and a call's projects, the search for a
pasted text, CSRF on every form, and what a researcher or a guest may never see."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from matcher import (
    Need,
    Organisation,
    Principal,
    Role,
    Store,
    View,
    parse_project,
    set_password,
)
from matcher.portfolio import answers
from service.app import create_app
from tests.conftest import (
    ACCESS_PROJECTS,
    CANARY_OTHER,
    CANARY_OWN,
    CANARY_TEAM,
    GUEST_ORG,
    HIDDEN_CANARIES,
    PRINCIPALS,
    access_settings,
    add_user,
    make_project,
)

PASSWORD = "a long enough secret"
USERS = {role: username for role, (username, _, _) in PRINCIPALS.items()}
HX = {"HX-Request": "true"}
RETINAL = (
    "AAV8 gene therapy restoring RPE65 in inherited retinal dystrophy by subretinal injection; "
    "we need GMP vector supply and an ophthalmic surgery site."
)

Open = Callable[[str], TestClient]


def sign_in(client: TestClient, username: str) -> None:
    """Sign the client in through the sign-in form, as a browser does."""
    token = csrf_of(client.get("/signin").text)
    signed = client.post(
        "/signin",
        data={"username": username, "password": PASSWORD, "csrf": token, "next": "/"},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found[1]


def serve(
    settings: Any, embedder: Any, roles: tuple[str, ...] = tuple(PRINCIPALS)
) -> Iterator[tuple[Open, Any]]:
    """The app over these settings, a user with a password for each role; `open_as(role)`
    gives a client of the running app signed in as that role."""
    for role in roles:
        username, kind, organisation = PRINCIPALS[role]
        add_user(settings.database, username, kind, organisation)
        with Store(settings.database) as store:
            set_password(store, username, PASSWORD)
    app = create_app(settings, embedder)

    def open_as(role: str) -> TestClient:
        client = TestClient(app)  # the running app's state; a cookie jar of its own
        sign_in(client, USERS[role])
        return client

    with TestClient(app):  # runs the lifespan once
        yield open_as, app


@pytest.fixture
def site(settings: Any, embedder: Any) -> Iterator[tuple[Open, Any]]:
    """The small world (an AAV8 retinal project P-1, a CAR-T project P-2; two CDMOs, an eye
    hospital; an open, a closed, a rolling and a forthcoming call), without a guest: their
    organisation is not in it."""
    yield from serve(settings, embedder, ("admin", "bizdev", "researcher"))


@pytest.fixture
def access(access_world: Path, embedder: Any) -> Iterator[tuple[Open, Any]]:
    """The access world, whose confidential projects carry canary strings."""
    yield from serve(access_settings(access_world), embedder)


def section(html: str, id: str) -> str:
    start = html.index(f'<section id="{id}"')
    return html[start : html.index("</section>", start)]


def names(html: str) -> list[str]:
    """The names of the matches listed in this HTML, in order."""
    return [unescape(n) for n in re.findall(r'<h3 class="match-name"><a [^>]*>([^<]+)</a>', html)]


def ids(html: str) -> list[str]:
    return re.findall(r'<li class="match" id="m-([^"]+)"', html)


def match_html(html: str, id: str) -> str:
    """One match's item: from its start to the next match or the end of the list."""
    start = html.index(f'<li class="match" id="m-{id}"')
    ends = [html.find(mark, start + 1) for mark in ('<li class="match"', "</ol>")]
    return html[start : min(e for e in ends if e > 0)]


def headings_in_order(html: str) -> bool:
    levels = [int(h) for h in re.findall(r"<h([1-6])", html)]
    return (
        levels[0] == 1
        and levels.count(1) == 1
        and all(b - a <= 1 for a, b in itertools.pairwise(levels))
    )


def view_of(app: Any, role: str) -> View:
    username, kind, organisation = PRINCIPALS[role]
    view: View = app.state.gate.view(Principal(username, Role(kind), organisation))
    return view


def add_projects(app: Any, records: list[dict[str, Any]]) -> None:
    """Store projects after the indexes were built: they are listed, not ranked."""
    with Store(app.state.settings.database) as store:
        store.upsert([parse_project(r) for r in records])


# ---------------------------------------------------------------------- the project list


def test_the_project_list_marks_a_researchers_own_and_pages_past_fifty(access):
    open_as, app = access
    researcher = open_as("researcher")
    html = researcher.get("/projects").text
    listed = re.findall(r'<a href="/projects/([^"]+)">', html)
    assert set(listed) == {"P-OWN-CONF", "P-TEAM-CONF", "P-INTERNAL", "P-PUBLIC"}
    yours = re.findall(
        r'href="/projects/([^"]+)">[^<]+</a> <span class="muted pid">[^<]+</span>\s*'
        r'<span class="badge mine">Yours',
        html,
    )
    assert sorted(yours) == ["P-OWN-CONF", "P-TEAM-CONF"]
    assert CANARY_OTHER not in html
    # Past 50 projects the list has pages; an undeclared parameter is refused.
    add_projects(app, [make_project(id=f"P-X{i:02}", visibility="public") for i in range(50)])
    first = researcher.get("/projects").text
    second = researcher.get("/projects?page=2").text
    assert "54 projects you may read" in first and "Page 1 of 2" in first
    assert len(re.findall(r'<a href="/projects/[^"]+">', first)) == 50
    assert len(re.findall(r'<a href="/projects/[^"]+">', second)) == 4
    assert 'href="/projects?page=2" rel="next"' in first and 'rel="prev"' in second
    assert researcher.get("/projects?pages=2").status_code == 422
    assert researcher.get("/projects?page=0").status_code == 422
    # A guest lists the public summaries, without owners.
    guest = open_as("guest").get("/projects").text
    assert "P-PUBLIC" in guest and "P-OWN-CONF" not in guest and "u.other" not in guest


# ---------------------------------------------------------------------- a project


def test_a_project_shows_its_partners_and_calls_with_their_reasons(site):
    open_as, _ = site
    client = open_as("bizdev")
    response = client.get("/projects/P-1")
    assert response.status_code == 200
    html = response.text
    assert len(html.encode()) < 1_000_000 and headings_in_order(html)
    assert "<h1>AAV8 gene therapy for inherited retinal dystrophy</h1>" in html
    assert "We develop an AAV8 vector that restores RPE65" in html
    for fact in (
        "AAV",
        "Preclinical",
        "Vector supply",
        "Clinical sites",
        "u.test.owner",
        "Internal",
    ):
        assert fact in html, fact
    # The same partners and calls, in the same order, as the API gives this user.
    api = {
        kind: client.get(f"/api/v1/projects/P-1/{kind}").json()["matches"]
        for kind in ("partners", "calls")
    }
    partners, calls = section(html, "partners"), section(html, "calls")
    assert ids(partners) == [m["id"] for m in api["partners"]]
    assert names(partners) == [m["name"] for m in api["partners"]]
    assert set(ids(partners)) == {"O-EYE", "O-VEC", "O-CELL"}
    assert ids(calls) == [m["id"] for m in api["calls"]]
    assert "C-CLOSED" not in ids(calls) and "C-1" in ids(calls)
    # Each match: its score as a percent, its strength in words, its plain sentence, and the
    # evidence folded away: the sentences side by side, the shared facets and terms.
    for match in api["partners"] + api["calls"]:
        shown = unescape(match_html(html, match["id"]))
        reasons = match["reasons"]
        assert f'<span class="pct">{round(match["score"] * 100)} %</span>' in shown
        assert f'<span class="badge {match["strength"]}">{match["strength"]}</span>' in shown
        assert reasons["summary"] in shown
        assert '<details class="evidence">' in shown
        if reasons["sentences"]:
            pair = reasons["sentences"]
            assert f"<td>{pair['query']}</td><td>{pair['candidate']}</td>" in shown
            assert '<th scope="col">This project</th>' in shown
        for term in reasons["shared_terms"]:
            assert f'<span class="chip">{term}</span>' in shown
        assert len(re.findall(r'<span class="chip">', shown)) >= len(reasons["shared_facets"])
    # A call: its status, deadline, days left, and the verdict with every rule.
    call = unescape(match_html(calls, "C-1"))
    assert "Open</span>" in call and "deadline 2027-03-01, full proposal" in call
    assert "<strong>96 days left</strong>" in call
    assert "Eligible</span>" in call
    verdict = next(m for m in api["calls"] if m["id"] == "C-1")["reasons"]["eligibility"]
    words = {"eligible": "Met", "conditional": "Condition", "ineligible": "Not met"}
    for rule in verdict["rules"]:
        assert f"{words[rule['outcome']]}:</span> {rule['text']}</li>" in call
    soon = unescape(match_html(calls, "C-SOON"))
    assert "Forthcoming</span>" in soon and "opens 2027-01-15" in soon
    rolling = unescape(match_html(calls, "C-ROLLING"))
    assert "rolling: apply any time" in rolling and "Eligible on conditions" in rolling
    assert "Condition:</span>" in rolling


def test_partner_tabs_work_as_links_and_as_htmx_fragments(site):
    open_as, _ = site
    client = open_as("researcher")
    html = client.get("/projects/P-1").text
    tabs = html[
        html.index('<nav class="tabs"') : html.index("</nav>", html.index('<nav class="tabs"'))
    ]
    for tab in ("industry", "cdmo", "cro", "hospital_unit", "academic_group", "funder"):
        url = f"/projects/P-1?tab={tab}"
        assert f'href="{url}#partners" hx-get="{url}" hx-target="#partners"' in tabs
        assert f'hx-push-url="{url}"' in tabs
    assert re.search(r'id="tab-all"[^>]*\s+aria-current="true">All</a>', tabs)
    # Without JavaScript: the whole page, the tab marked current, only that kind listed.
    page = client.get("/projects/P-1?tab=cdmo")
    assert page.status_code == 200 and "<html" in page.text and '<section id="calls"' in page.text
    assert re.search(r'id="tab-cdmo"[^>]*\s+aria-current="true">CDMOs</a>', page.text)
    assert sorted(ids(section(page.text, "partners"))) == ["O-CELL", "O-VEC"]
    assert page.headers["Vary"] == "HX-Request"
    # With htmx: the partners panel alone, to swap in place.
    fragment = client.get("/projects/P-1?tab=hospital_unit", headers=HX)
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<section id="partners"')
    assert "<html" not in fragment.text and '<section id="calls"' not in fragment.text
    assert ids(fragment.text) == ["O-EYE"]
    assert re.search(r'id="tab-hospital_unit"[^>]*\s+aria-current="true"', fragment.text)
    # A tab with nobody in it says so; a history restore gets the whole page.
    empty = client.get("/projects/P-1?tab=industry", headers=HX).text
    assert ids(empty) == [] and "No partner of this kind fits" in empty
    restore = client.get(
        "/projects/P-1?tab=cdmo", headers={**HX, "HX-History-Restore-Request": "true"}
    )
    assert "<html" in restore.text
    assert client.get("/projects/P-1?tab=pharma").status_code == 422
    assert client.get("/projects/P-1?kind=cdmo").status_code == 422


@pytest.mark.parametrize("need", [Need.CLINICAL_SITES, Need.GMP_MANUFACTURING, Need.VECTOR_SUPPLY])
def test_the_need_view_lists_the_partners_that_answer_it(site, need):
    open_as, app = site
    html = open_as("bizdev").get(f"/projects/P-1?need={need.value}").text
    panel = section(html, "partners")
    label = {
        "clinical_sites": "Clinical sites",
        "gmp_manufacturing": "GMP manufacturing",
        "vector_supply": "Vector supply",
    }[need.value]
    assert f'<h2 id="partners-heading">Partners that answer the need “{label}”</h2>' in panel
    organisations = view_of(app, "bizdev").organisations().items
    answering = {o.id for o in organisations if isinstance(o, Organisation) and answers(o, need)}
    assert answering and set(ids(panel)) == answering
    everyone = ids(section(open_as("bizdev").get("/projects/P-1").text, "partners"))
    assert ids(panel) == [i for i in everyone if i in answering]  # in the same order
    assert 'aria-current="true"' not in panel[: panel.index("</nav>")]  # no tab is current
    assert 'href="/projects/P-1#partners">Show all partners</a>' in panel
    assert open_as("bizdev").get("/projects/P-1?need=cure").status_code == 422


# ---------------------------------------------------------------------- feedback, shortlist


def feedback(client: TestClient, candidate: str, verdict: str, **fields: str) -> Any:
    token = csrf_of(client.get("/projects/P-1").text)
    return client.post(
        "/projects/P-1/feedback",
        data={"csrf": token, "candidate_id": candidate, "verdict": verdict, **fields},
        follow_redirects=False,
    )


def test_feedback_by_form_shows_on_the_match_and_dismissals_disappear(site):
    open_as, app = site
    client = open_as("researcher")
    kept = feedback(client, "O-VEC", "relevant")
    assert kept.status_code == 303 and kept.headers["location"] == "/projects/P-1#m-O-VEC"
    html = client.get("/projects/P-1").text
    match = match_html(html, "O-VEC")
    assert "Your feedback: <strong>Relevant</strong>" in match
    assert re.search(r'id="fb-O-VEC-relevant" aria-pressed="true"', match)
    assert re.search(r'id="fb-O-VEC-not_relevant" aria-pressed="false"', match)
    # The two dismissals: back to the list (keeping the tab), and the pair is gone on reload,
    # in every tab; a dismissed call leaves the calls.
    gone = feedback(client, "O-CELL", "not_relevant", tab="cdmo")
    assert gone.headers["location"] == "/projects/P-1?tab=cdmo#partners"
    known = feedback(client, "C-1", "already_known")
    assert known.status_code == 303 and known.headers["location"] == "/projects/P-1#calls"
    html = client.get("/projects/P-1").text
    assert "O-CELL" not in ids(section(html, "partners")) and "O-VEC" in ids(html)
    assert "C-1" not in ids(section(html, "calls"))
    assert "O-CELL" not in ids(client.get("/projects/P-1?tab=cdmo").text)
    assert view_of(app, "researcher").feedback_on("P-1") == {
        "O-VEC": "relevant",
        "O-CELL": "not_relevant",
        "C-1": "already_known",
    }
    # Another user still sees every pair.
    assert {"O-CELL", "O-VEC"} <= set(ids(open_as("bizdev").get("/projects/P-1").text))
    # Relevant again brings a dismissed pair back (the removed line's undo).
    feedback(client, "O-CELL", "relevant")
    assert "O-CELL" in ids(client.get("/projects/P-1").text)


def test_feedback_by_htmx_answers_the_changed_part_only(site):
    open_as, _ = site
    client = open_as("bizdev")
    token = csrf_of(client.get("/projects/P-1").text)

    def post(candidate: str, verdict: str) -> str:
        response = client.post(
            "/projects/P-1/feedback",
            data={
                "csrf": token,
                "candidate_id": candidate,
                "verdict": verdict,
                "need": "clinical_sites",
            },
            headers=HX,
        )
        assert response.status_code == 200, response.text
        assert "<html" not in response.text
        return response.text

    relevant = post("O-EYE", "relevant")
    assert relevant.lstrip().startswith('<div class="feedback" id="fb-O-EYE">')
    assert "Your feedback: <strong>Relevant</strong>" in relevant
    assert 'id="fb-O-EYE-relevant" aria-pressed="true"' in relevant
    assert '<input type="hidden" name="need" value="clinical_sites">' in relevant
    for verdict, word in (("not_relevant", "Not relevant"), ("already_known", "Already known")):
        removed = post("O-VEC" if verdict == "not_relevant" else "C-ROLLING", verdict)
        assert removed.lstrip().startswith('<li class="match removed"')
        assert 'role="status"' in removed and f"<strong>{word}:</strong>" in removed
        assert "is no longer suggested for this project" in removed
        assert 'name="verdict" value="relevant"' in removed  # the undo
    assert "Vector Foundry" in post("O-VEC", "not_relevant")
    html = client.get("/projects/P-1").text
    assert "O-VEC" not in ids(html) and "C-ROLLING" not in ids(html) and "O-EYE" in ids(html)


def test_the_shortlist_puts_a_match_in_the_pipeline_and_shows_its_stage(access):
    open_as, app = access
    bizdev = open_as("bizdev")
    html = bizdev.get("/projects/P-OWN-CONF").text
    assert 'name="note"' in match_html(html, "O-SITE") and "Shortlist<span" in html
    token = csrf_of(html)
    done = bizdev.post(
        "/projects/P-OWN-CONF/shortlist",
        data={"csrf": token, "candidate_id": "O-SITE", "note": "Met at ISCT"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/projects/P-OWN-CONF#m-O-SITE"
    again = bizdev.post(
        "/projects/P-OWN-CONF/shortlist",
        data={"csrf": token, "candidate_id": "O-SITE"},
        follow_redirects=False,
    )
    assert again.status_code == 303  # in the pipeline already: shown as shortlisted
    entries = view_of(app, "bizdev").pipeline("P-OWN-CONF")
    assert [(e.candidate_id, e.history[0].note) for e in entries] == [("O-SITE", "Met at ISCT")]
    html = bizdev.get("/projects/P-OWN-CONF").text
    assert "Shortlisted: <strong>To contact</strong>" in match_html(html, "O-SITE")
    assert 'name="note"' not in match_html(html, "O-SITE")
    # By htmx: the shortlist block alone, with the stage.
    fragment = bizdev.post(
        "/projects/P-OWN-CONF/shortlist", data={"csrf": token, "candidate_id": "C-CART"}, headers=HX
    )
    assert fragment.text.lstrip().startswith('<div class="shortlist" id="sl-C-CART">')
    assert "Shortlisted: <strong>To contact</strong>" in fragment.text
    # The owner (a researcher) sees the stage but may not shortlist.
    researcher = open_as("researcher")
    html = researcher.get("/projects/P-OWN-CONF").text
    assert "Shortlisted: <strong>To contact</strong>" in match_html(html, "O-SITE")
    assert "Shortlist<span" not in html and 'name="note"' not in html
    refused = researcher.post(
        "/projects/P-OWN-CONF/shortlist",
        data={"csrf": csrf_of(html), "candidate_id": "O-GUEST"},
        follow_redirects=False,
    )
    assert refused.status_code == 403 and "Not allowed" in refused.text


# ---------------------------------------------------------------------- organisations, calls


def test_an_organisation_ranks_the_projects_to_pitch_to_it(site):
    open_as, _ = site
    client = open_as("researcher")
    response = client.get("/organisations/O-EYE")
    assert response.status_code == 200
    html = unescape(response.text)
    assert "<h1>University Eye Hospital Gene Therapy Unit</h1>" in html and headings_in_order(html)
    for fact in ("Hospital unit", "NL", "Clinical sites", "Facilities", "subretinal injections"):
        assert fact in html, fact
    api = client.get("/api/v1/organisations/O-EYE/projects").json()["matches"]
    ranked = section(response.text, "projects")
    assert "Our projects to pitch to University Eye Hospital Gene Therapy Unit" in unescape(ranked)
    assert ids(ranked) == [m["id"] for m in api] and ids(ranked)[0] == "P-1"
    assert '<th scope="col">This organisation</th>' in ranked
    assert "/feedback" not in ranked  # feedback is given on the project's page
    assert client.get("/organisations/O-NONE").status_code == 404


def test_a_call_shows_its_rules_and_the_projects_to_submit(site):
    open_as, _ = site
    client = open_as("bizdev")
    html = unescape(client.get("/calls/C-1").text)
    assert "<h1>Gene therapy for rare eye diseases</h1>" in html and headings_in_order(html)
    assert "Example Foundation" in html and "Open</span>" in html
    assert "2027-03-01, full proposal · <strong>96 days left</strong>" in html
    assert "Applicants: Academic group" in html and "Based in: EU" in html
    assert "For the hub: <span" in html and "Met:</span> applicants based in EU" in html
    ranked = section(html, "projects")
    assert ids(ranked)[0] == "P-1"
    assert "Eligible</span>" in match_html(ranked, "P-1")
    assert "call-facts" not in match_html(ranked, "P-1")  # the call's dates stand above
    assert 'href="/calls/C-1?include_ineligible=true#projects">Also those that may not' in ranked
    everyone = client.get("/calls/C-1?include_ineligible=true").text
    assert set(ids(section(everyone, "projects"))) >= set(ids(ranked))
    closed = client.get("/calls/C-CLOSED").text
    assert "Closed</span>" in closed and "passed" in closed
    assert "C-CLOSED is closed (last deadline 2026-06-01)" in closed


def test_a_guest_reads_their_organisation_without_a_ranking(access):
    open_as, _ = access
    guest = open_as("guest")
    html = guest.get(f"/organisations/{GUEST_ORG}").text
    assert "Cell Therapy Partner Ltd" in html and "GMP manufacturing of CAR-T cells." in html
    assert "gets no rankings" in html and ids(html) == []
    assert guest.get("/organisations/O-SITE").status_code == 404
    assert guest.get("/calls/C-CART").status_code == 404
    public = guest.get("/projects/P-PUBLIC").text
    assert "BCMA CAR-T cells for multiple myeloma" in public and ids(public) == []
    assert "public summary" in public and "Needs" not in public and "u.other" not in public
    assert guest.get("/projects/P-INTERNAL").status_code == 404


def test_a_project_stored_after_the_build_is_shown_without_matches(site):
    open_as, app = site
    add_projects(app, [make_project(id="P-NEW", title="A project not indexed yet")])
    html = open_as("bizdev").get("/projects/P-NEW").text
    assert "A project not indexed yet" in html and "no matches yet" in html and ids(html) == []


# ---------------------------------------------------------------------- search


def search(client: TestClient, text: str, to: str = "partners", **fields: Any) -> Any:
    token = csrf_of(client.get("/search").text)
    return client.post("/search", data={"csrf": token, "q": text, "to": to, **fields})


def test_search_by_a_pasted_abstract(site, settings):
    open_as, _ = site
    client = open_as("researcher")
    form = client.get("/search").text
    assert '<form id="search" method="post" action="/search"' in form
    assert '<textarea id="q" name="q"' in form and 'maxlength="20000"' in form
    assert '<label for="q">Text</label>' in form and headings_in_order(form)
    marker = "zebrafish-marker-4711"
    partners = search(
        client,
        f"{RETINAL} {marker}",
        "partners",
        stage="preclinical",
        needs=["vector_supply", "clinical_sites"],
    )
    assert partners.status_code == 200
    results = section(partners.text, "results")
    assert "Organisations for your text" in results
    assert set(ids(results)) == {"O-EYE", "O-VEC", "O-CELL"}
    assert '<th scope="col">Your text</th>' in results
    # The form keeps what was asked for another go, and offers the other targets.
    assert f"{marker}</textarea>" in partners.text
    assert '<option value="preclinical" selected>' in partners.text
    assert 'value="vector_supply" checked' in partners.text
    assert 'form="search" name="to" value="calls"' in partners.text
    calls = section(search(client, RETINAL, "calls", stage="preclinical").text, "results")
    assert "Funding calls for your text" in calls and "C-1" in ids(calls)
    assert "C-CLOSED" not in ids(calls) and "days left" in calls
    projects = section(search(client, RETINAL, "projects").text, "results")
    assert "Our projects for your text" in projects and ids(projects)[0] == "P-1"
    # The switch buttons send `to` after the form's own choice: the last one counts.
    token = csrf_of(form)
    switched = client.post(
        "/search", data={"csrf": token, "q": RETINAL, "to": ["partners", "calls"]}
    )
    assert "Funding calls for your text" in switched.text
    # Nothing of the pasted text is stored.
    stored = b"".join(p.read_bytes() for p in Path(settings.db_path).parent.glob("matcher.db*"))
    assert marker.encode() not in stored
    # An empty or an over-long text is refused with the form.
    empty = search(client, "   ")
    assert empty.status_code == 422 and "Paste a text first." in empty.text
    assert search(client, "x" * 20_001).status_code == 422


def test_a_guest_may_not_search(access):
    open_as, _ = access
    guest = open_as("guest")
    page = guest.get("/search")
    assert page.status_code == 403
    assert "may not search" in page.text and "<textarea" not in page.text
    assert f'href="/organisations/{GUEST_ORG}"' in page.text
    posted = guest.post(
        "/search", data={"csrf": csrf_of(page.text), "q": RETINAL, "to": "partners"}
    )
    assert posted.status_code == 403 and "results" not in posted.text


# ---------------------------------------------------------------------- CSRF


def test_every_form_is_refused_without_its_token(site):
    open_as, app = site
    client = open_as("bizdev")
    forms = [
        ("/projects/P-1/feedback", {"candidate_id": "O-VEC", "verdict": "not_relevant"}),
        ("/projects/P-1/shortlist", {"candidate_id": "O-VEC"}),
        ("/search", {"q": RETINAL, "to": "partners"}),
    ]
    for path, data in forms:
        for token in (None, "", "0" * 64):
            sent = data if token is None else {**data, "csrf": token}
            for headers in ({}, HX):
                refused = client.post(path, data=sent, headers=headers, follow_redirects=False)
                assert refused.status_code == 403, (path, token)
                assert "Form refused" in refused.text
    # A token of another session is refused too.
    other = csrf_of(open_as("admin").get("/search").text)
    refused = client.post("/projects/P-1/feedback", data={**forms[0][1], "csrf": other})
    assert refused.status_code == 403
    view = view_of(app, "bizdev")
    assert view.feedback_on("P-1") == {} and view.pipeline("P-1") == []


# ---------------------------------------------------------------------- who sees what


def pages_of(client: TestClient, project_ids: list[str]) -> dict[str, str]:
    """Every object page a user reaches from the list, each tab and need, and the searches."""
    shown = {"/projects": client.get("/projects").text}
    for id in project_ids:
        base = f"/projects/{id}"
        shown[base] = client.get(base).text
        for tab in ("cdmo", "hospital_unit"):
            shown[f"{base}?tab={tab}"] = client.get(f"{base}?tab={tab}", headers=HX).text
        shown[f"{base}?need=clinical_sites"] = client.get(f"{base}?need=clinical_sites").text
    for path in ("/organisations/O-SITE", f"/organisations/{GUEST_ORG}", "/calls/C-CART"):
        shown[path] = client.get(path).text
        shown[path + "?ineligible"] = client.get("/calls/C-CART?include_ineligible=true").text
    text = "Dual-targeting CAR-T cells against glioblastoma with intracranial persistence."
    for to in ("partners", "calls", "projects"):
        shown[f"search:{to}"] = search(client, text, to).text
    return shown


def test_a_researcher_never_sees_another_researchers_confidential_project(access):
    open_as, _ = access
    client = open_as("researcher")
    readable = ["P-OWN-CONF", "P-TEAM-CONF", "P-INTERNAL", "P-PUBLIC"]
    shown = pages_of(client, readable)
    assert (
        CANARY_OWN in shown["/projects/P-OWN-CONF"]
        and CANARY_TEAM in shown["/projects/P-TEAM-CONF"]
    )
    for path, html in shown.items():
        assert CANARY_OTHER not in html, path
        assert "P-OTHER-CONF" not in html, path
    hidden = client.get("/projects/P-OTHER-CONF")
    assert hidden.status_code == 404 and CANARY_OTHER not in hidden.text
    for path in ("/projects/P-OTHER-CONF/feedback", "/projects/P-OTHER-CONF/shortlist"):
        posted = client.post(
            path,
            data={
                "csrf": csrf_of(shown["/projects"]),
                "candidate_id": "O-SITE",
                "verdict": "relevant",
            },
        )
        assert posted.status_code in (403, 404) and CANARY_OTHER not in posted.text
    # The reverse rankings list every project the researcher may read, and no other.
    ranked = set(ids(section(shown["/organisations/O-SITE"], "projects")))
    assert ranked == set(readable)


def test_a_guest_sees_only_what_a_guest_may(access):
    open_as, _ = access
    guest = open_as("guest")
    shown = {
        path: guest.get(path)
        for path in (
            "/projects",
            "/projects/P-PUBLIC",
            f"/organisations/{GUEST_ORG}",
            "/search",
            "/projects/P-OWN-CONF",
            "/projects/P-TEAM-CONF",
            "/projects/P-INTERNAL",
            "/organisations/O-SITE",
            "/calls/C-CART",
            "/projects/P-PUBLIC?tab=cdmo",
            "/projects/P-PUBLIC?need=clinical_sites",
        )
    }
    statuses = {path: r.status_code for path, r in shown.items()}
    assert statuses == {
        "/projects": 200,
        "/projects/P-PUBLIC": 200,
        f"/organisations/{GUEST_ORG}": 200,
        "/search": 403,
        "/projects/P-OWN-CONF": 404,
        "/projects/P-TEAM-CONF": 404,
        "/projects/P-INTERNAL": 404,
        "/organisations/O-SITE": 404,
        "/calls/C-CART": 404,
        "/projects/P-PUBLIC?tab=cdmo": 200,
        "/projects/P-PUBLIC?need=clinical_sites": 200,
    }
    hidden = {p["id"] for p in ACCESS_PROJECTS} - {"P-PUBLIC"}
    for path, response in shown.items():
        for canary in HIDDEN_CANARIES["guest"]:
            assert canary not in response.text, (path, canary)
        if response.status_code != 404:  # a 404 names the id asked for, and nothing else
            for id in hidden:
                assert id not in response.text, (path, id)
        assert ids(response.text) == [], path  # no ranking at all
        assert "u.other" not in response.text, path  # no owner
    token = csrf_of(shown["/projects"].text)
    posted = guest.post(
        "/projects/P-PUBLIC/feedback",
        data={"csrf": token, "candidate_id": GUEST_ORG, "verdict": "relevant"},
    )
    assert posted.status_code == 403
