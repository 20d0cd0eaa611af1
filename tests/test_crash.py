"""Crash safety, on SQLite and on PostgreSQL: `matcher load` or `matcher import`, then `matcher
build`, SIGKILLed.

Batch A is loaded, the CORDIS fixture (tests/data/sources/cordis/csv) imported and both built by
the real `matcher` command (all exit 0: acknowledged), once per database; each kill point then
starts from a copy of that state, runs `matcher load B` (or `matcher import cordis DIR`, a
generated CORDIS export of 600 participants and 3,000 participation rows, stored in one
transaction with a `source_records` row per participant) and `matcher build` as an operator
would, and SIGKILLs whichever is running at a random moment. After the kill a new process (this
one) opens the store and checks that

- everything acknowledged is there, unchanged (nothing acknowledged is lost; B or the import too
  once its command exited 0);
- B or the import is entirely present or entirely absent (one transaction): no entity without
  its documents, no documents, member rows or source records without their entity, no imported
  entity without its source record, the fixture's records marked absent by the import (a
  snapshot) all or none, the data version moved once;
- each saved index either loads, its ids being exactly the store's document ids of its kind, or
  is refused as stale (`StaleIndex`, `IndexNotBuilt`), and the recommender refuses exactly then;

then leaves a half-written temp file beside each index file (what a kill inside the atomic
writer leaves: nothing may read it) and recovers as an operator would, loading B or importing
again and building again (through `load_directory`, `import_source` and `build_indexes`, what
`matcher load`, `matcher import` and `matcher build` call, in this process with the model loaded
once: a `matcher build` process spends ~10 s loading it), and checks that the batch is whole and
that every index's ids are the store's document ids. A kill point whose step and build both end
before its moment checks the uninterrupted run the same way.

The moments are drawn from `random.Random(CRASH_SEED)`, aiming in turn (AIMS) at (1) B's load
inside its write transaction (uniformly over A's transaction length plus a fifth, counted from
when B's load is seen taking the store's write lock), (2) B's build among its saves (uniformly
over the time a build of A with every text cached, as B's nearly are, takes from its first saved
index to its last, plus half, counted from when B's build is seen saving its first file), (3) the
import inside its write transaction (over an uninterrupted import's, plus a fifth), (4) the
build after the import among its saves (as 2), (5) B's load (uniformly over A's uninterrupted
load), (6) B's build (uniformly over A's uninterrupted build), (7) the import (over an
uninterrupted import) and (8) the build after it (as 6): A and B are alike in size and texts,
and the import's texts are cached but for a couple. CRASH_POINTS kill points per database
(default 2, the first two aims; 4 adds the import's; `make crash` runs 20); CRASH_REPORT names a
JSON file for the observations (each kill point, and a summary per database), which are printed
too (`pytest -s`).
"""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from matcher import (
    DocumentEncoder,
    IndexNotBuilt,
    Recommender,
    SentenceTransformerEmbedder,
    StaleIndex,
    Store,
    build_indexes,
    load_directory,
)
from matcher.build import index_dir
from matcher.domain import Entity, EntityKind
from matcher.records import parse_call, parse_organisation, parse_project
from matcher.settings import DEFAULT_MODEL
from matcher.sources import SourceItem, cordis, import_source
from matcher.store.engine import WRITE_LOCK
from matcher.store.schema import documents, embeddings, entities, members, meta, source_records
from matcher.vectors.index import INDEX_FILE, MANIFEST_FILE, VectorIndex
from tests.conftest import ROOT, make_call, make_organisation, make_project, write_world

pytestmark = [pytest.mark.both_databases, pytest.mark.slow]

POINTS = int(os.environ.get("CRASH_POINTS", "2"))
SEED = int(os.environ.get("CRASH_SEED", "20261125"))
REPORT = os.environ.get("CRASH_REPORT", "")
AIMS = (
    "load-write",
    "build-write",
    "import-write",
    "import-build-write",
    "load",
    "build",
    "import",
    "import-build",
)
"""What kill point i aims at: AIMS[i % 8] (the default two points: a load in its transaction, and a
build among its saves; `CRASH_POINTS=4` adds an import in its transaction and the build after an
import among its saves)."""
COMMAND_TIMEOUT = 600  # seconds; a `matcher build` loads the model (seconds) on a busy machine

# ---------------------------------------------------------------------------- the batches
# Texts come from small pools, so that A's build embeds them once and B's build finds most in the
# embedding cache (the build of a few hundred unique texts would take minutes on two cores); a
# few of B's texts are new, so that its build writes to the cache too.

