"""A real browser over a real server, for the page tests (test_web.py) and the page benchmark
(bench/pages.py).

A world folder (database and indexes) is copied, given one user per role with a password and
an API key, and served by `matcher serve` in a subprocess on a free loopback port. Pages are
driven by Debian's chromium through Playwright (no browser download). `Watched` wraps a page and
records what a person would not see but must not happen: console errors, failed requests,
error responses nobody expected, requests to another host; and runs axe-core on what is shown.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from matcher import (
    Conflict,
    DocumentEncoder,
    Embedder,
    Role,
    Store,
    build_indexes,
    create_user,
    issue_key,
    load_directory,
    set_password,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Request
    from playwright.sync_api import Response as PageResponse

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
AXE = ROOT / "tests" / "vendor" / "axe.min.js"
DEMO_DATA = ROOT / "data" / "demo"
TODAY = "2026-12-01"
PASSWORD = "a long enough web password"
VIEWPORT = {"width": 1280, "height": 900}
BLOCKING = ("serious", "critical")
"""The axe impacts a page may not have."""

# Who signs in to the demo world, by role: the users of data/demo/users.jsonl (u.okonkwo.a owns
# P-001, a confidential project; partner.guest belongs to O-002).
DEMO_USERS = {
    "admin": ("hub.admin", None),
    "bizdev": ("hub.bizdev", None),
    "researcher": ("u.okonkwo.a", None),
    "guest": ("partner.guest", "O-002"),
}


# ---------------------------------------------------------------------- can we run at all


def unavailable() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed: .venv/bin/pip install -e '.[dev]'"
    if not CHROMIUM.exists():
        return f"no chromium at {CHROMIUM}: apt-get install chromium"
    if not AXE.exists():
        return f"axe-core is not vendored at {AXE.relative_to(ROOT)}: run scripts/vendor"
    return None


def require_browser() -> None:
    """Skip the calling module when the browser or axe is missing; in CI, fail instead."""
    reason = unavailable()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the browser tests, but {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


# ---------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Site:
    """A served copy of a world: where it answers, who may sign in (username by role) and their
    API headers (to ask the API what a role may see)."""

    base: str
    world: Path
    log: Path
    users: dict[str, str] = field(default_factory=dict)
    api_headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return urljoin(self.base, path)

    def api(self, role: str, path: str) -> Any:
        """The API's answer to a GET as `role` (JSON)."""
        response = httpx.get(self.url(path), headers=self.api_headers[role], timeout=60)
        response.raise_for_status()
        return response.json()


