"""Entity resolution of organisations: the same organisation arrives from CORDIS, from
ClinicalTrials.gov and from the hub's own files, under several spellings. `resolve` groups the
candidates into clusters; a reviewer's decisions (`split`, `merge`) are kept as cannot-link and
must-link pairs, so that the next `resolve` does not undo them.

How two candidates come to share a cluster, strongest first:

1. a reviewer said so (must-link), confidence 1.0;
2. the same identifier (PIC, ROR...), confidence 1.0;
3. names that score at least `threshold` (rapidfuzz's ratio of the normalised names with their
   words sorted), in the same country or where one country is missing. The confidence is the
   score of the weakest link that joined the cluster.

Names never merge across countries (nor names whose legal forms belong to two countries: 'Acme
AB', 'Acme N.V.'), nor a hospital with a university ('Uppsala University
Hospital' is not 'Uppsala University'; neither is listed for review). A department or unit and
its institution ('University of X - Dept of Haematology' and 'University of X'), two companies
whose names differ in what they do ('X Pharma', 'X Biotech') and names that differ in a number
are listed for review instead of merged, as are names that score within `review_band` below
`threshold`. A cannot-link pair, and any pair of clusters it would join, is never merged.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz import fuzz, process

from ..errors import InvalidQuery, NotFound
from .orgnames import NameForm, NameRows, compare, name_form, normalise

__all__ = [
    "ID_KEYS",
    "Candidate",
    "Cluster",
    "Link",
    "Resolution",
    "Review",
    "merge",
    "normalise",
    "resolve",
    "split",
]

ID_KEYS = ("pic", "ror", "grid", "lei", "vat")
"""Identifiers that name one organisation: two candidates that share one are the same."""

COUNTRY_CODES = {"UK": "GB", "EL": "GR"}  # CORDIS writes UK and EL

Pair = tuple[str, str]


@dataclass(frozen=True)
class Candidate:
    """An organisation as one source gives it."""

    id: str
    """The source's id: CORDIS:<organisationID>, CTGOV:<slug>, O-001."""
    name: str
    country: str | None = None
    """ISO 3166 alpha-2 ('SE'); None where the source does not say."""
    identifiers: Mapping[str, str] = field(default_factory=dict)
    """{'pic': ..., 'ror': ..., 'source': 'cordis'}: the keys of ID_KEYS link candidates."""
    aliases: tuple[str, ...] = ()
    """Other names the source gives (an acronym, a former name); each is compared."""


@dataclass(frozen=True)
class Link:
    """Why two members are in one cluster."""

    pair: Pair
    score: float
    why: str


@dataclass(frozen=True)
class Review:
    """Two candidates in different clusters that a person should look at; not merged."""

    pair: Pair
    score: float
    why: str


@dataclass(frozen=True)
class Cluster:
    id: str
    """The canonical member's id: the hub's own id where there is one, else the smallest."""
    name: str
    """The canonical member's name."""
    country: str | None
    members: tuple[str, ...]
    """Every candidate id (every source id), sorted."""
    aliases: tuple[str, ...]
    """Every name and alias of every member, as given, sorted."""
    identifiers: Mapping[str, tuple[str, ...]]
    confidence: float
    """The score of the weakest link that joined the cluster: 1.0 for one member, for a
    reviewer's or an identifier's link, and for the same normalised name."""
    links: tuple[Link, ...]


@dataclass(frozen=True)
class _Edge:
    pair: Pair
    score: float
    verdict: str  # 'merge' or 'review'
    why: str
    by_name: bool = True


@dataclass(frozen=True)
class Resolution:
    clusters: tuple[Cluster, ...]
    reviews: tuple[Review, ...]
    """Best first; one per pair of clusters."""
    threshold: float
    review_band: float
    cannot_link: frozenset[Pair]
    must_link: frozenset[Pair]
    candidates: tuple[Candidate, ...] = field(repr=False)
    _edges: tuple[_Edge, ...] = field(repr=False, compare=False)

    def cluster_of(self, candidate_id: str) -> Cluster:
        """The cluster holding this candidate. Raises NotFound."""
        for cluster in self.clusters:
            if candidate_id in cluster.members:
                return cluster
        raise NotFound("candidate", candidate_id)

    def same(self, a: str, b: str) -> bool:
        return b in self.cluster_of(a).members

    def pairs(self) -> set[Pair]:
        """Every pair of candidate ids that share a cluster (sorted within each pair)."""
        return {
            (a, b)
            for c in self.clusters
            for i, a in enumerate(c.members)
            for b in c.members[i + 1 :]
        }


