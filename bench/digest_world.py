"""The world the digest benchmark sends to (bench/digest.py): projects whose owners and teams
are the generated researchers, organisations from bench.synthetic with their facets, funding
calls with deadlines spread over the coming months, and the recipients of every role."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matcher import (
    DocumentEncoder,
    Role,
    SentenceTransformerEmbedder,
    Store,
    build_indexes,
    create_user,
    load_directory,
)
from matcher.digest import Subscription, Threshold

from . import synthetic

ROOT = Path(__file__).resolve().parents[1]

SUBJECT_FACETS: dict[str, tuple[str | None, list[str]]] = {
    "AAV vector production": ("aav", ["viral_vector_manufacturing", "gmp_manufacturing"]),
    "lentiviral vector manufacture": ("lentiviral", ["viral_vector_manufacturing"]),
    "autologous CAR-T processing": ("car_t", ["cell_processing", "gmp_manufacturing"]),
    "allogeneic NK cell expansion": ("nk_cell", ["cell_processing"]),
    "iPSC line banking": ("ipsc_derived", ["ipsc_platform", "cell_processing"]),
    "MSC expansion in bioreactors": ("msc", ["process_development", "cell_processing"]),
    "CRISPR editing of haematopoietic stem cells": ("crispr_edited", ["gene_editing"]),
    "release testing of cell therapies": (None, ["analytics_qc"]),
    "GLP biodistribution studies": (None, ["cro_services", "preclinical_models"]),
    "phase I trial delivery": (None, ["clinical_sites"]),
    "apheresis and cell collection": (None, ["apheresis", "clinical_sites"]),
    "regulatory strategy for ATMPs": (None, ["regulatory_advice"]),
    "scaffold-based cartilage constructs": ("tissue_engineered", ["biomaterials"]),
    "TCR-T cell products": ("tcr_t", ["cell_processing"]),
    "regulatory T cell therapies": ("treg", ["cell_processing"]),
    "tumour-infiltrating lymphocyte expansion": ("til", ["cell_processing"]),
    "plasmid DNA supply": (None, ["viral_vector_manufacturing"]),
}
PRODUCTS = {
    "aav": "an AAV gene therapy",
    "lentiviral": "a lentivirally transduced stem cell product",
    "car_t": "an autologous CAR-T cell product",
    "nk_cell": "an allogeneic CAR-NK cell product",
    "ipsc_derived": "an iPSC-derived cell therapy",
    "msc": "a mesenchymal stromal cell product",
    "crispr_edited": "CRISPR-edited haematopoietic stem cells",
    "tissue_engineered": "a tissue-engineered construct",
    "tcr_t": "a TCR-engineered T cell product",
    "treg": "a regulatory T cell therapy",
    "til": "a tumour-infiltrating lymphocyte product",
}
SUBJECT_OF = {m: s for s, (m, _) in SUBJECT_FACETS.items() if m}
NEED_PHRASES = {
    "gmp_manufacturing": "a GMP manufacturing partner able to release clinical batches",
    "vector_supply": "a reliable supply of clinical-grade vector",
    "process_development": "process development towards a closed, automated process",
    "analytics_qc": "qualified release and potency assays",
    "cro_services": "a CRO for GLP toxicology and biodistribution studies",
    "clinical_sites": "clinical sites with experience in {indication}",
    "regulatory_advice": "regulatory advice before scientific advice with the agencies",
    "co_funding": "co-funding for the next development stage",
    "industry_partner": "an industry partner willing to take the product to the market",
}
STAGES = ["discovery", "preclinical", "gmp_process_development", "phase_1", "phase_2_plus"]
MODELS = ["mouse xenograft", "humanised mouse", "large-animal", "patient-derived organoid"]
FUNDERS = ["European Partnership", "National Research Council", "Patient Foundation", "Trust"]


def project_record(i: int, members: list[str], rng: random.Random) -> dict[str, Any]:
    modality = rng.choice(sorted(PRODUCTS))
    indication = rng.choice(synthetic.INDICATIONS)
    needs = rng.sample(sorted(NEED_PHRASES), rng.randint(1, 4))
    wanted = [NEED_PHRASES[n].format(indication=indication) for n in needs]
    abstract = " ".join(
        [
            f"Our group develops {PRODUCTS[modality]} for {indication}, building on "
            f"{rng.randint(3, 15)} years of work on {SUBJECT_OF[modality]}.",
            f"In {rng.choice(MODELS)} models it gave a {rng.randint(20, 90)}% response at "
            f"{rng.randint(1, 50)} x 10^6 cells/kg or vector genomes per kg (study {i}).",
            synthetic.sentence(rng),
            f"About {rng.randint(50, 5000)} patients a year in our region have {indication}.",
            f"We now need {', '.join(wanted[:-1]) + ' and ' if len(wanted) > 1 else ''}"
            f"{wanted[-1]}.",
        ]
    )
    return {
        "id": f"P-{i + 1:04d}",
        "title": f"{PRODUCTS[modality].split(' ', 1)[1].capitalize()} for {indication} ({i + 1})",
        "abstract": abstract,
        "modality": modality,
        "indications": [indication],
        "stage": rng.choice(STAGES),
        "needs": needs,
        "owner": members[0],
        "team": members[1:],
        "visibility": rng.choice(["confidential", "internal", "internal", "public"]),
        "updated_at": f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}T09:00:00Z",
    }


def organisation_record(i: int, rng: random.Random) -> dict[str, Any]:
    """bench.synthetic's organisation, with the facets its own sentences name."""
    record = synthetic.organisation(i, rng)
    text = " ".join(d["text"] for d in record["documents"])
    found = [facets for subject, facets in SUBJECT_FACETS.items() if subject in text]
    record["modalities"] = sorted({m for m, _ in found if m})
    record["capabilities"] = sorted({c for _, caps in found for c in caps})
    record["indications"] = sorted({x for x in synthetic.INDICATIONS if x in text})
    return record