def copy_world(source: Path, target: Path) -> Path:
    """A private copy of a world folder (database and models; not its data files)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("data"))
    return target


def add_web_users(
    database: Path, users: dict[str, tuple[str, str | None]], password: str = PASSWORD
) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """One user per role with a password and an API key: (usernames, API headers) by role. A
    user the world already holds keeps its role and gets the password."""
    names, headers = {}, {}
    with Store(database) as store:
        for role, (username, organisation) in users.items():
            with contextlib.suppress(Conflict):
                create_user(store, username, Role(role), organisation)
            set_password(store, username, password)
            _, key = issue_key(store, username, label="browser tests")
            names[role] = username
            headers[role] = {"Authorization": f"Bearer {key}"}
    return names, headers


@contextlib.contextmanager
def serving(world: Path, log: Path, **env: str) -> Iterator[str]:
    """`matcher serve` over a world folder on a free loopback port, on the demo's clock and
    country; yields its base URL once /health answers."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MATCHER_")}
    environment.update(
        MATCHER_DB_PATH=str(world / "matcher.db"),
        MATCHER_MODELS_DIR=str(world / "models"),
        MATCHER_TODAY=TODAY,
        MATCHER_HUB_COUNTRY="SE",
        **env,
    )
    argv = [sys.executable, "-m", "service.cli", "serve", "--port", str(port)]
    with log.open("wb") as out:
        server = subprocess.Popen(argv, env=environment, stdout=out, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 180
            while True:
                try:
                    if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if server.poll() is not None:
                    raise RuntimeError(f"the server stopped:\n{log.read_text()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start in 180 s:\n{log.read_text()}")
                time.sleep(0.3)
            yield base
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


EXTRA_PROJECTS = [
    # title, modality, indication, stage, needs, what was shown, what is needed next
    ("CD5-deleted CD5 CAR-T cells for relapsed T-cell lymphoma", "car_t",
     "peripheral T-cell lymphoma", "preclinical", ["gmp_manufacturing", "clinical_sites"],
     "Base-edited CD5-negative CAR-T cells avoid fratricide and clear CD5-positive lymphoma in "
     "xenograft mice without losing expansion.",
     "A closed manufacturing run at clinical scale is planned for next year."),
    ("GD2 CAR-NKT cells with IL-15 for relapsed neuroblastoma", "other_immune_cell",
     "neuroblastoma", "phase_1", ["clinical_sites", "co_funding"],
     "Three children treated in a pilot cohort showed NKT cell persistence beyond six weeks.",
     "We want to open two more paediatric oncology sites in the Nordic countries."),
    ("Cord-blood NK cells armed with a CD33 CAR for acute myeloid leukaemia", "nk_cell",
     "acute myeloid leukaemia", "gmp_process_development", ["process_development", "analytics_qc"],
     "Expanded cord-blood NK cells kill CD33-positive blasts and survive cryopreservation.",
     "Release assays for potency and identity still have to be validated."),
    ("Donor-derived Tregs with a HLA-A2 CAR to prevent kidney transplant rejection", "treg",
     "kidney transplant rejection", "preclinical", ["gmp_manufacturing", "regulatory_advice"],
     "HLA-A2-specific CAR Tregs protected human skin grafts in humanised mice.",
     "We need scientific advice on the comparability of a modified Treg product."),
    ("Tumour-infiltrating lymphocytes from uveal melanoma liver metastases", "til",
     "metastatic uveal melanoma", "phase_1", ["cro_services", "clinical_sites"],
     "TILs expanded from liver biopsies recognise autologous tumour in eight of ten patients.",
     "A CRO should monitor the first-in-human study across three centres."),
    ("AAV2 gene therapy for choroideremia with an optimised CHM cassette", "aav",
     "choroideremia", "preclinical", ["vector_supply", "clinical_sites"],
     "A codon-optimised CHM cassette restored REP1 in patient-derived retinal organoids.",
     "We need GMP vector and a vitreoretinal surgery unit for a dose-escalation study."),
    ("Intracerebroventricular AAV9 for CLN2 Batten disease in infants", "aav",
     "neuronal ceroid lipofuscinosis type 2", "gmp_process_development",
     ["vector_supply", "analytics_qc"],
     "A single intracerebroventricular dose corrected TPP1 activity in the brain of sheep.",
     "Full-empty capsid analytics and potency assays must be transferred to a GMP lab."),
    ("Lentiviral ARSA gene therapy for late-infantile metachromatic leukodystrophy",
     "lentiviral", "metachromatic leukodystrophy", "phase_2_plus",
     ["gmp_manufacturing", "co_funding"],
     "Transduced stem cells kept ARSA activity above normal in all six treated children.",
     "Commercial-scale vector and funding for a confirmatory study are the next steps."),
    ("Lentiviral gene therapy for leukocyte adhesion deficiency type I", "lentiviral",
     "leukocyte adhesion deficiency", "preclinical", ["vector_supply", "industry_partner"],
     "Corrected CD18 expression restored neutrophil adhesion in patient cells.",
     "We look for an industry partner to take the product to the clinic."),
    ("Prime-edited haematopoietic stem cells for sickle cell disease", "crispr_edited",
     "sickle cell disease", "discovery", ["process_development", "co_funding"],
     "Prime editing reverted the sickle mutation in 40 percent of long-term repopulating cells.",
     "Editing efficiency at clinical cell numbers remains to be shown."),
    ("CRISPR knock-out of PD-1 in autologous T cells for mesothelioma", "crispr_edited",
     "malignant pleural mesothelioma", "phase_1", ["clinical_sites", "regulatory_advice"],
     "PD-1 edited T cells expanded well and showed no off-target edits by whole-genome "
     "sequencing.",
     "Thoracic oncology sites and advice on long-term follow-up are needed."),
    ("iPSC-derived retinal pigment epithelium patches for geographic atrophy", "ipsc_derived",
     "geographic atrophy", "gmp_process_development", ["gmp_manufacturing", "clinical_sites"],
     "RPE patches on a biodegradable scaffold integrated and survived for six months in pigs.",
     "A GMP facility for patch production and an ophthalmic surgery centre are sought."),
    ("iPSC-derived beta-cell clusters in a retrievable device for type 1 diabetes",
     "ipsc_derived", "type 1 diabetes", "preclinical", ["process_development", "industry_partner"],
     "Encapsulated beta-cell clusters normalised glucose in diabetic mice for 120 days.",
     "Scaled differentiation and a device partner are the main gaps."),
    ("Bone-marrow MSCs for steroid-refractory acute graft-versus-host disease in children",
     "msc", "graft-versus-host disease", "phase_2_plus", ["clinical_sites", "cro_services"],
     "In a single-arm study, 62 percent of children responded by day 28.",
     "A randomised multicentre trial needs sites and a CRO."),
    ("Adipose-derived MSC sheets for complex perianal fistula in Crohn disease", "msc",
     "perianal fistulising Crohn disease", "phase_1", ["gmp_manufacturing", "regulatory_advice"],
     "Cell sheets closed fistula tracts in five of seven patients in a pilot study.",
     "A contract manufacturer and regulatory advice on a combined product are needed."),
    ("Tissue-engineered tracheal graft seeded with autologous epithelium", "tissue_engineered",
     "long-segment tracheal stenosis", "preclinical", ["gmp_manufacturing", "analytics_qc"],
     "Decellularised grafts recellularised with airway epithelium stayed patent in sheep.",
     "Sterility and mechanical release testing must be defined before first use."),
    ("Bioprinted cartilage implants for nasal reconstruction after skin cancer surgery",
     "tissue_engineered", "nasal cartilage defects", "discovery",
     ["process_development", "co_funding"],
     "Chondrocyte-laden hydrogel implants kept their shape and matrix for twelve weeks in mice.",
     "We need funding to build a process that a hospital cleanroom can run."),
    ("TCR-T cells against MAGE-A4 for synovial sarcoma", "tcr_t", "synovial sarcoma",
     "gmp_process_development", ["gmp_manufacturing", "clinical_sites"],
     "A high-affinity MAGE-A4 TCR from a healthy donor repertoire killed sarcoma lines.",
     "Sarcoma centres and a GMP site for retroviral transduction are needed."),
    ("Virus-specific T cells from third-party donors for BK virus cystitis", "other_immune_cell",
     "BK virus haemorrhagic cystitis", "phase_1", ["clinical_sites", "co_funding"],
     "Banked BK-specific T cells cleared viruria in four of five transplant recipients.",
     "An off-the-shelf bank needs funding and transplant centres."),
    ("Gene-corrected autologous keratinocyte grafts for recessive dystrophic epidermolysis "
     "bullosa", "other", "epidermolysis bullosa", "preclinical",
     ["vector_supply", "regulatory_advice"],
     "COL7A1-corrected keratinocyte grafts formed anchoring fibrils on mice for six months.",
     "We need retroviral vector supply and advice on a combined gene and tissue product."),
]  # fmt: skip
"""More projects for the page tests, so that the portfolio has a second page (50 rows a page)."""


def add_projects(world: Path, embedder: Embedder) -> None:
    """Add EXTRA_PROJECTS (internal or public, owned by demo researchers other than the one the
    tests sign in as) to a copy of the demo, and rebuild its indexes (a few seconds: the rest
    is in the embedding cache)."""
    from tests.conftest import make_project, write_jsonl

    lines = (DEMO_DATA / "projects.jsonl").read_text().splitlines()
    owners = sorted({json.loads(line)["owner"] for line in lines} - {DEMO_USERS["researcher"][0]})
    records = [
        make_project(
            id=f"P-{len(lines) + 1 + i:03d}",
            title=title,
            abstract=f"{shown} {nxt}",
            modality=modality,
            indications=[indication],
            stage=stage,
            needs=needs,
            owner=owners[i % len(owners)],
            team=[],
            visibility=("internal", "public")[i % 2],
            updated_at="2026-11-20T09:00:00Z",
        )
        for i, (title, modality, indication, stage, needs, shown, nxt) in enumerate(EXTRA_PROJECTS)
    ]
    data = world / "extra"
    data.mkdir()
    write_jsonl(data / "projects.jsonl", records)
    with Store(world / "matcher.db") as store:
        load_directory(store, data)
        build_indexes(store, DocumentEncoder(embedder, store), world / "models")


@contextlib.contextmanager
def site(
    source: Path,
    directory: Path,
    users: dict[str, tuple[str, str | None]],
    embedder: Embedder | None = None,
    **env: str,
) -> Iterator[Site]:
    """A copy of the world in `source`, with web users (and, given the embedder, the demo's
    EXTRA_PROJECTS), served."""
    world = copy_world(source, directory / "world")
    if embedder is not None:
        add_projects(world, embedder)
    names, headers = add_web_users(world / "matcher.db", users)
    log = directory / "server.log"
    with serving(world, log, **env) as base:
        yield Site(base, world, log, names, headers)


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        try:
            yield browser
        finally:
            browser.close()


def new_context(browser: Browser, site: Site) -> BrowserContext:
    """A fresh context (no cookies) at the screenshots' viewport; downloads accepted."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True, base_url=site.base)
    context.set_default_timeout(30_000)
    return context


def demo_site(
    world: Path, embedder: Embedder, directory: Path
) -> contextlib.AbstractContextManager[Site]:
    """data/demo (built in `world`) and EXTRA_PROJECTS more projects, served, with one user per
    role (DEMO_USERS)."""
    return site(world, directory, DEMO_USERS, embedder)


def access_site(world: Path, directory: Path) -> contextlib.AbstractContextManager[Site]:
    """The access world (projects carrying canary strings), served, with conftest's
    PRINCIPALS."""
    from tests.conftest import PRINCIPALS

    users = {role: (name, org) for role, (name, _, org) in PRINCIPALS.items()}
    return site(world, directory, users)


# ---------------------------------------------------------------------- a watched page


AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.join(' '), html: n.html.slice(0, 200)})),
  }));
}"""


class Watched:
    """A page that records console errors, failed requests, error responses nobody expected,
    requests to another host (aborted, so nothing leaves the machine) and the body of every
    text response it receives (pages and htmx fragments), and checks each page with axe.

    `check()` raises with everything recorded; `expecting(403)` lets one status through."""

    def __init__(self, page: Page, site: Site) -> None:
        self.page = page
        self.site = site
        self.origin = "{0.scheme}://{0.netloc}".format(urlsplit(site.base))
        self.console_errors: list[str] = []
        self.failed: list[str] = []
        self.unexpected: list[str] = []
        self.foreign: list[str] = []
        self.bodies: list[tuple[str, str]] = []
        self.expected: list[int] = []
        self.inaccessible: dict[tuple[str, str, str], str] = {}
        self.reported = False
        self.audited = 0
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.console_errors.append(f"uncaught: {error}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)
        page.route(lambda url: not url.startswith(self.origin), self._foreign)

    # -------------------------------------------------------------- recording

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        text = message.text
        if any(f"status of {status}" in text for status in self.expected):
            return
        self.console_errors.append(f"{text} ({message.location.get('url', '')})")

    def _failed(self, request: Request) -> None:
        if request.url.startswith(self.origin):
            self.failed.append(f"{request.method} {request.url}: {request.failure}")

    def _foreign(self, route: Any) -> None:
        self.foreign.append(f"{route.request.method} {route.request.url}")
        route.abort()

    def _response(self, response: PageResponse) -> None:
        if not response.url.startswith(self.origin):
            return
        if response.status >= 400 and response.status not in self.expected:
            self.unexpected.append(f"{response.status} {response.request.method} {response.url}")
        kind = response.headers.get("content-type", "")
        if 300 <= response.status < 400 or not kind.startswith(("text/", "application/json")):
            return
        if "attachment" in response.headers.get("content-disposition", ""):
            return
        with contextlib.suppress(Exception):  # a body the browser has already let go of
            self.bodies.append((response.url, response.text()))

    @contextlib.contextmanager
    def expecting(self, status: int) -> Iterator[None]:
        """Within the block, responses with `status` (and Chromium's console line about them)
        are expected rather than failures."""
        self.expected.append(status)
        try:
            yield
        finally:
            self.expected.remove(status)

    # -------------------------------------------------------------- checking

    def problems(self) -> list[str]:
        return (
            [f"console error: {e}" for e in self.console_errors]
            + [f"request failed: {e}" for e in self.failed]
            + [f"unexpected response: {e}" for e in self.unexpected]
            + [f"request to another host: {e}" for e in self.foreign]
        )

    def check(self) -> None:
        """Raise with every console error, failed request, unexpected error response, request
        to another host and serious or critical axe violation seen so far."""
        found = self.problems() + [f"axe: {v}" for v in self.inaccessible.values()]
        self.reported = bool(found)
        assert not found, "on " + self.page.url + ":\n" + "\n".join(found)

    def violations(self) -> list[dict[str, Any]]:
        """axe-core's violations on the page as shown now."""
        if not self.page.evaluate("typeof window.axe !== 'undefined'"):
            self.page.add_script_tag(path=str(AXE))
        self.audited += 1
        found: list[dict[str, Any]] = self.page.evaluate(AXE_RUN)
        return found

    def audit(self) -> None:
        """Run axe on the page as shown now and keep its serious and critical violations (for
        `check`, so that a flow goes on and shows every defect); raise at once on anything
        else recorded."""
        path = urlsplit(self.page.url).path
        for v in self.violations():
            if v["impact"] in BLOCKING:
                for node in v["nodes"]:
                    self.inaccessible.setdefault(
                        (path, v["id"], node["target"]),
                        f"{path}: {v['id']} ({v['impact']}): {v['help']}; "
                        f"{node['target']}: {node['html']}",
                    )
        found = self.problems()
        assert not found, "on " + self.page.url + ":\n" + "\n".join(found)

    def goto(self, path: str, status: int = 200, audit: bool = True) -> PageResponse:
        """Open a page of the site, check its status, wait for it to load, audit it."""
        with self.expecting(status) if status >= 400 else contextlib.nullcontext():
            response = self.page.goto(self.site.url(path), wait_until="load")
            assert response is not None, path
            assert response.status == status, f"{path}: {response.status}, not {status}"
            if audit:
                self.audit()
            else:
                self.check()
        return response

    def fetch(self, url: str, htmx: bool = False) -> tuple[int, str]:
        """GET an address of the site from the page, as a link would (or as htmx does, with
        HX-Request), so that its body is recorded like every other: (status, body)."""
        status, body = self.page.evaluate(
            """async ([url, htmx]) => {
                 const r = await fetch(url, {headers: htmx ? {'HX-Request': 'true'} : {}});
                 return [r.status, await r.text()];
               }""",
            [self.site.url(url), htmx],
        )
        return int(status), str(body)

    def settle(self) -> None:
        """Wait until htmx has nothing in flight and the network is quiet."""
        self.page.wait_for_load_state("load")
        self.page.wait_for_function(
            "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
        )

    def shown(self) -> str:
        """Everything received so far (pages, fragments, JSON) and the page as it is now."""
        return "\n".join(body for _, body in self.bodies) + self.page.content()

    def assert_never_shown(self, secrets: set[str] | frozenset[str]) -> None:
        for url, body in [*self.bodies, (self.page.url, self.page.content())]:
            leaked = sorted(s for s in secrets if s in body)
            assert not leaked, f"{url} shows {leaked}"


def sign_in(watched: Watched, username: str, password: str = PASSWORD, next: str = "") -> None:
    """Sign in through the form, as a person does; ends on the page the site sends them to."""
    page = watched.page
    watched.goto("/signin" + (f"?next={next}" if next else ""))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Sign in").click()
    assert "/signin" not in page.url, f"{username} was not signed in: {page.url}"


def dump(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")