def _pair(a: str, b: str) -> Pair:
    return (a, b) if a <= b else (b, a)


def _country(value: str | None) -> str | None:
    code = (value or "").strip().upper()
    return COUNTRY_CODES.get(code, code) or None


def _candidate_pairs(
    candidates: tuple[Candidate, ...], rows: NameRows, low: float, max_block: int
) -> set[tuple[int, int]]:
    """Pairs of candidates (indices) in compatible countries with two names that score at
    least `low`: rapidfuzz compares the rows of each block at once."""
    countries = [_country(c.country) for c in candidates]
    keys = [f.key for f in rows.forms]
    cutoff = int(low * 100)
    found: set[tuple[int, int]] = set()
    for block in rows.blocks(max_block):
        block_keys = [keys[r] for r in block]
        scores = process.cdist(
            block_keys, block_keys, scorer=fuzz.ratio, score_cutoff=cutoff, dtype=np.uint8
        )
        for x, y in zip(*np.nonzero(np.triu(scores, 1)), strict=True):
            i, j = sorted((rows.owner[block[x]], rows.owner[block[y]]))
            if i != j and (not countries[i] or not countries[j] or countries[i] == countries[j]):
                found.add((i, j))
    return found


_NEVER = ("a hospital and a university", "legal forms of two countries")


def _edges(
    candidates: tuple[Candidate, ...], threshold: float, low: float, max_block: int
) -> tuple[_Edge, ...]:
    edges: list[_Edge] = []
    holders: defaultdict[tuple[str, str], list[str]] = defaultdict(list)
    for c in candidates:
        for key in ID_KEYS:
            value = (c.identifiers.get(key) or "").strip().casefold()
            if value:
                holders[key, value].append(c.id)
    for (key, value), ids in holders.items():
        edges += [_Edge(_pair(a, b), 1.0, "merge", f"the same {key} {value}", by_name=False)
                  for a, b in itertools.pairwise(ids)]  # fmt: skip
    rows = NameRows((c.name, *c.aliases) for c in candidates)
    forms: defaultdict[int, list[NameForm]] = defaultdict(list)
    for owner, form in zip(rows.owner, rows.forms, strict=True):
        forms[owner].append(form)
    for i, j in sorted(_candidate_pairs(candidates, rows, low, max_block)):
        verdicts = [compare(a, b, threshold, low) for a in forms[i] for b in forms[j]]
        if any(why in _NEVER for _, _, why in verdicts):
            continue
        ranked = [v for v in verdicts if v[1]]
        if ranked:
            score, verdict, why = max(ranked, key=lambda v: (v[1] == "merge", v[0], v[2]))
            edges.append(_Edge(_pair(candidates[i].id, candidates[j].id), score, verdict, why))
    return tuple(sorted(_ambiguous_to_review(candidates, edges), key=lambda e: (-e.score, e.pair)))


def _ambiguous_to_review(candidates: tuple[Candidate, ...], edges: list[_Edge]) -> list[_Edge]:
    """A candidate without a country whose name matches candidates in two countries ('Acme
    Therapeutics, Inc.' from a trial's sponsor; 'Acme Therapeutics AB' in SE and 'Acme
    Therapeutics GmbH' in DE) could be either: those merges become reviews."""
    country = {c.id: _country(c.country) for c in candidates}
    seen: defaultdict[str, set[str]] = defaultdict(set)
    for e in edges:
        a, b = e.pair
        if e.verdict == "merge" and e.by_name and bool(country[a]) != bool(country[b]):
            lone, other = (a, b) if not country[a] else (b, a)
            seen[lone].add(country[other] or "")
    ambiguous = {lone for lone, found in seen.items() if len(found) > 1}
    out = []
    for e in edges:
        a, b = e.pair
        lone = a if a in ambiguous else b if b in ambiguous else ""
        if lone and e.verdict == "merge" and e.by_name and country[b if lone == a else a]:
            where = "/".join(sorted(seen[lone]))
            out.append(
                dataclasses.replace(e, verdict="review", why=f"no country; alike in {where}")
            )
        else:
            out.append(e)
    return out