def call_record(i: int, today: dt.date, rng: random.Random) -> dict[str, Any]:
    """A call whose deadlines fall between two months ago and seven months ahead (some
    forthcoming, some in two steps, a few rolling), so that some are due within six weeks."""
    modality = rng.choice(sorted(PRODUCTS))
    indication = rng.choice(synthetic.INDICATIONS)
    subject = rng.choice(sorted(SUBJECT_FACETS))
    need = rng.choice(list(NEED_PHRASES.values()))
    text = " ".join(
        [
            f"This call funds the development of {PRODUCTS[modality].split(' ', 1)[1]} and "
            f"related advanced therapies for {indication}.",
            f"Consortia of {rng.randint(1, 6)} partners may ask for up to EUR "
            f"{rng.randint(2, 40) * 100_000:,} over {rng.randint(2, 5)} years.",
            f"Proposals should cover {subject} and {need.format(indication=indication)}.",
            f"Expected outcomes include a first-in-human study or scientific advice within "
            f"{rng.randint(12, 36)} months (topic {i}).",
        ]
    )
    record: dict[str, Any] = {
        "id": f"C-{i + 1:04d}",
        "title": f"{rng.choice(FUNDERS)} call {i + 1}: {indication}, {modality.replace('_', ' ')}",
        "funder": f"{rng.choice(FUNDERS)} {i % 17}",
        "text": text,
        "eligibility": {
            "applicant_kinds": ["academic_group", "hospital_unit"],
            "countries": rng.choice([["EU"], ["ANY"], ["SE", "DK", "NO", "FI"]]),
        },
    }
    shape = rng.random()
    if shape < 0.05:
        record["opening_date"] = (today - dt.timedelta(days=rng.randint(30, 300))).isoformat()
        return record  # rolling: open continuously
    deadline = today + dt.timedelta(days=rng.randint(-60, 210))
    if shape < 0.2:  # forthcoming: opens within two months
        opening = today + dt.timedelta(days=rng.randint(3, 60))
        deadline = opening + dt.timedelta(days=rng.randint(30, 120))
    else:
        opening = deadline - dt.timedelta(days=rng.randint(60, 150))
    deadlines = [{"date": deadline.isoformat(), "label": "full proposal"}]
    if shape > 0.8:
        second = deadline + dt.timedelta(days=rng.randint(60, 120))
        deadlines = [{"date": deadline.isoformat(), "label": "pre-proposal"},
                     {"date": second.isoformat(), "label": "full proposal (invited)"}]  # fmt: skip
    record.update(opening_date=opening.isoformat(), deadlines=deadlines)
    return record