THEMES = [
    # modality, indication, project title, abstract, call title
    (
        "aav",
        "inherited retinal dystrophy",
        "AAV8 gene therapy for inherited retinal dystrophy",
        "We develop an AAV8 vector that restores RPE65 in inherited retinal dystrophy. "
        "Subretinal delivery in large animals gave durable expression.",
        "Gene therapy for rare eye diseases",
    ),
    (
        "car_t",
        "diffuse large B-cell lymphoma",
        "CD19 CAR-T cells made in a closed automated system",
        "An academic CD19 CAR-T product for relapsed diffuse large B-cell lymphoma. "
        "We move manufacturing to a closed automated platform.",
        "Clinical translation of CAR-T therapies",
    ),
    (
        "lentiviral",
        "sickle cell disease",
        "Lentiviral gene addition in blood stem cells for sickle cell disease",
        "Autologous CD34-positive cells receive an anti-sickling beta-globin gene. "
        "Engraftment in mice was stable for six months.",
        "Gene therapy for haemoglobin disorders",
    ),
    (
        "crispr_edited",
        "beta-thalassaemia",
        "CRISPR editing of the BCL11A enhancer in autologous stem cells",
        "Editing the erythroid BCL11A enhancer raises foetal haemoglobin. "
        "We scale electroporation of CD34-positive cells to clinical doses.",
        "Genome editing towards first-in-human trials",
    ),
    (
        "ipsc_derived",
        "Parkinson's disease",
        "iPSC-derived dopaminergic neurons for Parkinson's disease",
        "Dopaminergic progenitors from a clinical-grade iPSC line survive and innervate the "
        "striatum in rats.",
        "Regenerative medicine for neurodegenerative disease",
    ),
    (
        "msc",
        "graft-versus-host disease",
        "Bone-marrow MSCs for steroid-refractory graft-versus-host disease",
        "Pooled mesenchymal stromal cells calm steroid-refractory acute GvHD. "
        "A potency assay predicts response.",
        "Advanced therapies for transplant complications",
    ),
    (
        "nk_cell",
        "acute myeloid leukaemia",
        "Cord-blood NK cells armed with a CD33 CAR for AML",
        "Expanded cord-blood NK cells with a CD33 CAR kill AML blasts without "
        "graft-versus-host disease in mice.",
        "Innovative cell therapies for leukaemia",
    ),
    (
        "tissue_engineered",
        "cartilage defects",
        "Tissue-engineered cartilage grafts for knee defects",
        "Autologous chondrocytes grown on a collagen scaffold repair full-thickness "
        "defects in sheep knees.",
        "Tissue engineering for musculoskeletal repair",
    ),
]
NEEDS = [
    ["vector_supply", "clinical_sites"],
    ["gmp_manufacturing", "clinical_sites"],
    ["process_development", "analytics_qc"],
    ["regulatory_advice", "co_funding"],
]
STAGES = ["discovery", "preclinical", "gmp_process_development"]
VISIBILITIES = ["confidential", "internal", "public"]
PROFILES = {
    "cdmo": "GMP manufacturing of {what} in grade B cleanrooms, with release testing on site.",
    "cro": "Preclinical pharmacology and GLP toxicology studies of {what}.",
    "hospital_unit": "A phase I unit running first-in-human trials of {what}.",
    "biotech": "A start-up developing {what}, looking for academic partners.",
    "pharma": "Late-stage development and licensing of {what}.",
    "academic_group": "A university group studying {what}.",
}
WHAT = [
    "AAV vectors",
    "CAR-T cells",
    "lentiviral vectors",
    "CRISPR-edited stem cells",
    "iPSC-derived cells",
    "mesenchymal stromal cells",
]
COUNTRIES = ["SE", "DE", "NL", "BE", "FR", "DK"]