class _Components:
    """Union-find over candidate ids that refuses merges a cannot-link pair forbids."""

    def __init__(self, candidates: tuple[Candidate, ...], cannot: Collection[Pair]) -> None:
        self.parent = {c.id: c.id for c in candidates}
        self.members = {c.id: {c.id} for c in candidates}
        self.countries = {c.id: {k} if (k := _country(c.country)) else set() for c in candidates}
        # Legal forms' countries ('AB': SE, 'N.V.': NL) count as the country for name merges.
        self.legal = {c.id: {j for n in (c.name, *c.aliases) for j in name_form(n).jurisdictions}
                      for c in candidates}  # fmt: skip
        self.forbidden: dict[str, set[str]] = {c.id: set() for c in candidates}
        for a, b in cannot:
            if a in self.parent and b in self.parent:
                self.forbidden[a].add(b)
                self.forbidden[b].add(a)

    def find(self, x: str) -> str:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def allowed(self, a: str, b: str, *, by_name: bool) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        if self.forbidden[ra] & self.members[rb]:
            return False
        if not by_name:
            return True
        ca, cb = self.countries[ra], self.countries[rb]
        la, lb = self.legal[ra], self.legal[rb]
        return not (ca and cb and not ca & cb) and not (la and lb and not la & lb)

    def union(self, a: str, b: str) -> None:
        ra, rb = sorted((self.find(a), self.find(b)))
        if ra == rb:
            return
        self.parent[rb] = ra
        self.members[ra] |= self.members.pop(rb)
        self.countries[ra] |= self.countries.pop(rb)
        self.legal[ra] |= self.legal.pop(rb)
        self.forbidden[ra] |= self.forbidden.pop(rb)


def _canonical(members: Iterable[Candidate]) -> Candidate:
    return min(members, key=lambda c: (":" in c.id, c.id))


def _cluster(
    candidates: tuple[Candidate, ...],
    edges: tuple[_Edge, ...],
    threshold: float,
    review_band: float,
    cannot_link: frozenset[Pair],
    must_link: frozenset[Pair],
) -> Resolution:
    if both := cannot_link & must_link:
        raise InvalidQuery(f"Candidates {sorted(both)[0]} are both must-link and cannot-link.")
    components = _Components(candidates, cannot_link)
    links: list[Link] = []
    for a, b in sorted(must_link):
        if a in components.parent and b in components.parent:
            if not components.allowed(a, b, by_name=False):
                raise InvalidQuery(
                    f"Must-link {a!r}-{b!r} joins candidates that a cannot-link pair keeps "
                    "apart: drop one of the two decisions."
                )
            components.union(a, b)
            links.append(Link((a, b), 1.0, "a reviewer said they are the same"))
    for e in edges:
        if e.verdict != "merge" or e.score < threshold:
            continue
        if components.find(e.pair[0]) != components.find(e.pair[1]) and components.allowed(
            *e.pair, by_name=e.by_name
        ):
            components.union(*e.pair)
            links.append(Link(e.pair, e.score, e.why))
    by_id = {c.id: c for c in candidates}
    root_links: defaultdict[str, list[Link]] = defaultdict(list)
    for link in links:
        root_links[components.find(link.pair[0])].append(link)
    clusters = []
    for root, ids in components.members.items():
        members = [by_id[i] for i in sorted(ids)]
        head = _canonical(members)
        countries = Counter(k for m in members if (k := _country(m.country)))
        identifiers: defaultdict[str, set[str]] = defaultdict(set)
        for m in members:
            for key, value in m.identifiers.items():
                identifiers[key].add(value)
        own = tuple(sorted(root_links[root], key=lambda lk: lk.pair))
        clusters.append(
            Cluster(
                id=head.id,
                name=head.name,
                country=min(countries, key=lambda k: (-countries[k], k)) if countries else None,
                members=tuple(m.id for m in members),
                aliases=tuple(sorted({n for m in members for n in (m.name, *m.aliases)})),
                identifiers={k: tuple(sorted(v)) for k, v in sorted(identifiers.items())},
                confidence=min((lk.score for lk in own), default=1.0),
                links=own,
            )
        )
    best: dict[Pair, Review] = {}
    for e in edges:
        ra, rb = components.find(e.pair[0]), components.find(e.pair[1])
        if ra == rb or e.score < threshold - review_band:
            continue
        if not components.allowed(*e.pair, by_name=True) or e.verdict == "merge":
            continue
        best.setdefault(_pair(ra, rb), Review(e.pair, e.score, e.why))
    return Resolution(
        clusters=tuple(sorted(clusters, key=lambda c: c.id)),
        reviews=tuple(sorted(best.values(), key=lambda r: (-r.score, r.pair))),
        threshold=threshold,
        review_band=review_band,
        cannot_link=cannot_link,
        must_link=must_link,
        candidates=candidates,
        _edges=edges,
    )


