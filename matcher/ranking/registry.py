"""Registry facts as evidence: what ClinicalTrials.gov or CORDIS say about each profile document
besides its text (interventions, conditions, phases, dates, the organisation's role), held per
document so that a document left out of a profile (the benchmark's leave-one-out mask) takes its
facts with it.

The project side is its own registered facts where it has them (a project with a trial of its
own, a benchmark trial), otherwise its text and stage: interventions and conditions are then the
words of the text that the collection's registry vocabulary knows.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ..domain import LEADING_ROLES, Facts
from ..text import words

Vector = npt.NDArray[np.float32]
Docs = npt.NDArray[np.int64]

YEARS_SCALE = 4.0
"""Recency decays as exp(-years apart / YEARS_SCALE)."""
_SHORT = 3
_STOP = frozenset({
    "and", "the", "for", "with", "of", "in", "to", "or", "on", "at", "by", "from", "as", "an",
    "a", "no", "not", "other", "non", "per", "via", "into", "than", "cell", "cells", "therapy",
    "treatment", "patients", "patient", "study", "group", "placebo", "standard", "care",
    # ClinicalTrials.gov's intervention types, which prefix the names ('Biological: ...')
    "biological", "drug", "genetic", "device", "procedure", "behavioral", "radiation",
    "dietary", "supplement", "combination", "product", "diagnostic", "test",
})  # fmt: skip


def terms(text: str) -> set[str]:
    """The words of a registry name list that can tell one product or condition from another."""
    return {w for w in words(text) if len(w) >= _SHORT and w not in _STOP and not w.isdigit()}


@dataclass(frozen=True)
class QuerySide:
    """What the project side brings: its interventions' and conditions' words, phases, date."""

    interventions: set[str]
    conditions: set[str]
    phases: tuple[int, ...]
    when: dt.date | None


def query_side(
    facts: Facts | None, text: str, phases: Sequence[int], when: dt.date | None
) -> QuerySide:
    """The project side from its own facts where it has them, else from its text (`phases` and
    `when` then come from its stage and its date)."""
    words = terms(text)
    if facts:
        return QuerySide(
            terms(" ".join(facts.interventions)) if facts.interventions else words,
            terms(" ".join(facts.conditions)) if facts.conditions else words,
            facts.phases or tuple(phases),
            facts.start or when,
        )
    return QuerySide(words, words, tuple(phases), when)


class Vocabulary:
    """IDF-weighted word sets of one kind of name (interventions, conditions), one row per
    document, rows of unit length; a query set scores each document by cosine."""

    def __init__(self, names: Sequence[Sequence[str]]) -> None:
        sets = [terms(" ".join(n)) for n in names]
        vocabulary = sorted({t for s in sets for t in s})
        self.ids = {t: i for i, t in enumerate(vocabulary)}
        rows = [i for i, s in enumerate(sets) for _ in s]
        cols = [self.ids[t] for s in sets for t in s]
        counts = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)),
            shape=(len(sets), max(1, len(vocabulary))),
        )
        df = np.bincount(cols, minlength=max(1, len(vocabulary))).astype(np.float32)
        self.idf = (np.log((len(sets) + 1) / (df + 1)) + 1).astype(np.float32)
        weighted = counts.multiply(self.idf).tocsr()
        self.counts = counts
        self.mass = np.asarray(weighted.sum(axis=1), dtype=np.float32).ravel()
        norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
        self.matrix = sp.diags(1 / np.maximum(norms, 1e-12)).dot(weighted).tocsr()

    def vector(self, query: set[str]) -> Vector:
        out = np.zeros(self.matrix.shape[1], dtype=np.float32)
        for t in query:
            if t in self.ids:
                out[self.ids[t]] = self.idf[self.ids[t]]
        norm = float(np.linalg.norm(out))
        if norm:
            out /= np.float32(norm)
        return out

    def coverage(self, query: set[str], docs: Docs | None = None) -> Vector:
        """Per document (or per document at `docs`), the share of its words' IDF mass that the
        query has: how much of a product's or a condition's name the project names (0 for a
        document without names)."""
        wanted = np.zeros(self.matrix.shape[1], dtype=np.float32)
        for t in query:
            if t in self.ids:
                wanted[self.ids[t]] = self.idf[self.ids[t]]
        counts = self.counts if docs is None else self.counts[docs]
        mass = self.mass if docs is None else self.mass[docs]
        shared = np.asarray(counts @ wanted, dtype=np.float32).ravel()
        out: Vector = np.where(mass > 0, shared / np.maximum(mass, 1e-12), 0.0).astype(np.float32)
        return out

    def scores(self, query: set[str], docs: Docs | None = None) -> Vector:
        """Per document (or per document at `docs`), the cosine of its words with the query's."""
        matrix = self.matrix if docs is None else self.matrix[docs]
        return np.asarray(matrix @ self.vector(query), dtype=np.float32).ravel()

    def top(self, query: set[str], k: int) -> Docs:
        """The documents (at most k) that share the most with the query, by cosine; reads only
        the query's words' columns."""
        cols = [self.ids[t] for t in query if t in self.ids]
        if not cols:
            return np.zeros(0, dtype=np.int64)
        weights = self.vector(query)
        columns = self.by_term[:, cols]
        per = np.repeat(weights[cols], np.diff(columns.indptr))
        scores = np.bincount(columns.indices, weights=columns.data * per, minlength=len(self.mass))
        hit = np.flatnonzero(scores > 0)
        if len(hit) > k:
            hit = hit[np.argpartition(-scores[hit], k - 1)[:k]]
        return hit.astype(np.int64)

    @cached_property
    def by_term(self) -> sp.csc_matrix:
        return self.matrix.tocsc()

    def scores_matrix(self, queries: Sequence[set[str]], docs: Sequence[int]) -> Vector:
        """Per query and per document of `docs`, their cosine: (queries, docs)."""
        if not len(docs) or not queries:
            return np.zeros((len(queries), len(docs)), dtype=np.float32)
        q = np.stack([self.vector(s) for s in queries])
        out: Vector = np.asarray((self.matrix[list(docs)] @ q.T), dtype=np.float32).T
        return out


