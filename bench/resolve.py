"""Entity resolution of organisations, measured on names whose truth is known by construction.

    python -m bench.resolve [--organisations 2000] [--scale 50000] [--seed 0] [--out FILE.json]

1. A generated world of organisations in SE, DE, FR, ES, IT, NL, GB and US (universities,
   university hospitals, institutes, biotechs, pharma companies and CDMOs, all invented),
   with the hard cases placed on purpose: a university and the university hospital of the
   same city, two companies with one stem and different trades ('X Pharma', 'X Biotech'), two
   companies a letter apart, the same company name in two countries.
2. The variants each source would give, each a `Candidate` with a hidden true id: CORDIS'
   legal names in capitals with legal forms and German transliterations, and PICs;
   ClinicalTrials.gov's English sponsor names (no country) and site names with departments;
   the hub's own files with abbreviations, accents dropped, typos and English exonyms of
   cities.
3. Pairwise precision and recall of the automatic merges at several thresholds, the review
   list's size and how many of its pairs are true, and the recall once a reviewer has accepted
   the true ones. A department's variant counts as its institution (so the review, not the
   merge, is the expected outcome).
4. Time of `resolve` on `--scale` generated candidates.
5. The names in the importers' fixtures (tests/data/sources), if present: the clusters found.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

from bench.machine import describe, peak_rss_mb, report
from matcher.sources.resolve import Candidate, resolve

CITIES = {
    "SE": "Stockholm Göteborg Malmö Uppsala Linköping Umeå Örebro Lund Västerås Jönköping "
    "Norrköping Karlstad Växjö Gävle Sundsvall",
    "DE": "München Köln Tübingen Düsseldorf Heidelberg Freiburg Würzburg Göttingen Münster "
    "Lübeck Dresden Leipzig Hamburg Mainz Regensburg",
    "FR": "Paris Lyon Marseille Toulouse Nantes Besançon Strasbourg Montpellier Bordeaux Lille "
    "Rennes Grenoble Nîmes Amiens Créteil",
    "ES": "Madrid Barcelona Sevilla Valencia Málaga Córdoba Cádiz Zaragoza Bilbao Salamanca "
    "Granada Oviedo Murcia Santander Alicante",
    "IT": "Milano Torino Firenze Napoli Bologna Padova Genova Pisa Verona Roma Bari Palermo "
    "Perugia Siena Trieste",
    "NL": "Amsterdam Rotterdam Utrecht Leiden Groningen Maastricht Nijmegen Eindhoven Delft "
    "Tilburg Zwolle Arnhem Haarlem Enschede Breda",
    "GB": "London Oxford Cambridge Manchester Birmingham Leeds Glasgow Edinburgh Bristol "
    "Sheffield Newcastle Liverpool Cardiff Nottingham Southampton",
    "US": "Boston Houston Seattle Chicago Denver Atlanta Baltimore Philadelphia Pittsburgh "
    "Nashville Cleveland Rochester Portland Austin Miami",
}
EXONYMS = {"München": "Munich", "Köln": "Cologne", "Göteborg": "Gothenburg", "Milano": "Milan",
           "Torino": "Turin", "Firenze": "Florence", "Napoli": "Naples", "Sevilla": "Seville",
           "Roma": "Rome", "Padova": "Padua", "Genova": "Genoa"}  # fmt: skip
UNIVERSITY = {"SE": "{c} universitet", "DE": "Universität {c}", "FR": "Université de {c}",
              "ES": "Universidad de {c}", "IT": "Università degli Studi di {c}",
              "NL": "Universiteit {c}", "GB": "University of {c}",
              "US": "University of {c}"}  # fmt: skip
HOSPITAL = {"SE": "{c} universitetssjukhus", "DE": "Universitätsklinikum {c}",
            "FR": "Centre Hospitalier Universitaire de {c}", "ES": "Hospital Universitario de {c}",
            "IT": "Azienda Ospedaliera Universitaria di {c}",
            "NL": "Universitair Medisch Centrum {c}",
            "GB": "{c} University Hospitals NHS Foundation Trust",
            "US": "{c} University Medical Center"}  # fmt: skip
LEGAL = {"SE": ["AB", "AB (publ)"], "DE": ["GmbH", "AG"], "FR": ["SAS", "S.A."],
         "ES": ["S.L.", "S.A."], "IT": ["S.r.l.", "S.p.A."], "NL": ["B.V.", "N.V."],
         "GB": ["Ltd", "plc", "Limited"], "US": ["Inc.", "LLC", "Corp."]}  # fmt: skip
TRADES = ["Therapeutics", "Bio", "Biotech", "Pharma", "Biologics", "Cell Therapy",
          "Gene Therapies", "Biosciences", "Biomanufacturing", "Vector Services"]  # fmt: skip
SYLLABLES = str.split("ab ac al am an ar ba be bi ca ce ci co da de di do el en er ex fa fe ga "
             "ge gi ha he in io ka ke ki la le li lo lu ma me mi mo na ne ni no on or pa pe ra re "
             "ri ro sa se si so ta te ti to tra tri va ve vi vo xa xe ze zi")  # fmt: skip
DEPARTMENTS = ["Dept. of Haematology", "Department of Cell Therapy", "Division of Oncology",
               "Gene Therapy Unit", "Department of Paediatrics"]  # fmt: skip
INSTITUTES = ["Institute for Cell Biology", "Centre for Gene Therapy",
              "Institute of Regenerative Medicine", "Centre for Immunotherapy"]  # fmt: skip
FOLD = str.maketrans("äöüåéèáóíñàìòúâç", "aouaeeaoinaiouac")
GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "AE", "Ö": "OE", "Ü": "UE"})


@dataclass(frozen=True)
class Org:
    id: str
    kind: str  # university, hospital, institute, company
    country: str
    native: str
    english: str
    city: str
    legal: str = ""


def _stem(rng: random.Random, used: set[str]) -> str:
    while True:
        stem = "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 3, 3, 4))))
        stem = stem.capitalize()
        if stem not in used and len(stem) >= 5:
            used.add(stem)
            return stem


def _typo(rng: random.Random, word: str) -> str:
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def world(n: int, rng: random.Random) -> list[Org]:
    """About n organisations: per country, a university and a hospital in most cities, a few
    institutes, and companies, some of them siblings, near-namesakes or foreign namesakes."""
    orgs: list[Org] = []
    used: set[str] = set()
    per_country = n // len(CITIES)
    for country, cities in CITIES.items():
        start = len(orgs)
        for city in cities.split():
            english = EXONYMS.get(city, city)
            if rng.random() < 0.8:
                name = UNIVERSITY[country].format(c=city)
                orgs.append(Org("", "university", country, name, f"University of {english}", city))
            if rng.random() < 0.8:
                orgs.append(Org("", "hospital", country, HOSPITAL[country].format(c=city),
                                f"{english} University Hospital", city))  # fmt: skip
            if rng.random() < 0.3:
                name = f"{rng.choice(INSTITUTES)} {english}"
                orgs.append(Org("", "institute", country, name, name, city))
        while len(orgs) - start < per_country:
            stem, trade = _stem(rng, used), rng.choice(TRADES)
            legal = rng.choice(LEGAL[country])
            orgs.append(
                Org("", "company", country, f"{stem} {trade}", f"{stem} {trade}", "", legal)
            )
            roll = rng.random()
            if roll < 0.08:  # a sibling with another trade
                other = rng.choice([t for t in TRADES if t != trade])
                name = f"{stem} {other}"
                orgs.append(Org("", "company", country, name, name, "", legal))
            elif roll < 0.12:  # a near-namesake
                near = _typo(rng, stem)
                name = f"{near} {trade}"
                orgs.append(Org("", "company", country, name, name, "", legal))
            elif roll < 0.15:  # a namesake abroad
                abroad = rng.choice([c for c in CITIES if c != country])
                name = f"{stem} {trade}"
                orgs.append(Org("", "company", abroad, name, name, "", rng.choice(LEGAL[abroad])))
    return [dataclasses.replace(o, id=f"T{i:05d}") for i, o in enumerate(orgs)]


def variants(org: Org, rng: random.Random) -> Iterator[tuple[Candidate, str]]:
    """The candidates the sources would give for one organisation, each with its true id."""
    n = int(org.id[1:])
    company = org.kind == "company"
    if rng.random() < (0.5 if company else 0.8):  # CORDIS: legal name in capitals, a PIC
        name = f"{org.native} {org.legal}".strip().upper() if company else org.native.upper()
        if org.country == "DE" and rng.random() < 0.7:
            name = name.translate(GERMAN)
        yield Candidate(f"CORDIS:{9_000_000 + n}", name, org.country,
                        {"pic": str(9_000_000 + n), "source": "cordis"}), org.id  # fmt: skip
    if rng.random() < 0.5:  # ClinicalTrials.gov: English, a sponsor without a country
        suffix = rng.choice(["", f", {org.legal}", f" {org.legal}"]) if company else ""
        name = org.english + suffix
        yield Candidate(f"CTGOV:{n}", name, None, {"source": "ctgov"}), org.id
    if not company and rng.random() < 0.3:  # a trial site: a department, in its country
        name = f"{rng.choice(DEPARTMENTS)}, {org.english}"
        yield Candidate(f"CTGOV:site:{n}", name, org.country, {"source": "ctgov"}), org.id
    if rng.random() < 0.6:  # the hub's own files: short forms, no accents, typos
        name = org.native
        if org.kind == "university" and rng.random() < 0.5:
            name = f"Univ. of {org.city}"
        elif org.kind == "hospital" and rng.random() < 0.5:
            name = f"{org.city} Univ. Hosp."
        if rng.random() < 0.5:
            name = name.translate(FOLD)
        if company and rng.random() < 0.15:
            stem, rest = name.split(" ", 1)
            name = f"{_typo(rng, stem)} {rest}"
        yield Candidate(f"O-{n:05d}", name, org.country, {"source": "hub"}), org.id


def labelled(n: int, seed: int) -> tuple[list[Candidate], dict[str, str]]:
    rng = random.Random(seed)
    candidates: list[Candidate] = []
    truth: dict[str, str] = {}
    for org in world(n, rng):
        for candidate, true_id in variants(org, rng):
            candidates.append(candidate)
            truth[candidate.id] = true_id
    return candidates, truth


def true_pairs(truth: dict[str, str]) -> set[tuple[str, str]]:
    groups: defaultdict[str, list[str]] = defaultdict(list)
    for cid, tid in truth.items():
        groups[tid].append(cid)
    return {p for ids in groups.values() for p in combinations(sorted(ids), 2)}


def measure(candidates: list[Candidate], truth: dict[str, str], threshold: float,
            band: float) -> dict[str, Any]:  # fmt: skip
    started = time.perf_counter()
    r = resolve(candidates, threshold=threshold, review_band=band)
    seconds = time.perf_counter() - started
    gold = true_pairs(truth)
    found = r.pairs()
    hits = len(found & gold)
    right = [rv.pair for rv in r.reviews if truth[rv.pair[0]] == truth[rv.pair[1]]]
    reviewed = resolve(candidates, threshold=threshold, review_band=band, must_link=right)
    after = reviewed.pairs()
    wrong = sorted(found - gold)[:5]
    return {
        "threshold": threshold,
        "review_band": band,
        "seconds": round(seconds, 2),
        "clusters": len(r.clusters),
        "true_organisations": len(set(truth.values())),
        "pairs_found": len(found),
        "pairs_true": len(gold),
        "precision": round(hits / len(found), 4) if found else 1.0,
        "recall": round(hits / len(gold), 4) if gold else 1.0,
        "reviews": len(r.reviews),
        "reviews_true": len(right),
        "recall_after_review": round(len(after & gold) / len(gold), 4) if gold else 1.0,
        "precision_after_review": round(len(after & gold) / len(after), 4) if after else 1.0,
        "review_reasons": dict(
            Counter(rv.why.split(":")[0].split("(")[0].strip() for rv in r.reviews).most_common(8)
        ),
        "false_merges_sample": [[_name(candidates, a), _name(candidates, b)] for a, b in wrong],
        "missed_sample": [
            [_name(candidates, a), _name(candidates, b)] for a, b in sorted(gold - after)[:8]
        ],
    }


def _name(candidates: list[Candidate], cid: str) -> str:
    return next(c.name for c in candidates if c.id == cid)


def fixtures(root: Path) -> list[dict[str, Any]]:
    """Clusters of more than one candidate among the importers' fixture names."""
    found: dict[str, Candidate] = {}
    cordis = root / "cordis" / "json" / "organization.json"
    if cordis.exists():
        for row in json.loads(cordis.read_text()):
            cid = f"CORDIS:{row['organisationID']}"
            found[cid] = Candidate(cid, row["name"], row.get("country") or None,
                                   {"pic": row["organisationID"], "source": "cordis"})  # fmt: skip
    studies = root / "ctgov" / "studies.jsonl"
    if studies.exists():
        for line in studies.read_text().splitlines():
            module = json.loads(line).get("protocolSection", {})
            sponsor = module.get("sponsorCollaboratorsModule", {}).get("leadSponsor", {})
            if name := sponsor.get("name"):
                found[f"CTGOV:{name}"] = Candidate(f"CTGOV:{name}", name)
            for site in module.get("contactsLocationsModule", {}).get("locations", []):
                if name := site.get("facility"):
                    found[f"CTGOV:site:{name}"] = Candidate(
                        f"CTGOV:site:{name}", name, site.get("country")
                    )
    if not found:
        return []
    r = resolve(found.values())
    return [{"members": c.aliases, "confidence": c.confidence}
            for c in r.clusters if len(c.members) > 1]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--organisations", type=int, default=2000)
    parser.add_argument("--scale", type=int, default=50000, help="candidates timed; 0: none")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    candidates, truth = labelled(args.organisations, args.seed)
    runs = [measure(candidates, truth, t, 0.08) for t in (0.85, 0.9, 0.95)]
    result: dict[str, Any] = {"machine": describe(), "candidates": len(candidates), "runs": runs}
    if args.scale:
        many, _ = labelled(args.scale * 13 // 20, args.seed + 1)
        started = time.perf_counter()
        big = resolve(many[: args.scale])
        result["scale"] = {"candidates": len(many[: args.scale]), "clusters": len(big.clusters),
                           "reviews": len(big.reviews),
                           "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
    result["fixtures"] = fixtures(Path("tests/data/sources"))
    result["peak_rss_mb"] = round(peak_rss_mb())
    report(result, args.out)


if __name__ == "__main__":
    main()
