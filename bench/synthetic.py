"""A generated collection of organisations for speed benchmarks (not for quality).

Profiles are composed from phrase pools with random numbers and names, so that nearly every
sentence is distinct and the embedding cache cannot make a build look cheaper than it is.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

KINDS = ["pharma", "biotech", "cdmo", "cro", "hospital_unit", "academic_group", "funder", "other"]
COUNTRIES = [
    "DE",
    "FR",
    "NL",
    "BE",
    "IT",
    "ES",
    "SE",
    "DK",
    "FI",
    "AT",
    "CH",
    "GB",
    "US",
    "PL",
    "IE",
]
SUBJECTS = [
    "AAV vector production",
    "lentiviral vector manufacture",
    "autologous CAR-T processing",
    "allogeneic NK cell expansion",
    "iPSC line banking",
    "MSC expansion in bioreactors",
    "CRISPR editing of haematopoietic stem cells",
    "release testing of cell therapies",
    "GLP biodistribution studies",
    "phase I trial delivery",
    "apheresis and cell collection",
    "regulatory strategy for ATMPs",
    "scaffold-based cartilage constructs",
    "TCR-T cell products",
    "regulatory T cell therapies",
    "tumour-infiltrating lymphocyte expansion",
    "plasmid DNA supply",
]
VERBS = ["runs", "offers", "has delivered", "specialises in", "scaled up", "validated", "supports"]
DETAILS = [
    "at {n} L scale",
    "for {n} patients per year",
    "in {n} grade B cleanroom suites",
    "with {n} validated potency assays",
    "across {n} clinical programmes",
    "with a turnaround of {n} days",
    "since {y}",
    "under {n} active quality agreements",
]
INDICATIONS = [
    "B-cell lymphoma",
    "multiple myeloma",
    "glioblastoma",
    "retinal dystrophy",
    "haemophilia B",
    "spinal muscular atrophy",
    "sickle cell disease",
    "Parkinson disease",
    "type 1 diabetes",
    "heart failure",
    "knee cartilage defects",
    "severe burns",
    "lupus",
    "graft-versus-host disease",
]


def sentence(rng: random.Random) -> str:
    detail = rng.choice(DETAILS).format(n=rng.randint(2, 2000), y=rng.randint(1990, 2026))
    return (
        f"The team {rng.choice(VERBS)} {rng.choice(SUBJECTS)} {detail} "
        f"for {rng.choice(INDICATIONS)} programmes (ref {rng.randint(10_000, 99_999)})."
    )


def organisation(i: int, rng: random.Random) -> dict[str, Any]:
    documents = [
        {"title": title, "text": " ".join(sentence(rng) for _ in range(rng.randint(1, 3)))}
        for title in rng.sample(["Capabilities", "Pipeline", "Past projects", "Facilities"],
                                rng.randint(1, 2))
    ]  # fmt: skip
    return {
        "id": f"G-{i:06d}",
        "name": f"Generated Organisation {i}",
        "kind": rng.choice(KINDS),
        "country": rng.choice(COUNTRIES),
        "documents": documents,
    }


def write_organisations(path: Path, n: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps(organisation(i, rng)) + "\n")
    return path