MENTIONS = 0.3
"""The cosine from which a document counts as on the project's interventions or conditions."""


NAMED = 0.5
"""The share of a document's intervention (or condition) words, by IDF, that the project must
name for the document to count in a track record."""


class RegistryIndex:
    """The facts of every document of a collection, as arrays aligned with its documents."""

    def __init__(self, facts: Sequence[Facts | None]) -> None:
        empty = Facts()
        known = [f or empty for f in facts]
        self.interventions = Vocabulary([f.interventions for f in known])
        self.conditions = Vocabulary([f.conditions for f in known])
        self.phase_mask = np.array([_mask(f.phases) for f in known], dtype=np.int64)
        self.year = np.array(
            [_year(f.start) if f.start else np.nan for f in known], dtype=np.float64
        )
        self.leading = np.array([f.role in LEADING_ROLES for f in known], dtype=bool)
        self.any = bool(any(facts))

    def meets(self, side: QuerySide | None, docs: Sequence[int]) -> list[bool]:
        """Per document of `docs`: whether the project names most of its interventions or of its
        conditions (over NAMED of their IDF mass), so that one shared generic word ('vector')
        does not make a trial part of a track record."""
        if side is None or not len(docs):
            return [False] * len(docs)
        chosen = np.asarray(list(docs), dtype=np.int64)
        interventions = self.interventions.coverage(side.interventions, chosen)
        conditions = self.conditions.coverage(side.conditions, chosen)
        pairs = zip(interventions, conditions, strict=True)
        return [bool(a > NAMED or b > NAMED) for a, b in pairs]

    def phase_hits(self, phases: Sequence[int], docs: Docs | None = None) -> tuple[Vector, Vector]:
        """Per document (or per document at `docs`): whether it has a phase, and whether one of
        them is among `phases`."""
        mask = self.phase_mask if docs is None else self.phase_mask[docs]
        has: Vector = (mask > 0).astype(np.float32)
        hits: Vector = ((mask & _mask(phases)) > 0).astype(np.float32)
        return has, hits

    def closeness(self, when: dt.date | None, docs: Docs | None = None) -> Vector:
        """Per document (or per document at `docs`), exp(-years between its start and `when` /
        YEARS_SCALE); 0 where either date is unknown."""
        year = self.year if docs is None else self.year[docs]
        if when is None:
            return np.zeros(len(year), dtype=np.float32)
        gap = np.abs(year - _year(when))
        out: Vector = np.nan_to_num(np.exp(-gap / YEARS_SCALE), nan=0.0).astype(np.float32)
        return out