def batch(tag: str, projects: int, organisations: int, calls: int) -> dict[str, list[Any]]:
    """Records for one batch, ids prefixed by `tag`; the first two of each kind in batch B have
    texts of their own (not in the embedding cache)."""
    fresh = tag == "B"

    def own(i: int, text: str) -> str:
        return (
            f"{text} Batch {tag}, record {i}: a site visit is planned." if fresh and i < 2 else text
        )

    ps = []
    for i in range(projects):
        modality, indication, title, abstract, _ = THEMES[i % len(THEMES)]
        ps.append(
            make_project(
                id=f"{tag}-P-{i:04d}",
                title=title,
                abstract=own(i, abstract),
                modality=modality,
                indications=[indication],
                stage=STAGES[i % len(STAGES)],
                needs=NEEDS[i % len(NEEDS)],
                owner=f"u.{tag.lower()}.owner{i % 7}",
                team=[f"u.team{j}" for j in range(i % 3)],
                visibility=VISIBILITIES[i % len(VISIBILITIES)],
                updated_at=f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00Z",
            )
        )
    os_ = []
    for i in range(organisations):
        kind = list(PROFILES)[i % len(PROFILES)]
        what = WHAT[i % len(WHAT)]
        docs = [{"title": "Capabilities", "text": own(i, PROFILES[kind].format(what=what))}]
        if i % 3 == 0:
            docs.append({"title": "Past projects", "text": f"Worked with hospitals on {what}."})
        os_.append(
            make_organisation(
                id=f"{tag}-O-{i:04d}",
                name=f"{what.split()[0]} {kind.replace('_', ' ')} {tag}{i}",
                kind=kind,
                country=COUNTRIES[i % len(COUNTRIES)],
                capabilities=["gmp_manufacturing"] if kind == "cdmo" else [],
                documents=docs,
            )
        )
    cs = []
    for i in range(calls):
        _, indication, _, _, title = THEMES[i % len(THEMES)]
        cs.append(
            make_call(
                id=f"{tag}-C-{i:04d}",
                title=title,
                funder=f"Example Foundation {i % 5}",
                text=own(i, f"Funds translational work on {indication} towards the clinic."),
                deadlines=[{"date": f"2027-{1 + i % 12:02d}-15", "label": "full proposal"}],
            )
        )
    return {"projects": ps, "organisations": os_, "calls": cs}


PARSERS: dict[str, Callable[[Any], Entity]] = {
    "projects": parse_project,
    "organisations": parse_organisation,
    "calls": parse_call,
}


def parsed(records: dict[str, list[Any]]) -> dict[str, Entity]:
    return {r["id"]: PARSERS[name](r) for name, rs in records.items() for r in rs}


# ---------------------------------------------------------------------------- the import
# `matcher import cordis DIR` of a generated export: 600 participants in 5 of 8 projects each,
# 3,000 participation rows, 3,000 documents in the import's one transaction. Its participants'
# names come from a pool of four, so that their documents' texts are few (a document's text names
# the participant): the template's embedding cache gets all but a couple of them beforehand, as
# B's texts are nearly all cached. The fixture of tests/data/sources/cordis/csv, imported before,
# is acknowledged: the generated export, a snapshot, marks its records absent in its transaction.

CORDIS_FIXTURE = ROOT / "tests" / "data" / "sources" / "cordis" / "csv"
PROJECT_COLUMNS = ("id", "acronym", "status", "title", "startDate", "endDate", "totalCost",
                   "ecMaxContribution", "frameworkProgramme", "fundingScheme", "topics",
                   "objective", "contentUpdateDate")  # fmt: skip
ORGANISATION_COLUMNS = ("projectID", "projectAcronym", "organisationID", "name", "shortName",
                        "SME", "activityType", "city", "country", "organizationURL",
                        "contentUpdateDate", "role", "ecContribution")  # fmt: skip
PARTICIPANTS = (
    ("NORRHAVN INSTITUTE OF CELL THERAPY", "REC", "SE"),
    ("RHEINTAL VECTOR MANUFACTURING GMBH", "PRC", "DE"),
    ("ACADEMISCH ZIEKENHUIS ZUIDRAND", "PUB", "NL"),
    ("UNIVERSITE DE LA COTE", "HES", "FR"),
)