@dataclass(frozen=True)
class Person:
    username: str
    role: Role
    organisation: str | None = None
    subscription: Subscription = field(default_factory=Subscription)


def people(recipients: int, organisations: int, rng: random.Random) -> list[Person]:
    """Mostly researchers; 6 % business developers, 2 % admins, 2 % guests; 1 % unsubscribed;
    a third reads good and strong matches, the rest strong ones only (the default)."""
    guests, admins, bizdevs = (max(1, round(recipients * f)) for f in (0.02, 0.02, 0.06))
    roles = [Role.GUEST] * guests + [Role.ADMIN] * admins + [Role.BIZDEV] * bizdevs
    roles += [Role.RESEARCHER] * (recipients - len(roles))
    rng.shuffle(roles)
    unsubscribed = set(rng.sample(range(recipients), max(1, recipients // 100)))
    found = []
    for i, role in enumerate(roles):
        threshold = Threshold.GOOD if rng.random() < 1 / 3 else Threshold.STRONG
        subscription = Subscription(subscribed=i not in unsubscribed, threshold=threshold)
        guest_of = (
            f"G-{rng.randrange(0, min(20, organisations)):06d}" if role is Role.GUEST else None
        )
        found.append(Person(f"{role.value}.{i:05d}", role, guest_of, subscription))
    return found


def memberships(researchers: list[str], projects: int, rng: random.Random) -> list[list[str]]:
    """Each researcher on one to three projects (owner of the first they join); a project left
    without anyone gets an owner who is already on others."""
    members: list[list[str]] = [[] for _ in range(projects)]
    for username in researchers:
        for p in rng.sample(range(projects), min(projects, rng.randint(1, 3))):
            members[p].append(username)
    for found in members:
        if not found:
            found.append(rng.choice(researchers))
    return members


def write_world(data: Path, args: argparse.Namespace, today: dt.date) -> list[Person]:
    rng = random.Random(args.seed)
    persons = people(args.recipients, args.organisations, rng)
    researchers = [p.username for p in persons if p.role is Role.RESEARCHER]
    members = memberships(researchers, args.projects, rng)
    records = {
        "projects": [project_record(i, members[i], rng) for i in range(args.projects)],
        "organisations": [organisation_record(i, rng) for i in range(args.organisations)],
        "calls": [call_record(i, today, rng) for i in range(args.calls)],
    }
    data.mkdir(parents=True, exist_ok=True)
    for name, rows in records.items():
        (data / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return persons


def built_world(
    folder: Path, args: argparse.Namespace, today: dt.date, embedder: SentenceTransformerEmbedder
) -> tuple[list[Person], dict[str, Any]]:
    """The world loaded and indexed in folder, built once (a marker file says it is done)."""
    persons = write_world(folder / "data", args, today)
    done = folder / "built.json"
    if done.exists():
        return persons, {**json.loads(done.read_text()), "reused": True}
    if (folder / "matcher.db").exists():
        shutil.rmtree(folder / "models", ignore_errors=True)
        (folder / "matcher.db").unlink()
    started = time.perf_counter()
    with Store(folder / "matcher.db") as store:
        load_directory(store, folder / "data")
        loaded = time.perf_counter() - started
        kinds = build_indexes(store, DocumentEncoder(embedder, store), folder / "models")
    shutil.copytree(ROOT / "models" / "ranker", folder / "models" / "ranker")
    facts = {
        "load_s": round(loaded, 2),
        "build_s": round(time.perf_counter() - started - loaded, 2),
        "texts_embedded": sum(k.embedded for k in kinds),
    }
    done.write_text(json.dumps(facts) + "\n")
    return persons, {**facts, "reused": False}


def add_recipients(store: Store, persons: list[Person]) -> None:
    for person in persons:
        name = person.username.replace(".", " ").title()
        create_user(store, person.username, person.role, person.organisation, name)
        store.set_email(person.username, f"{person.username}@example.org")
        store.set_subscription(person.username, person.subscription)
