"""The web pages in a real browser (Debian's chromium through Playwright) against a real server:
what each role does on them, what each role may never see, and that every page visited logs no
console error, fails no request, asks no other host and has no serious or critical axe-core
violation (tests/browser.py records all of it; each test's pages are checked as they load and
once more when the test ends).

Two servers for the whole module: the demo (with 20 more projects, EXTRA_PROJECTS, so that the
portfolio has a second page) for the flows, and the access world, whose projects carry canary
strings, for what a researcher or a guest may see. SCREENSHOTS=1 also writes
docs/screenshots/*.png."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections import deque
from collections.abc import Callable, Iterator
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
from markupsafe import escape

from matcher import Embedder
from tests import browser as harness
from tests.browser import DEMO_DATA, ROOT, Site, Watched, new_context, require_browser, sign_in
from tests.conftest import (
    CANARY_OTHER,
    CANARY_OWN,
    CANARY_TEAM,
    GUEST_ORG,
    HIDDEN_CANARIES,
    PRINCIPALS,
)

require_browser()

from playwright.sync_api import Browser, Locator, Page, expect  # noqa: E402

pytestmark = pytest.mark.slow

SCREENSHOTS = ROOT / "docs" / "screenshots"
MAX_SHOT = 400_000
START = {
    "admin": "/portfolio",
    "bizdev": "/portfolio",
    "researcher": "/projects",
    "guest": f"/organisations/{harness.DEMO_USERS['guest'][1]}",
}
ABSTRACT = (
    "Biallelic mutations in RPE65 cause Leber congenital amaurosis and early-onset retinal "
    "dystrophy, with progressive loss of rod and cone function from childhood. We have designed "
    "a codon-optimised human RPE65 cDNA under a short RPE-specific promoter, packaged in an "
    "AAV8 capsid, and shown in the Rpe65 knock-out mouse and in a naturally occurring dog "
    "model that a single subretinal injection restores electroretinogram responses and "
    "visually guided behaviour for more than two years. We now need a partner to manufacture "
    "GMP-grade AAV8 vector at 50 to 200 L scale with validated potency and empty/full capsid "
    "assays, an ophthalmology centre experienced in vitrectomy and subretinal delivery for a "
    "first-in-human dose-escalation trial, and funding for the GLP toxicology package."
)


# ---------------------------------------------------------------------- helpers


Opener = Callable[..., Watched]


def opener(browser: Browser, site: Site) -> Iterator[Opener]:
    """open(role=None, lands=200): a page in a fresh browser context, signed in as the role's
    user through the form; every page it opened is checked again when the test ends."""
    contexts, pages = [], []

    def open_page(role: str | None = None, lands: int = 200) -> Watched:
        context = new_context(browser, site)
        contexts.append(context)
        watched = Watched(context.new_page(), site)
        pages.append(watched)
        if role is not None:
            with watched.expecting(lands) if lands >= 400 else _nothing():
                sign_in(watched, site.users[role])
        return watched

    yield open_page
    try:
        for watched in pages:
            if not watched.reported:  # the test has not failed on it already
                watched.check()
    finally:
        for context in contexts:
            context.close()


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.fixture(scope="session")
def demo_site(
    demo_world: Path, embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    with harness.demo_site(demo_world, embedder, tmp_path_factory.mktemp("web-demo")) as site:
        yield site


@pytest.fixture(scope="session")
def access_site(
    built_access_world: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    with harness.access_site(built_access_world, tmp_path_factory.mktemp("web-access")) as site:
        yield site


@pytest.fixture
def on_demo(browser: Browser, demo_site: Site) -> Iterator[Opener]:
    yield from opener(browser, demo_site)


@pytest.fixture
def on_access(browser: Browser, access_site: Site) -> Iterator[Opener]:
    yield from opener(browser, access_site)


def shoot(page: Page, name: str) -> None:
    """With SCREENSHOTS=1, the page as shown now into docs/screenshots/NAME.png: the whole page,
    or as much of its top as keeps the file under MAX_SHOT bytes."""
    if os.environ.get("SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = page.screenshot(full_page=True)
    height = page.evaluate("document.documentElement.scrollHeight")
    while len(shot) > MAX_SHOT:
        height = int(height * MAX_SHOT / len(shot) * 0.95)
        clip = {"x": 0, "y": 0, "width": page.viewport_size["width"], "height": height}
        shot = page.screenshot(full_page=True, clip=clip)
    (SCREENSHOTS / f"{name}.png").write_bytes(shot)


def path_of(page: Page) -> str:
    parts = urlsplit(page.url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def button(page: Page, verb: str, name: str) -> Locator:
    """The button `verb` for one match: "Relevant: NAME" (Chromium names it "Relevant : NAME":
    the hidden words are positioned apart)."""
    words = (
        rf"^(✓ )?{re.escape(verb)} ?: {re.escape(name)}$"  # ✓: the stylesheet marks a pressed one
    )
    return page.get_by_role("button", name=re.compile(words))


def match_names(page: Page, region: str) -> list[str]:
    """The names of the matches listed in a region of the page, in order."""
    section = page.get_by_role("region", name=region)
    return [h.inner_text().strip() for h in section.get_by_role("heading", level=3).all()]


def hidden_demo_texts(researcher: str) -> set[str]:
    """The title and the abstract's first 60 characters, as written and as HTML escapes them,
    of each confidential demo project the researcher is neither owner nor team member of."""
    texts = set()
    for line in (DEMO_DATA / "projects.jsonl").read_text().splitlines():
        p = json.loads(line)
        if p["visibility"] != "confidential" or researcher in [p["owner"], *p["team"]]:
            continue
        for text in (p["title"], p["abstract"][:60]):
            texts |= {text, str(escape(text))}
    return texts


LINK = re.compile(r"""\b(href|hx-get)="([^"]*)\"""")


def links(body: str, here: str, origin: str) -> list[tuple[str, bool]]:
    """The site's addresses a page links to (href) or swaps in (hx-get), without fragments;
    never sign-out, downloads or static files."""
    found = []
    for attribute, raw in LINK.findall(body):
        url = urljoin(here, unescape(raw)).split("#", 1)[0]
        if not url.startswith(origin + "/"):
            continue
        path = url[len(origin) :]
        if path.startswith(("/assets/", "/signout", "/docs", "/redoc")) or ".csv" in path:
            continue
        found.append((path, attribute == "hx-get"))
    return found


SANDBOXED = {"/digest/preview/message"}
"""Documents served in a CSP sandbox (the digest's e-mail, framed by its preview): no script runs
in them, so axe cannot either; the crawl fetches them and follows their links, and
tests/test_web_digest.py audits the e-mail's HTML as a page of its own."""


def crawl(watched: Watched, start: str = "/", statuses: dict[str, int] | None = None) -> set[str]:
    """Every address of the site the signed-in user reaches by following links from `start`:
    each path opened once as a page (audited), every address (queries included) fetched, and
    each hx-get fetched as htmx asks for it. Returns the addresses reached."""
    statuses = statuses or {}
    origin = watched.origin
    todo, seen, opened, swapped = deque([start]), {start}, set(), set()
    while todo:
        path = todo.popleft()
        status = statuses.get(urlsplit(path).path, 200)
        if urlsplit(path).path not in opened | SANDBOXED:
            opened.add(urlsplit(path).path)
            response = watched.goto(path, status)
            body, here = response.text(), watched.page.url
        else:
            with watched.expecting(status) if status >= 400 else _nothing():
                got, body = watched.fetch(path)
            assert got == status, f"{path}: {got}"
            here = watched.site.url(path)
        for link, htmx in links(body, here, origin):
            if htmx and link not in swapped:
                swapped.add(link)
                got, _ = watched.fetch(link, htmx=True)
                assert got == 200, f"htmx {link}: {got}"
            if link not in seen:
                seen.add(link)
                todo.append(link)
        assert len(seen) < 300, "the crawl found more than 300 addresses"
    return seen


def post_without_token(watched: Watched) -> list[tuple[str, int]]:
    """Post every POST form of the page as it stands, its CSRF token left out (and once with a
    wrong one): (action, status) of each."""
    forms = watched.page.evaluate(
        """() => [...document.querySelectorAll('form')]
             .filter(f => (f.getAttribute('method') || 'get').toLowerCase() === 'post')
             .map(f => [f.action, [...new FormData(f).entries()]])"""
    )
    assert forms, f"no POST form on {watched.page.url}"
    refused = []
    request = watched.page.context.request
    seen = set()
    for action, fields in forms:
        if action in seen:
            continue
        seen.add(action)
        kept = {name: value for name, value in fields if name != "csrf"}
        for extra in ({}, {"csrf": "0" * 64}):
            response = request.post(action, form={**kept, **extra}, max_redirects=0)
            assert "Form refused" in response.text(), action
            refused.append((urlsplit(action).path, response.status))
    return refused


# ---------------------------------------------------------------------- signing in and out


@pytest.mark.parametrize("role", ["admin", "bizdev", "researcher", "guest"])
def test_each_role_signs_in_to_its_start_page_and_signs_out(
    on_demo: Opener, demo_site: Site, role: str
) -> None:
    watched = on_demo(role)
    page = watched.page
    assert path_of(page) == START[role]
    main_nav = page.get_by_role("navigation", name="Main")
    links = ("Portfolio", "Projects", "Pipeline", "Search", "Your organisation", "Feedback")
    shown = {name: main_nav.get_by_role("link", name=name).count() for name in links}
    assert shown == {
        "Portfolio": int(role in ("admin", "bizdev")),
        "Projects": 1,
        "Pipeline": int(role != "guest"),
        "Search": int(role != "guest"),
        "Your organisation": int(role == "guest"),
        "Feedback": int(role == "admin"),
    }
    expect(main_nav.locator("[aria-current=page]")).to_have_count(1)
    assert demo_site.users[role] in page.get_by_role("banner").inner_text()
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    assert path_of(page) == "/signin"
    watched.goto(START[role], audit=False)  # signed out: back to the sign-in page
    assert path_of(page) == f"/signin?next={START[role]}"
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    watched.check()


def test_a_wrong_password_is_refused_on_the_page_and_next_is_kept(
    on_demo: Opener, demo_site: Site
) -> None:
    watched = on_demo()
    page = watched.page
    watched.goto("/signin?next=/pipeline")
    page.get_by_label("Username").fill(demo_site.users["bizdev"])
    page.get_by_label("Password").fill("not the password")
    with watched.expecting(401), page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    with watched.expecting(401):
        watched.audit()
    expect(page.get_by_role("alert")).to_have_text("Unknown username or wrong password.")
    expect(page.get_by_label("Username")).to_have_value(demo_site.users["bizdev"])
    sign_in(watched, demo_site.users["bizdev"], next="/pipeline")
    assert path_of(page) == "/pipeline"
    watched.check()


# ---------------------------------------------------------------------- the portfolio


def column(page: Page, table: str, index: int) -> list[str]:
    """The text of one column of a table's body, by the table's caption."""
    rows = page.get_by_role("table", name=re.compile(table)).get_by_role("row").all()[1:]
    return [row.get_by_role("cell").nth(index).inner_text().strip() for row in rows]


def percents(cells: list[str]) -> list[int]:
    return [int(m.group(1)) for c in cells if (m := re.search(r"(\d+) %", c))]


def test_portfolio_filters_sorts_and_pages(on_demo: Opener, demo_site: Site) -> None:
    watched = on_demo("bizdev")
    page = watched.page
    expect(page.get_by_role("heading", name="Portfolio", level=1)).to_be_visible()
    projects = page.get_by_role("table", name=re.compile(r"^\d+ projects"))
    expect(projects).to_contain_text("60 projects, by title")
    pager = page.get_by_role("navigation", name="Pages")
    expect(pager).to_contain_text("Rows 1\N{EN DASH}50 of 60 (page 1 of 2)")
    shoot(page, "portfolio")
    titles = column(page, r"^\d+ projects", 0)
    assert len(titles) == 50
    assert [t.casefold() for t in titles] == sorted(t.casefold() for t in titles)

    with page.expect_navigation():
        pager.get_by_role("link", name="Next →").click()
    watched.audit()
    expect(pager).to_contain_text("Rows 51\N{EN DASH}60 of 60 (page 2 of 2)")
    assert len(column(page, r"^\d+ projects", 0)) == 10
    with page.expect_navigation():
        pager.get_by_role("link", name="← Previous").click()
    watched.audit()

    # Filter: AAV projects only (a GET form, so the address keeps the filter).
    page.get_by_label("Modality").select_option(label="AAV")
    with page.expect_navigation():
        page.get_by_role("button", name="Apply").click()
    watched.audit()
    assert parse_qs(urlsplit(page.url).query)["modality"] == ["aav"]
    modalities = column(page, r"^\d+ projects", 1)
    assert modalities and set(modalities) == {"AAV"}
    expect(projects).to_contain_text(f"{len(modalities)} projects of 60")

    # Sort by a column header: the best partner's score, largest first, then reversed.
    header = page.get_by_role("columnheader", name=re.compile("^Best partner"))
    with page.expect_navigation():
        header.get_by_role("link").click()
    watched.audit()
    expect(header).to_have_attribute("aria-sort", "descending")
    scores = percents(column(page, r"^\d+ projects", 5))
    assert scores == sorted(scores, reverse=True) and len(scores) == len(modalities)
    with page.expect_navigation():
        header.get_by_role("link").click()
    watched.audit()
    expect(header).to_have_attribute("aria-sort", "ascending")
    assert percents(column(page, r"^\d+ projects", 5)) == sorted(scores)
    assert parse_qs(urlsplit(page.url).query)["modality"] == ["aav"]  # the filter stays

    # Sort by gaps through the form; then clear the filters.
    page.get_by_label("Sort by").select_option(label="Number of gaps")
    page.get_by_label("Order").select_option(label="Usual (scores and gaps largest first)")
    with page.expect_navigation():
        page.get_by_role("button", name="Apply").click()
    watched.audit()
    gaps = [int(g.split()[0]) for g in column(page, r"^\d+ projects", 7)]
    assert gaps == sorted(gaps, reverse=True)
    with page.expect_navigation():
        page.get_by_role("link", name="Clear filters").click()
    watched.audit()
    expect(projects).to_contain_text("60 projects, by title")
    watched.check()


def test_a_chokepoint_cell_opens_the_project_at_that_need(on_demo: Opener) -> None:
    watched = on_demo("bizdev")
    page = watched.page
    matrix = page.get_by_role("table", name=re.compile("^Needs covered"))
    cells = matrix.get_by_role("link", name=re.compile(r"^(gap|partly|covered) ?, (GMP|Vector)"))
    cell = cells.first
    name = cell.get_attribute("title") or ""
    best = re.match(r"Best: (.+) \(\d+ %\)$", name)
    href = cell.get_attribute("href") or ""
    with page.expect_navigation():
        cell.click()
    watched.audit()
    project, query = href.split("#")[0].split("?")
    assert path_of(page) == href.split("#")[0] and urlsplit(page.url).fragment == "partners"
    need_name = {
        "need=gmp_manufacturing": "GMP manufacturing",
        "need=vector_supply": "Vector supply",
    }
    heading = f"Partners that answer the need “{need_name[query]}”"
    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    names = match_names(page, heading)
    assert names, f"{project}: no partner listed for {query}"
    if best:  # the cell names the best candidate: the page lists it first
        assert names[0] == best.group(1), (name, names[:3])
    watched.check()


# ---------------------------------------------------------------------- a project


def test_project_tabs_reasons_and_feedback(on_demo: Opener) -> None:
    watched = on_demo("admin")
    page = watched.page
    watched.goto("/projects/P-014")
    expect(page.get_by_role("heading", level=1)).to_contain_text("RPGR")
    everyone = match_names(page, "Partners")
    assert len(everyone) >= 5
    assert match_names(page, "Funding calls")

    # Tabs swap the partners in place (htmx) and put the tab in the address.
    tabs = page.get_by_role("navigation", name="Kinds of partner")
    for tab, query, kind in (
        ("CDMOs", "cdmo", "CDMO"),
        ("Hospital units", "hospital_unit", "Hospital unit"),
    ):
        tabs.get_by_role("link", name=tab).click()
        page.wait_for_url(re.compile(rf"/projects/P-014\?tab={query}$"))
        expect(tabs.get_by_role("link", name=tab)).to_have_attribute("aria-current", "true")
        watched.settle()
        watched.audit()
        section = page.get_by_role("region", name="Partners")
        matches = section.get_by_role("listitem").filter(has=page.get_by_role("heading", level=3))
        assert matches.count() >= 1
        for text in matches.all_inner_texts():
            assert f"\n{kind}" in text or text.startswith(kind) or f" {kind} ·" in text, text
    tabs.get_by_role("link", name="All").click()
    page.wait_for_url(re.compile(r"/projects/P-014$"))
    watched.settle()
    assert match_names(page, "Partners") == everyone

    # The reasons are folded away; opening them shows the closest sentences.
    first = everyone[0]
    page.get_by_text(f"Evidence for {first}").click()  # the summary's hidden words name it
    expect(
        page.get_by_role("table", name=re.compile("^The closest sentences")).first
    ).to_be_visible()
    watched.audit()

    # Feedback: the two dismissals take the pair away for good; "relevant" keeps it.
    gone, known, kept = everyone[0], everyone[1], everyone[2]
    for name, verdict in ((gone, "Not relevant"), (known, "Already known")):
        button(page, verdict, name).click()
        expect(page.get_by_role("status").filter(has_text=name)).to_contain_text(
            f"{verdict}: {name} is no longer suggested"
        )
        watched.settle()
        watched.audit()
    button(page, "Relevant", kept).click()
    expect(page.get_by_text("Your feedback: Relevant")).to_be_visible()
    watched.settle()
    watched.audit()
    page.reload(wait_until="load")
    watched.audit()
    after = match_names(page, "Partners")
    assert gone not in after and known not in after and kept in after
    relevant = button(page, "Relevant", kept)
    expect(relevant).to_have_attribute("aria-pressed", "true")
    # Dismissed in every tab, not only where it was dismissed.
    watched.goto("/projects/P-014?tab=all")
    assert gone not in match_names(page, "Partners")
    watched.check()


def test_shortlist_move_twice_with_notes_and_download_the_pipeline(
    on_demo: Opener, tmp_path: Path
) -> None:
    watched = on_demo("bizdev")
    page = watched.page
    watched.goto("/projects/P-015")
    candidate = match_names(page, "Partners")[0]
    page.get_by_role("region", name="Partners").get_by_label("Note (optional)").first.fill(
        "Seen at ASGCT; ask about dual-vector capacity."
    )
    button(page, "Shortlist", candidate).click()
    expect(page.get_by_text("Shortlisted: To contact")).to_be_visible()
    watched.settle()
    watched.audit()
    shoot(page, "project")

    watched.goto("/pipeline")
    entry = page.get_by_role("listitem").filter(
        has=page.get_by_role("heading", name=re.compile(f"ABCA4.* {re.escape(candidate)}$"))
    )
    expect(entry).to_have_count(1)
    for stage, note in (
        ("Contacted", "Call with their BD lead on 3 December; NDA draft sent."),
        ("CDA signed", "CDA signed by both sides; technical call booked."),
    ):
        entry.get_by_label("Move to").select_option(label=stage)
        entry.get_by_label("Note", exact=True).fill(note)
        entry.get_by_role("button", name="Save").click()
        expect(page.get_by_role("status")).to_contain_text(f"Moved to {stage}")
        watched.settle()
        watched.audit()
        page.reload(wait_until="load")
        watched.audit()
        section = page.get_by_role("region", name=re.compile(f"^{stage}"))
        expect(
            section.get_by_role("heading", name=re.compile(re.escape(candidate)))
        ).to_be_visible()
        expect(entry).to_contain_text(note)
    entry.get_by_text(re.compile(r"^History \(3 moves\)")).click()
    history = entry.get_by_role("list").filter(has_text="To contact").inner_text()
    assert "ASGCT" in history and "NDA draft" in history and "CDA signed by both" in history
    shoot(page, "pipeline")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download as CSV").click()
    saved = tmp_path / "pipeline.csv"
    download.value.save_as(saved)
    assert download.value.suggested_filename == "pipeline.csv"
    rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    row = next(r for r in rows if r["candidate_name"] == candidate)
    assert row["project_id"] == "P-015" and row["stage"] == "cda_signed"
    assert row["last_note"] == "CDA signed by both sides; technical call booked."
    watched.check()


def test_search_by_a_pasted_abstract(on_demo: Opener) -> None:
    watched = on_demo("bizdev")
    page = watched.page
    watched.goto("/search")
    page.get_by_label("Text", exact=True).fill(ABSTRACT)
    page.get_by_label("Organisations").check()
    page.get_by_label("Stage").select_option(label="Preclinical")
    page.get_by_label("Modality").select_option(label="AAV")
    page.get_by_label("Vector supply").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Search", exact=True).click()
    watched.audit()
    region = "Organisations for your text"
    partners = match_names(page, region)
    assert len(partners) >= 5
    results = page.get_by_role("region", name=region)
    assert "CDMO" in results.inner_text() and "AAV" in results.inner_text()
    expect(page.get_by_label("Text", exact=True)).to_have_value(
        ABSTRACT
    )  # the text stays for another go

    with page.expect_navigation():
        page.get_by_role("button", name="Funding calls").click()
    watched.audit()
    calls = page.get_by_role("region", name="Funding calls for your text")
    expect(calls).to_contain_text(re.compile("Open|Forthcoming"))
    with page.expect_navigation():
        page.get_by_role("button", name="Our projects").click()
    watched.audit()
    ours = match_names(page, "Our projects for your text")
    assert any("retin" in n.lower() or "RPE65" in n for n in ours[:3]), ours[:5]
    watched.check()


def test_an_organisation_and_a_call_rank_our_projects(on_demo: Opener) -> None:
    watched = on_demo("bizdev")
    page = watched.page
    watched.goto("/projects/P-001")
    partner = match_names(page, "Partners")[0]
    call = match_names(page, "Funding calls")[0]
    with page.expect_navigation():
        region = page.get_by_role("region", name="Partners")
        region.get_by_role("link", name=partner, exact=True).click()
    watched.audit()
    expect(page.get_by_role("heading", level=1)).to_have_text(partner)
    pitch = f"Our projects to pitch to {partner}"
    projects = match_names(page, pitch)
    assert projects and len(projects) <= 10
    expect(page.get_by_role("region", name=pitch)).to_contain_text("%")
    shoot(page, "organisation")

    watched.goto("/projects/P-001")
    with page.expect_navigation():
        region = page.get_by_role("region", name="Funding calls")
        region.get_by_role("link", name=call, exact=True).click()
    watched.audit()
    expect(page.get_by_role("heading", level=1)).to_have_text(call)
    expect(page.get_by_role("heading", name="Who may apply")).to_be_visible()
    submit = "Our projects to submit to this call"
    eligible = match_names(page, submit)
    with page.expect_navigation():
        page.get_by_role("link", name="Also those that may not").click()
    watched.audit()
    assert len(match_names(page, submit)) >= len(eligible)
    watched.check()


# ---------------------------------------------------------------------- what a role may see


def test_a_researcher_works_on_their_own_projects_only(on_demo: Opener, demo_site: Site) -> None:
    researcher = demo_site.users["researcher"]
    watched = on_demo("researcher")
    page = watched.page
    mine = page.get_by_role("row").filter(has_text="Yours")
    expect(mine.first).to_contain_text("P-001")
    watched.goto("/projects/P-001")
    assert match_names(page, "Partners")
    assert page.get_by_role("button", name=re.compile("^Shortlist")).count() == 0
    name = match_names(page, "Partners")[0]
    button(page, "Relevant", name).click()
    expect(page.get_by_text("Your feedback: Relevant")).to_be_visible()
    watched.settle()
    watched.goto("/pipeline")
    assert page.get_by_role("link", name="Download as CSV").count() == 0
    assert page.get_by_label("Move to").count() == 0
    for path in ("/portfolio", "/pipeline.csv"):
        watched.goto(path, 403)
    watched.goto("/search")
    page.get_by_label("Text", exact=True).fill(ABSTRACT)
    page.get_by_label("Our projects").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Search", exact=True).click()
    watched.audit()
    for project in ("/projects/P-004", "/projects/P-025"):  # u.nakashima.k's confidential ones
        watched.goto(project, 404)
    watched.assert_never_shown(hidden_demo_texts(researcher))
    watched.check()


def test_a_researcher_never_sees_another_researchers_confidential_project(
    on_access: Opener,
) -> None:
    watched = on_access("researcher")
    page = watched.page
    reached = crawl(watched)
    assert {"/projects/P-OWN-CONF", "/projects/P-TEAM-CONF", "/organisations/O-SITE"} <= reached
    # What a researcher may search: partners, calls and projects for a text about the hidden one.
    watched.goto("/search")
    for target in ("Organisations", "Funding calls", "Our projects"):
        page.get_by_label("Text", exact=True).fill(
            "Dual-targeting CAR-T cells against glioblastoma with intracranial persistence; we "
            "need GMP CAR-T manufacturing and trial sites."
        )
        page.get_by_label(target).check()
        with page.expect_navigation():
            page.get_by_role("button", name="Search", exact=True).click()
        watched.audit()
    # Feedback on their own project answers a fragment; it is checked like every body.
    watched.goto("/projects/P-OWN-CONF")
    name = match_names(page, "Partners")[0]
    button(page, "Relevant", name).click()
    expect(page.get_by_text("Your feedback: Relevant")).to_be_visible()
    watched.goto("/projects/P-OTHER-CONF", 404)
    shown = watched.shown()
    assert CANARY_OWN in shown and CANARY_TEAM in shown  # the crawl saw what they may see
    watched.assert_never_shown(HIDDEN_CANARIES["researcher"])
    assert CANARY_OTHER not in shown
    watched.check()


def test_a_guest_sees_only_what_the_api_shows_a_guest(on_access: Opener, access_site: Site) -> None:
    api = {
        kind: {item["id"] for item in access_site.api("guest", f"/api/v1/{kind}")["items"]}
        for kind in ("projects", "organisations", "calls")
    }
    assert api == {"projects": {"P-PUBLIC"}, "organisations": {GUEST_ORG}, "calls": set()}
    watched = on_access("guest")
    reached = crawl(watched)
    objects = {
        kind: {p.split("/")[2].split("?")[0] for p in reached if p.startswith(f"/{kind}/")}
        for kind in ("projects", "organisations", "calls")
    }
    assert objects == api, reached
    watched.assert_never_shown(HIDDEN_CANARIES["guest"])
    # The public summary only: no owner, no team, no needs, no ranking.
    watched.goto("/projects/P-PUBLIC")
    summary = watched.page.get_by_role("main").inner_text()
    owner = PRINCIPALS["researcher"][0]
    public = access_site.api("guest", "/api/v1/projects/P-PUBLIC")
    assert public.get("owner") is None and "u.other" not in summary and owner not in summary
    assert "Needs" not in summary and "public summary" in summary
    for path, status in (
        ("/projects/P-INTERNAL", 404),
        ("/projects/P-OWN-CONF", 404),
        ("/organisations/O-SITE", 404),
        ("/calls/C-CART", 404),
        ("/search", 403),
        ("/portfolio", 403),
        ("/pipeline", 403),
        ("/pipeline.csv", 403),
    ):
        watched.goto(path, status)
    watched.assert_never_shown(HIDDEN_CANARIES["guest"])
    watched.check()


# ---------------------------------------------------------------------- forms


def test_every_form_posted_without_its_token_is_refused(on_demo: Opener) -> None:
    watched = on_demo("bizdev")
    page = watched.page
    refused = []
    with watched.expecting(403):
        for path in ("/projects/P-002", "/search"):
            watched.goto(path)
            refused += post_without_token(watched)
        watched.goto("/projects/P-002")  # a pipeline entry to move, for its form
        name = match_names(page, "Partners")[-1]
        button(page, "Shortlist", name).click()
        expect(page.get_by_text("Shortlisted: To contact")).to_be_visible()
        watched.goto("/pipeline")
        refused += post_without_token(watched)
        # The control: the same request with the page's token goes through (the cookie is sent).
        watched.goto("/search")
        token = page.locator("#search input[name=csrf]").input_value()
        done = page.context.request.post(
            watched.site.url("/search"), form={"csrf": token, "q": ABSTRACT, "to": "partners"}
        )
        assert done.status == 200 and "Organisations for your text" in done.text()
        # In the browser too: the sign-out form without its token is refused as a page.
        page.get_by_role("banner").locator("input[name=csrf]").evaluate("e => e.remove()")
        with page.expect_navigation():
            page.get_by_role("button", name="Sign out").click()
        assert page.url.endswith("/signout")
        expect(page.get_by_role("heading", name="Form refused")).to_be_visible()
        watched.audit()
    paths = {re.sub(r"/(P-\d+|\d+)/", "/{id}/", path) for path, _ in refused}
    assert paths == {
        "/signout",
        "/projects/{id}/feedback",
        "/projects/{id}/shortlist",
        "/search",
        "/pipeline/{id}/moves",
    }, refused
    assert {status for _, status in refused} == {403}, refused
    watched.goto("/portfolio")  # still signed in: nothing was done
    watched.check()