def write_cordis(directory: Path, participants: int = 600, projects: int = 8) -> Path:
    """A CORDIS export (project.csv and organization.csv, ';'-separated) in DIRECTORY: each
    participant, `880000000 + i`, takes part in 5 of the projects (coordinating the first)."""
    directory.mkdir(parents=True)
    with (directory / "project.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";", quoting=csv.QUOTE_ALL)
        writer.writerow(PROJECT_COLUMNS)
        for j in range(projects):
            _, _, title, abstract, call = THEMES[j % len(THEMES)]
            writer.writerow([f"77000{j:04d}", f"CRASH{j}", "CLOSED", title, f"202{j % 4}-01-01",
                             f"202{4 + j % 4}-12-31", "5000000", "4000000,5", "HORIZON",
                             "HORIZON-RIA", call, abstract, "2025-01-01 00:00:00"])  # fmt: skip
    with (directory / "organization.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";", quoting=csv.QUOTE_ALL)
        writer.writerow(ORGANISATION_COLUMNS)
        for i in range(participants):
            name, activity, country = PARTICIPANTS[i % len(PARTICIPANTS)]
            for k in range(5):
                j = (i + 3 * k) % projects
                role = "coordinator" if k == 0 else "participant"
                writer.writerow([f"77000{j:04d}", f"CRASH{j}", f"88{i:07d}", name, "", "false",
                                 activity, "Norrhavn", country, "", "2025-01-01 00:00:00", role,
                                 "250000"])  # fmt: skip
    return directory


def read_cordis(path: Path) -> dict[str, SourceItem]:
    """What importing this export stores: each participant's organisation and source id."""
    items = list(cordis.read(path))
    assert all(isinstance(i, SourceItem) for i in items), "the export has bad records"
    return {i.entity.id: i for i in items if isinstance(i, SourceItem)}


# ---------------------------------------------------------------------------- one world


class WriteProbe:
    """Tells, without waiting, whether a process holds the store's write lock: is inside a write
    transaction (a load's, or a build's writes to the embedding cache)."""

    def __init__(self, database: Path | str) -> None:
        self._sqlite: sqlite3.Connection | None = None
        self._postgres: psycopg.Connection[Any] | None = None
        if isinstance(database, Path):
            self._sqlite = sqlite3.connect(database, timeout=0, isolation_level=None)
        else:
            url = make_url(database).set(drivername="postgresql")
            self._postgres = psycopg.connect(
                url.render_as_string(hide_password=False), autocommit=True
            )

    def __call__(self) -> bool:
        if self._sqlite is not None:
            try:  # SQLite's BEGIN IMMEDIATE is the store's write lock (engine.py)
                self._sqlite.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                return True
            self._sqlite.execute("ROLLBACK")
            return False
        assert self._postgres is not None
        row = self._postgres.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
            "classid = 0 AND objid = %s AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())",
            (WRITE_LOCK,),
        ).fetchone()
        return bool(row and row[0])

    def __enter__(self) -> WriteProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        for connection in (self._sqlite, self._postgres):
            if connection is not None:
                connection.close()


class Saves:
    """Tells whether a file under the models folder was written (or appeared, or went) since
    the last call: the build saving an index or a manifest."""

    def __init__(self, models: Path) -> None:
        self.models = models
        self._last = self._files()

    def _files(self) -> dict[str, int]:
        files = {}
        for path in self.models.rglob("*"):
            try:
                files[str(path)] = path.stat().st_mtime_ns
            except FileNotFoundError:  # a temp file renamed meanwhile
                continue
        return files

    def __call__(self) -> bool:
        files = self._files()
        changed, self._last = files != self._last, files
        return changed


@dataclass
class World:
    """A database (a SQLite file or a PostgreSQL URL) and its models folder."""

    folder: Path
    database: Path | str

    @property
    def models(self) -> Path:
        return self.folder / "models"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MATCHER_")}
        env.update(
            # On PostgreSQL the SQLite path still places the erasure ledger's file.
            MATCHER_DB_PATH=str(
                self.folder / "matcher.db" if isinstance(self.database, str) else self.database
            ),
            MATCHER_MODELS_DIR=str(self.models),
            PYTHONPATH=str(ROOT),
        )
        if isinstance(self.database, str):
            env["MATCHER_DATABASE_URL"] = self.database
        return env

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        """`matcher ARGS` in a new process (its output goes to a log in the folder)."""
        log = open(self.folder / "commands.log", "ab")  # noqa: SIM115 (the child holds it)
        log.write(f"\n$ matcher {' '.join(args)}\n".encode())
        log.flush()
        with log:
            return subprocess.Popen(
                [sys.executable, "-m", "service.cli", *args],
                cwd=ROOT,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def run(self, *args: str, probe: Callable[[], bool] | None = None) -> tuple[float, list[float]]:
        """`matcher ARGS` to its end, which must be exit 0: its duration in seconds, and (with a
        probe) the moments, in seconds after its start, when the probe said yes."""
        started = time.monotonic()
        process = self.start(*args)
        held = []
        while process.poll() is None:
            now = time.monotonic() - started
            assert now < COMMAND_TIMEOUT, f"matcher {' '.join(args)} hangs:\n{self.log_tail()}"
            if probe is not None and probe():
                held.append(round(now, 3))
            time.sleep(0.005)
        code = process.returncode
        assert code == 0, f"matcher {' '.join(args)} exited {code}:\n{self.log_tail()}"
        return time.monotonic() - started, held

    def log_tail(self) -> str:
        return (self.folder / "commands.log").read_text(errors="replace")[-3000:]

    def temp_files(self) -> list[str]:
        """Files the atomic writer leaves behind when killed between its write and its rename."""
        return sorted(str(p.relative_to(self.folder)) for p in self.models.rglob("*.tmp"))


# ---------------------------------------------------------------------------- what is stored


def generation(database: Path | str) -> int:
    with Store(database) as store:
        return store.generation()


@dataclass(frozen=True)
class Records:
    """The CORDIS source records a kill point expects, source id -> entity id: those imported and
    acknowledged before (`before`), and those its step brings (`batch`: none for a load). An
    import, a snapshot, marks `before`'s absent in its transaction."""

    before: dict[str, str]
    batch: dict[str, str] = field(default_factory=dict)


def stored_entities(database: Path | str) -> dict[str, Entity]:
    with Store(database) as store:
        return {e.id: e for kind in EntityKind for e in store.entities(kind)}


def check_store(
    database: Path | str,
    a: dict[str, Entity],
    b: dict[str, Entity],
    b_acknowledged: bool,
    a_generation: int,
    records: Records,
) -> tuple[bool, int]:
    """Check what the store holds after a kill; whether the batch B (loaded, or imported) is in
    it, and how many rows were checked (entities, documents, source records). `a` is what was
    acknowledged before, `a_generation` the data version then: B's load or import moves it on
    in its transaction."""
    with Store(database) as store:
        stored: dict[str, Entity] = {}
        texts: dict[str, list[tuple[str, str]]] = {}
        for kind in EntityKind:
            stored.update({e.id: e for e in store.entities(kind)})
            for d in store.documents(kind):
                texts.setdefault(d.entity_id, []).append((d.title, d.text))
        with store.read() as db:
            orphan_documents = db.execute(
                select(func.count())
                .select_from(documents)
                .where(documents.c.entity_rowid.not_in(select(entities.c.rowid)))
            ).scalar_one()
            orphan_members = db.execute(
                select(func.count())
                .select_from(members)
                .where(members.c.entity_rowid.not_in(select(entities.c.rowid)))
            ).scalar_one()
            orphan_records = db.execute(
                select(func.count())
                .select_from(source_records)
                .where(source_records.c.entity_rowid.not_in(select(entities.c.rowid)))
            ).scalar_one()
            vector_sizes = set(
                db.execute(select(func.length(embeddings.c.vector)).distinct()).scalars()
            )
            version = db.execute(
                select(meta.c.value).where(meta.c.key == "generation")
            ).scalar_one()
        rows = {r.source_id: r for r in store.source_records()}
    assert orphan_documents == 0, "documents without their entity"
    assert orphan_members == 0, "member rows without their entity"
    assert orphan_records == 0, "source records without their entity"
    assert len(vector_sizes) == 1, f"embedding cache rows of several sizes: {vector_sizes}"

    lost = [id for id, entity in a.items() if stored.get(id) != entity]
    assert not lost, f"{len(lost)} acknowledged entities lost or changed: {lost[:5]}"
    present = {id for id in b if id in stored}
    assert present in (set(), set(b)), f"B half-written: {len(present)} of {len(b)} entities"
    has_b = bool(present)
    assert has_b or not b_acknowledged, "B's load or import exited 0, yet B is not stored"
    assert set(stored) == set(a) | (set(b) if has_b else set()), "entities from nowhere"
    wrong = [id for id in a | (b if has_b else {}) if stored[id] != (a | b)[id]]
    assert not wrong, f"entities of B stored wrong: {wrong[:5]}"
    for id, entity in stored.items():
        expected = [(d.title, d.text) for d in entity.documents()]
        assert texts.get(id, []) == expected, f"{id}'s documents are not its texts"
    # Moved on in B's transaction (once, or once more when an import marks records absent).
    moved = version > a_generation if has_b else version == a_generation
    assert moved, (
        f"data version {version}, A's {a_generation}, B {'present' if has_b else 'absent'}"
    )

    # The source records: exactly one per imported entity, written with it or not at all.
    expected_rows = records.before | (records.batch if has_b else {})
    mapped = {source_id: row.entity_id for source_id, row in rows.items()}
    assert mapped == expected_rows, (
        f"{len(mapped)} source records, {len(expected_rows)} expected: "
        f"{sorted(set(mapped) ^ set(expected_rows))[:5]}"
    )
    imported = {id for id in stored if id.startswith("CORDIS:")}
    assert imported == set(expected_rows.values()), "imported entities without source records"
    marked = has_b and bool(records.batch)
    wrongly = [sid for sid in records.before if (rows[sid].absent_since is not None) != marked]
    assert not wrongly, f"absent marks half-written ({'all' if marked else 'none'} expected)"
    assert all(rows[sid].absent_since is None for sid in expected_rows if sid not in records.before)
    return has_b, len(stored) + sum(map(len, texts.values())) + len(rows)


def check_indexes(world: World) -> dict[str, str]:
    """Each kind's saved index: 'fresh' (it loads, and its ids are the store's document ids of
    that kind) or 'stale' (refused); the recommender refuses exactly when one is stale."""
    states = {}
    with Store(world.database) as store:
        for kind in EntityKind:
            docs = store.documents(kind)
            try:
                index, manifest = VectorIndex.load(
                    index_dir(world.models, kind),
                    kind=kind.value,
                    model=DEFAULT_MODEL,
                    data_hash=store.data_hash(kind, docs),
                    database_id=store.database_id,
                    database=store.location,
                )
            except (StaleIndex, IndexNotBuilt) as refused:
                states[kind.value] = f"stale ({type(refused).__name__})"
                continue
            ids = sorted(int(i) for i in index.ids)
            assert ids == sorted(d.rowid for d in docs), f"{kind.value} index ids != store ids"
            assert manifest.count == len(docs)
            states[kind.value] = "fresh"
        if all(s == "fresh" for s in states.values()):
            Recommender.check(store, world.models, DEFAULT_MODEL)
        else:
            with pytest.raises((StaleIndex, IndexNotBuilt)):
                Recommender.check(store, world.models, DEFAULT_MODEL)
    return states


# ---------------------------------------------------------------------------- the kill


@dataclass
class Kill:
    backend: str
    point: int
    aimed_at: str
    """What the moment was drawn over: `load-write` (how long A's load held the write lock, plus
    a fifth), `import-write` (how long an uninterrupted import held it, plus a fifth),
    `build-write` and `import-build-write` (a build of A with every text cached, from its first
    save to its last, plus half), `load` and `import` (the duration of A's uninterrupted load, of
    an uninterrupted import) or `build` and `import-build` (that of A's build)."""
    at_s: float
    """Seconds after B's load or the import took the write lock, after the build saved its first
    file, after `matcher load` or `matcher import` started, or after `matcher build` started."""
    step: str = ""
    """What ran before the build: `load` (`matcher load B`) or `import` (`matcher import cordis
    DIR`, the generated export)."""
    killed: str = ""
    """What was running when the kill came: load, import, build, or nothing (both had ended)."""
    in_write: bool = False
    """Whether the killed process held the store's write lock (was inside a write transaction:
    the load's, the import's, or the build's embedding cache), probed just before the kill."""
    step_exit: int | None = None
    """The load's or the import's exit status, when it ended before the kill."""
    b_stored: bool = False
    """Whether the batch (B, or the import's organisations and source records) is stored."""
    indexes_after_kill: dict[str, str] = field(default_factory=dict)
    temp_files_after_kill: list[str] = field(default_factory=list)
    temp_files_after_recovery: list[str] = field(default_factory=list)
    """Those left by the kill and those planted before the recovery (`.planted.tmp`): nothing
    removes them, and nothing reads them."""
    rows_checked: int = 0
    """Entities, documents and source records checked after the kill and after the recovery."""
    seconds: float = 0.0


def step_and_build_killed(world: World, step: tuple[str, ...], kill: Kill) -> None:
    """`matcher STEP` (a load or an import) then `matcher build`, the one running at the kill's
    moment killed with SIGKILL; with both at their end first, nothing is killed. A `-write` moment
    counts from when the step is first seen holding the write lock (from the build's start if
    never), or from when the build is first seen saving a file."""
    target = "build" if "build" in kill.aimed_at else step[0]
    triggered = kill.aimed_at.endswith("write")
    deadline = None
    with WriteProbe(world.database) as writing:
        trigger = Saves(world.models) if target == "build" else writing
        for phase, args in ((step[0], step), ("build", ("build",))):
            process = world.start(*args)
            phase_started = time.monotonic()
            if phase == target and not triggered:
                deadline = phase_started + kill.at_s
            elif phase == "build" and deadline is None and target != "build":
                deadline = phase_started
            while process.poll() is None:
                now = time.monotonic()
                if deadline is None and triggered and phase == target and trigger():
                    deadline = now + kill.at_s
                if deadline is not None and now >= deadline:
                    kill.in_write = writing()
                    process.send_signal(signal.SIGKILL)
                    process.wait()
                    kill.killed = phase
                    return
                if now - phase_started > COMMAND_TIMEOUT:
                    process.kill()
                    process.wait()
                    pytest.fail(f"matcher {phase} hangs:\n{world.log_tail()}")
                time.sleep(0.002)
            code = process.returncode
            assert code == 0, f"matcher {phase} exited {code}:\n{world.log_tail()}"
            if phase != "build":
                kill.step_exit = code
    kill.killed = "nothing"


def copy_world(
    template: World, folder: Path, backend: str, request: pytest.FixtureRequest, name: str
) -> World:
    """A copy of the template world: its database and its models folder."""
    folder.mkdir()
    shutil.copytree(template.models, folder / "models")
    if backend == "sqlite":
        source = Path(template.database)
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{source}{suffix}").exists():
                shutil.copy2(f"{source}{suffix}", folder / f"matcher.db{suffix}")
        return World(folder, folder / "matcher.db")
    cluster = request.getfixturevalue("postgres")
    url = cluster.create_database(name, template=str(template.database).rsplit("/", 1)[1])
    return World(folder, url)


def drop_world(world: World, backend: str, request: pytest.FixtureRequest) -> None:
    if backend != "sqlite":
        request.getfixturevalue("postgres").drop_database(str(world.database).rsplit("/", 1)[1])


# ---------------------------------------------------------------------------- the test


def test_a_load_or_import_and_build_killed_at_random_moments_lose_nothing_acknowledged(
    backend: str,
    database: Path | str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    embedder: SentenceTransformerEmbedder,
) -> None:
    a_records = batch("A", projects=100, organisations=160, calls=40)
    b_records = batch("B", projects=100, organisations=160, calls=40)
    a_data = write_world(tmp_path / "A", **a_records)
    b_data = write_world(tmp_path / "B", **b_records)
    b = parsed(b_records)
    export = write_cordis(tmp_path / "cordis")
    imported = read_cordis(export)
    c = {id: item.entity for id, item in imported.items()}
    name = str(database).rsplit("/", 1)[1] if isinstance(database, str) else ""

    # A and the CORDIS fixture, loaded, imported and built by the real commands: acknowledged.
    (tmp_path / "template").mkdir()
    template = World(tmp_path / "template", database)
    # The store exists (in WAL mode) before the probe starts: on a file not yet in WAL mode
    # the probe's BEGIN IMMEDIATE every 5 ms can starve the load's switch to WAL ('database
    # is locked' after the 30 s busy timeout, seen once in CI).
    template.run("init")
    with WriteProbe(database) as probe:
        load_s, held = template.run("load", str(a_data), probe=probe)
    template.run("import", "cordis", str(CORDIS_FIXTURE))
    build_s, _ = template.run("build")
    # How long A's load held the write lock (its transaction), give or take a poll.
    write_s = max(held) - min(held) + 0.01 if held else 0.0
    a = stored_entities(database)
    assert parsed(a_records).items() <= a.items()
    records = Records({item.source_id: id for id, item in read_cordis(CORDIS_FIXTURE).items()})
    # The export's texts, all but a couple, into the embedding cache (as B's nearly all are).
    with Store(database) as store:
        encoder = DocumentEncoder(embedder, store)
        units = encoder.units([d.text for e in c.values() for d in e.documents()])
        encoder.vectors(list(dict.fromkeys(units))[:-2])
    # How long a build of A with every text cached, as B's nearly is, takes from its first save
    # (the projects' index, the last step of the projects) to its last (the calls'), and how long
    # an import of the export takes and holds the write lock: on a copy.
    timing = copy_world(template, tmp_path / "timing", backend, request, f"{name}t")
    try:
        with Store(timing.database) as store:
            reports = build_indexes(store, DocumentEncoder(embedder, store), timing.models)
        with WriteProbe(timing.database) as probe:
            import_s, held = timing.run("import", "cordis", str(export), probe=probe)
        import_write_s = max(held) - min(held) + 0.01 if held else 0.0
    finally:
        drop_world(timing, backend, request)
    saves_s = sum(r.seconds for r in reports[1:])
    a_generation = generation(database)
    assert a_generation > 0
    assert check_store(database, a, b, False, a_generation, records)[0] is False
    assert check_indexes(template) == dict.fromkeys(("project", "organisation", "call"), "fresh")

    rng = random.Random(f"{SEED}-{backend}")
    spans = {
        "load-write": 1.2 * write_s,
        "build-write": 1.5 * saves_s,  # the build embeds a few texts among its saves
        "import-write": 1.2 * import_write_s,
        "import-build-write": 1.5 * saves_s,
        "load": load_s,
        "build": build_s,
        "import": import_s,
        "import-build": build_s,
    }
    kills = []
    for point in range(POINTS):
        started = time.monotonic()
        aimed_at = AIMS[point % len(AIMS)]
        step = "import" if aimed_at.startswith("import") else "load"
        kill = Kill(backend, point, aimed_at, round(rng.uniform(0, spans[aimed_at]), 3), step)
        args: tuple[str, ...]
        if step == "load":
            args, expected = ("load", str(b_data)), b
            expected_records = records
        else:
            args, expected = ("import", "cordis", str(export)), c
            expected_records = Records(
                records.before, {item.source_id: id for id, item in imported.items()}
            )
        world = copy_world(
            template, tmp_path / f"kill-{point}", backend, request, f"{name}k{point}"
        )
        try:
            step_and_build_killed(world, args, kill)
            # After the kill: a new process (this one) opens the store.
            kill.b_stored, kill.rows_checked = check_store(
                world.database, a, expected, kill.step_exit == 0, a_generation, expected_records
            )
            kill.indexes_after_kill = check_indexes(world)
            kill.temp_files_after_kill = world.temp_files()
            if not kill.b_stored or kill.killed == "nothing":  # A's indexes, or B's built
                assert set(kill.indexes_after_kill.values()) == {"fresh"}, "indexes broke"
            # What a kill inside the atomic writer leaves (tests/test_atomic.py), whether or not
            # this one did: the next load, the build and the loaders must pay it no heed.
            for kind in EntityKind:
                for file in (INDEX_FILE, MANIFEST_FILE):
                    path = index_dir(world.models, kind) / f".{file}.planted.tmp"
                    path.write_bytes(b"half a file")
            # Recovery, as an operator would: the load or the import and the build again. In this
            # process, through the calls `matcher load`, `matcher import` and `matcher build`
            # make, with the model already loaded (a `matcher build` process spends ~10 s
            # loading it).
            with Store(world.database) as store:
                if step == "load":
                    load_directory(store, b_data)
                else:
                    import_source(store, "cordis", export)
                build_indexes(store, DocumentEncoder(embedder, store), world.models)
            recovered, rows = check_store(
                world.database, a, expected, True, a_generation, expected_records
            )
            assert recovered is True
            kill.rows_checked += rows
            assert set(check_indexes(world).values()) == {"fresh"}
            kill.temp_files_after_recovery = world.temp_files()
        except BaseException:
            print(f"kill point {asdict(kill)}; commands:\n{world.log_tail()}")
            raise
        finally:
            drop_world(world, backend, request)
        kill.seconds = round(time.monotonic() - started, 1)
        print(json.dumps(asdict(kill)))
        kills.append(kill)
    summarise(backend, kills, load_s, build_s, write_s, saves_s, import_s, import_write_s, len(c))


def outcome(kill: Kill) -> str:
    """What a kill hit and left, in a few words: e.g. `load, in its write, B absent`."""
    hit = kill.killed + (", in its write" if kill.in_write else "")
    stale = sorted(k for k, state in kill.indexes_after_kill.items() if state != "fresh")
    indexes = f"stale: {'+'.join(stale)}" if stale else "indexes fresh"
    batch = "B" if kill.step == "load" else "import"
    return f"{hit}, {batch} {'present' if kill.b_stored else 'absent'}, {indexes}"


def summarise(
    backend: str,
    kills: list[Kill],
    load_s: float,
    build_s: float,
    write_s: float,
    saves_s: float,
    import_s: float,
    import_write_s: float,
    imported: int,
) -> None:
    summary = {
        "backend": backend,
        "seed": SEED,
        "points": len(kills),
        "uninterrupted_load_s": round(load_s, 2),
        "uninterrupted_build_s": round(build_s, 2),
        "uninterrupted_load_write_lock_s": round(write_s, 3),
        "uninterrupted_build_saves_s": round(saves_s, 3),
        "uninterrupted_import_s": round(import_s, 2),
        "uninterrupted_import_write_lock_s": round(import_write_s, 3),
        "organisations_imported": imported,
        "aimed_at": dict(Counter(k.aimed_at for k in kills)),
        "killed_during": dict(Counter(k.killed for k in kills)),
        "kills": sum(k.killed != "nothing" for k in kills),
        "import_kills": sum(k.step == "import" and k.killed != "nothing" for k in kills),
        "recoveries": len(kills),  # each point recovered, and was checked whole
        "rows_checked": sum(k.rows_checked for k in kills),
        "acknowledged_lost": 0,  # check_store fails the test on any
        "b_present": sum(k.b_stored for k in kills if k.step == "load"),
        "b_absent": sum(not k.b_stored for k in kills if k.step == "load"),
        "import_present": sum(k.b_stored for k in kills if k.step == "import"),
        "import_absent": sum(not k.b_stored for k in kills if k.step == "import"),
        "in_write_transaction": sum(k.in_write for k in kills),
        "outcomes": dict(Counter(outcome(k) for k in kills)),
        "with_temp_files": sum(bool(k.temp_files_after_kill) for k in kills),
    }
    summary["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    print(json.dumps(summary))
    if REPORT:
        path = Path(REPORT)
        path.parent.mkdir(parents=True, exist_ok=True)
        report = json.loads(path.read_text()) if path.exists() else {}
        report[backend] = {"summary": summary, "kills": [asdict(k) for k in kills]}
        path.write_text(json.dumps(report, indent=2) + "\n")
