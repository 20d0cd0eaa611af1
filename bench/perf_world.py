"""Generated organisations and projects for the performance benchmark (bench/perf.py).

Records follow docs/demo-data-schema.md. Organisations have 1 to 4 profile documents
(capabilities, track record, facilities, trials) of about 60 to 120 words; projects have a title,
an abstract of several sentences, a modality, a stage, indications and needs. Every sentence
carries random numbers, so texts are distinct and the embedding cache cannot make a build look
cheaper than it is, unless `distinct_documents` composes profiles from a small pool of documents.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"

KINDS = ["pharma", "biotech", "cdmo", "cro", "hospital_unit", "academic_group", "funder", "other"]
COUNTRIES = ["DE", "FR", "NL", "BE", "IT", "ES", "SE", "DK", "FI", "AT", "CH", "GB", "US", "PL"]
CAPABILITIES = [
    "gmp_manufacturing", "viral_vector_manufacturing", "cell_processing", "process_development",
    "analytics_qc", "fill_finish", "cryo_logistics", "cro_services", "clinical_sites",
    "apheresis", "regulatory_advice", "co_funding", "licensing", "preclinical_models",
    "gene_editing", "ipsc_platform", "biomaterials",
]  # fmt: skip
NEEDS = [
    "gmp_manufacturing", "vector_supply", "process_development", "analytics_qc", "cro_services",
    "clinical_sites", "regulatory_advice", "co_funding", "industry_partner",
]  # fmt: skip
STAGES = ["discovery", "preclinical", "gmp_process_development", "phase_1", "phase_2_plus"]
VISIBILITY = ["confidential", "internal", "public"]

MODALITIES: dict[str, tuple[str, list[str]]] = {
    "car_t": ("CAR-T cells", ["CD19", "BCMA", "CD22", "GPRC5D", "CD70", "mesothelin"]),
    "tcr_t": ("TCR-engineered T cells", ["NY-ESO-1", "MAGE-A4", "PRAME", "KRAS G12D"]),
    "nk_cell": ("NK cells", ["CD16", "NKG2D", "CD33", "HER2"]),
    "treg": ("regulatory T cells", ["HLA-A2", "FOXP3", "IL-2 mutein"]),
    "til": ("tumour-infiltrating lymphocytes", ["neoantigen", "PD-1", "CD39"]),
    "aav": ("AAV vectors", ["AAV9", "AAV8", "AAV5", "capsid variant", "AAVrh74"]),
    "lentiviral": ("lentiviral vectors", ["VSV-G", "beta-globin", "ADA", "WAS"]),
    "crispr_edited": ("CRISPR-edited cells", ["BCL11A", "HBB", "TRAC", "B2M", "PD-1"]),
    "ipsc_derived": ("iPSC-derived cells", ["dopaminergic", "cardiomyocyte", "beta cell"]),
    "msc": ("mesenchymal stromal cells", ["bone marrow", "umbilical cord", "adipose"]),
    "tissue_engineered": ("tissue-engineered constructs", ["collagen", "fibrin", "scaffold"]),
}
INDICATIONS = [
    "diffuse large B-cell lymphoma", "multiple myeloma", "B-cell acute lymphoblastic leukaemia",
    "glioblastoma", "retinitis pigmentosa", "haemophilia B", "spinal muscular atrophy",
    "sickle cell disease", "beta thalassaemia", "Parkinson disease", "type 1 diabetes",
    "heart failure", "knee cartilage defects", "severe burns", "systemic lupus erythematosus",
    "graft-versus-host disease", "Duchenne muscular dystrophy", "mesothelioma", "melanoma",
    "ovarian cancer", "acute myeloid leukaemia", "epidermolysis bullosa", "Crohn disease",
]  # fmt: skip
PROCESSES = [
    "closed automated manufacturing", "suspension HEK293 vector production",
    "adherent producer cell lines", "fed-batch bioreactor expansion", "electroporation",
    "cryopreservation and shipment", "release testing", "potency assay development",
    "vector copy number analysis by ddPCR", "flow cytometry panels", "GLP toxicology",
    "biodistribution studies", "apheresis collection", "aseptic fill and finish",
    "comparability studies", "tech transfer to a second site", "qualified person release",
]  # fmt: skip
OUTCOMES = [
    "a shorter vein-to-vein time", "higher transduction efficiency", "lower cost of goods",
    "a validated potency assay", "an authorised clinical trial application",
    "scientific advice from the regulator", "consistent lot-to-lot quality",
    "a smaller number of failed batches", "faster patient recruitment",
]  # fmt: skip

ORG_SENTENCES = {
    "Capabilities": [
        "We run {process} for {modality} at {n} L scale in {m} grade B suites.",
        "Our team of {n} scientists offers {process} and {process2} to academic and industry "
        "sponsors.",
        "The platform supports {modality} programmes from research grade to GMP, including "
        "{process}.",
        "Since {year} we have qualified {m} analytical methods, among them {process}.",
    ],
    "Track record": [
        "We have delivered {m} programmes in {indication}, with {outcome} in {n} of them.",
        "Since {year} our group has published {n} papers on {modality} for {indication}.",
        "A {target} programme we supported reached the clinic in {year} after {m} engineering "
        "runs.",
        "Partners credit us with {outcome} on {m} tech transfers of {modality} processes.",
    ],
    "Facilities": [
        "The site in {city} has {m} cleanrooms, {n} square metres of laboratory space and "
        "{process}.",
        "Our facility holds a manufacturing authorisation since {year} and runs {n} batches a "
        "year.",
        "Quality control laboratories perform {process} and {process2} under one quality system.",
        "We operate {m} liquid nitrogen stores and a validated cold chain for {modality}.",
    ],
    "Trials": [
        "We have enrolled {n} patients with {indication} in {m} phase I and II studies of "
        "{modality}.",
        "Our hospital unit has collected apheresis material for {n} {target} products since "
        "{year}.",
        "The clinical team runs {m} open trials in {indication} with a median recruitment of "
        "{n} patients a year.",
        "Investigators at {m} sites have managed cytokine release syndrome in {n} patients.",
    ],
}
CITIES = ["Leiden", "Lyon", "Uppsala", "Ghent", "Milan", "Basel", "Aarhus", "Graz", "Krakow"]

PROJECT_SENTENCES = [
    "We develop {modality} against {target} for patients with {indication}.",
    "In {n} preclinical models the product cleared disease in {m} of them without toxicity.",
    "Our current process relies on {process}, which limits supply to {m} batches a month.",
    "We need a partner for {process} and {process2} before a first-in-human study in {year}.",
    "The aim of this work package is {outcome} within {m} months.",
    "Release testing must cover {process} and a {target}-specific potency assay.",
    "A phase I dose-escalation study at {m} dose levels is planned with {n} patients.",
    "We seek co-funding of about {n} thousand euros and regulatory advice on {process}.",
]


def _fill(template: str, rng: random.Random, modality: str | None = None) -> str:
    key = modality or rng.choice(list(MODALITIES))
    name, targets = MODALITIES[key]
    process, process2 = rng.sample(PROCESSES, 2)
    return template.format(
        process=process, process2=process2, modality=name, target=rng.choice(targets),
        indication=rng.choice(INDICATIONS), outcome=rng.choice(OUTCOMES),
        n=rng.randint(2, 900), m=rng.randint(2, 40), year=rng.randint(1995, 2026),
        city=rng.choice(CITIES),
    )  # fmt: skip


def document(title: str, rng: random.Random, modality: str) -> dict[str, str]:
    """A profile document of about 60 to 120 words (4 to 7 sentences)."""
    templates = ORG_SENTENCES[title]
    sentences = [_fill(rng.choice(templates), rng, modality) for _ in range(rng.randint(4, 7))]
    return {"title": title, "text": " ".join(sentences)}


def organisation(i: int, rng: random.Random, pool: list[dict[str, str]] | None) -> dict[str, Any]:
    modalities = rng.sample(list(MODALITIES), rng.randint(1, 3))
    titles = rng.sample(list(ORG_SENTENCES), rng.randint(1, 4))
    if pool is None:
        documents = [document(t, rng, rng.choice(modalities)) for t in titles]
    else:
        documents = [dict(d) for d in rng.sample(pool, len(titles))]
    return {
        "id": f"O-{i:06d}",
        "name": f"Generated Organisation {i}",
        "kind": rng.choice(KINDS),
        "country": rng.choice(COUNTRIES),
        "capabilities": rng.sample(CAPABILITIES, rng.randint(1, 4)),
        "modalities": modalities,
        "indications": rng.sample(INDICATIONS, rng.randint(1, 3)),
        "documents": documents,
    }


def project(i: int, rng: random.Random) -> dict[str, Any]:
    modality = rng.choice(list(MODALITIES))
    name, targets = MODALITIES[modality]
    indication = rng.choice(INDICATIONS)
    chosen = rng.sample(PROJECT_SENTENCES, rng.randint(5, 8))
    abstract = " ".join(_fill(s, rng, modality) for s in chosen)
    return {
        "id": f"P-{i:05d}",
        "title": f"{rng.choice(targets)} {name} for {indication} ({rng.randint(1, 999)})",
        "abstract": abstract,
        "modality": modality,
        "indications": [indication],
        "stage": rng.choice(STAGES),
        "needs": rng.sample(NEEDS, rng.randint(1, 3)),
        "owner": f"u.gen.{i % 50}",
        "team": [f"u.gen.{(i + 1) % 50}"],
        "visibility": rng.choice(VISIBILITY),
        "updated_at": f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}T09:00:00Z",
    }


def write_world(
    folder: Path,
    organisations: int,
    projects: int,
    distinct_documents: int = 0,
    seed: int = 0,
    calls: int | None = None,
) -> Path:
    """Write organisations.jsonl, projects.jsonl and the demo's calls.jsonl (its first `calls`
    when given) into `folder`. With `distinct_documents` > 0, profiles are drawn from a pool of
    that many documents."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    pool = None
    if distinct_documents > 0:
        titles = list(ORG_SENTENCES)
        pool = [
            document(titles[j % len(titles)], rng, rng.choice(list(MODALITIES)))
            for j in range(max(distinct_documents, 4))
        ]
    with (folder / "organisations.jsonl").open("w", encoding="utf-8") as f:
        for i in range(organisations):
            f.write(json.dumps(organisation(i, rng, pool)) + "\n")
    with (folder / "projects.jsonl").open("w", encoding="utf-8") as f:
        for i in range(projects):
            f.write(json.dumps(project(i, rng)) + "\n")
    lines = (DEMO / "calls.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (folder / "calls.jsonl").write_text("".join(lines[:calls]), encoding="utf-8")
    return folder


def pasted_text(rng: random.Random, serial: int) -> str:
    """A new abstract: random picks, and the serial number in every sentence, so that neither
    the text nor any of its sentences has been embedded before."""
    modality = rng.choice(list(MODALITIES))
    chosen = rng.sample(PROJECT_SENTENCES, rng.randint(4, 6))
    return " ".join(
        _fill(s, rng, modality).rstrip(".") + f" (note {serial}-{j})." for j, s in enumerate(chosen)
    )