def _mask(phases: Sequence[int]) -> int:
    return sum(1 << p for p in set(phases))


def _year(day: dt.date) -> float:
    return day.year + (day.timetuple().tm_yday - 1) / 365.25


def share(hits: Vector, has: Vector, owner: npt.NDArray[np.int64], n: int) -> Vector:
    """Per entity, the share of its documents with something (`has`) that also hit."""
    totals = np.bincount(owner, weights=has, minlength=n)
    found = np.bincount(owner, weights=hits * has, minlength=n)
    return np.where(totals > 0, found / np.maximum(totals, 1), 0.0).astype(np.float32)


_ROMAN_PHASES = {0: "early phase I", 1: "phase I", 2: "phase II", 3: "phase III", 4: "phase IV"}


def track_record(
    facts: Sequence[Facts | None], meets: Sequence[bool], side: QuerySide | None
) -> str:
    """The candidate's registered work on what the project is about, in words: 'ran 3 phase II
    trials with MSC-FFM in GvHD since 2019'. `meets` says, per document, whether its
    interventions or conditions meet the project's (`RegistryIndex.meets`); empty where none
    does."""
    if side is None:
        return ""
    related = []
    named: dict[str, list[str]] = {"interventions": [], "conditions": []}
    for f, met in zip(facts, meets, strict=True):
        if not f or not met:
            continue
        related.append(f)
        for kind in named:
            named[kind] += [n for n in getattr(f, kind) if terms(n) & getattr(side, kind)]
    if not related:
        return ""
    trials = any(f.phases for f in related)
    noun = "trial" if trials else "project"
    phased = [f for f in related if set(f.phases) & set(side.phases)]
    phase = ""
    if side.phases and len(phased) == len(related):
        phase = _ROMAN_PHASES[min(set(related[0].phases) & set(side.phases))] + " "
    led = sum(1 for f in related if f.role in LEADING_ROLES)
    verb = "ran" if trials and led == len(related) else "took part in"
    words = [f"{verb} {len(related)} {phase}{noun}"]
    words[0] += "s" if len(related) > 1 else ""
    if named["interventions"]:
        words.append(f"with {_TYPE.sub('', _most_common(named['interventions']))}")
    if named["conditions"]:
        words.append(f"in {_most_common(named['conditions'])}")
    years = [f.start.year for f in related if f.start]
    if years:
        words.append(f"since {min(years)}" if len(related) > 1 else f"in {years[0]}")
    text = " ".join(words)
    if led and led < len(related):
        text += f", {led} as lead"
    return text


_TYPE = re.compile(
    r"^(biological|drug|genetic|device|procedure|behavioral|radiation|dietary supplement|"
    r"combination product|diagnostic test|other)\s*:\s*",
    re.IGNORECASE,
)
"""ClinicalTrials.gov's intervention type before a name ('Biological: BPX-MSC')."""


def _most_common(names: list[str]) -> str:
    counts: dict[str, int] = {}
    spelling: dict[str, str] = {}
    for n in names:
        key = n.casefold()
        counts[key] = counts.get(key, 0) + 1
        spelling.setdefault(key, n)
    return spelling[max(counts, key=lambda k: (counts[k], -len(k)))]