def resolve(
    candidates: Iterable[Candidate],
    threshold: float = 0.95,
    review_band: float = 0.08,
    *,
    cannot_link: Iterable[Pair] = (),
    must_link: Iterable[Pair] = (),
    max_block: int = 1000,
) -> Resolution:
    """Group candidates into clusters of one organisation each (see the module's docstring),
    and list the pairs a person should review. The result does not depend on the order of the
    candidates. The defaults come from `python -m bench.resolve` (docs/entity-resolution.md).
    Raises InvalidQuery for two candidates with one id, or reviewers' decisions
    that contradict each other."""
    if not 0 < threshold <= 1 or not 0 <= review_band < threshold:
        raise InvalidQuery(
            f"threshold={threshold}, review_band={review_band}: the threshold must lie in "
            "(0, 1] and the band in [0, threshold)."
        )
    ordered = tuple(sorted(candidates, key=lambda c: c.id))
    ids = Counter(c.id for c in ordered)
    if repeated := sorted(i for i, n in ids.items() if n > 1):
        raise InvalidQuery(f"Candidates with the same id: {repeated[:5]}; give each its own id.")
    edges = _edges(ordered, threshold, threshold - review_band, max_block)
    return _cluster(
        ordered,
        edges,
        threshold,
        review_band,
        frozenset(_pair(a, b) for a, b in cannot_link),
        frozenset(_pair(a, b) for a, b in must_link),
    )


def split(resolution: Resolution, cluster_id: str, member_ids: Collection[str]) -> Resolution:
    """Undo a wrong merge: `member_ids` leave the cluster. Each of them and each member that
    stays become a cannot-link pair (and a must-link between them is dropped), so resolving
    again keeps them apart. Names are not compared again. Raises NotFound for an unknown
    cluster, InvalidQuery for members that are not in it, or that are all of it."""
    cluster = next((c for c in resolution.clusters if c.id == cluster_id), None)
    if cluster is None:
        raise NotFound("cluster", cluster_id)
    leaving = set(member_ids)
    if stray := sorted(leaving - set(cluster.members)):
        raise InvalidQuery(f"{stray} are not members of cluster {cluster_id!r}.")
    staying = [m for m in cluster.members if m not in leaving]
    if not leaving or not staying:
        raise InvalidQuery("Name some of the cluster's members to split off, not none or all.")
    apart = {_pair(a, b) for a in leaving for b in staying}
    return _cluster(
        resolution.candidates,
        resolution._edges,
        resolution.threshold,
        resolution.review_band,
        resolution.cannot_link | apart,
        resolution.must_link - apart,
    )


def merge(resolution: Resolution, candidate_ids: Collection[str]) -> Resolution:
    """A reviewer's 'these are the same': the candidates become must-link pairs (and a
    cannot-link between them is dropped), so resolving again keeps them together."""
    ids = sorted(set(candidate_ids))
    together = {_pair(ids[0], b) for b in ids[1:]} if ids else set()
    inside = {_pair(a, b) for i, a in enumerate(ids) for b in ids[i + 1 :]}
    return _cluster(
        resolution.candidates,
        resolution._edges,
        resolution.threshold,
        resolution.review_band,
        resolution.cannot_link - inside,
        resolution.must_link | together,
    )
