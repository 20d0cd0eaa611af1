"""The evidence a match is scored on: one row of features per (project or text, candidate) pair.

Every feature compares the project side (a stored project or a pasted text) with the candidate
side (an organisation's profile documents, a call, or, in the reverse direction, the project
itself), so a pair has the same features whichever side asks. A feature is one `Feature`: its
name, its family (how reasons group the score), what it means, and its computation in both
directions, reading the shared evidence of `pairs.Forward` / `pairs.Reverse`. Adding a feature
is adding one definition to `DEFINITIONS`; a saved ranker names the features it weighs, so one
saved before a feature existed still loads (that feature weighs 0 for it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .pairs import Forward, Reverse, Vector
from .phrases import PhraseIndex
from .registry import MENTIONS, YEARS_SCALE, share

if TYPE_CHECKING:
    from .collection import Loaded
    from .subset import Slice

MAX_FACETS = 6


@dataclass(frozen=True)
class Feature:
    name: str
    family: str
    """dense, lexical, facets, profile, programme or registry: the parts of the score reasons
    show."""
    about: str
    forward: Callable[[Forward], Vector]
    """The feature of one query against every entity of a collection."""
    reverse: Callable[[Reverse], Vector]
    """The feature of every project against one entity; row i equals `forward` for project i."""

    Pair = tuple[Callable[[Forward], Vector], Callable[[Reverse], Vector]]


# ---------------------------------------------------------------------- dense


def _dense_top3(f: Forward) -> Vector:
    return f.c.top_mean(f.doc_scores, 3)


def _dense_top3_reverse(r: Reverse) -> Vector:
    top = -np.sort(-r.best, axis=1)[:, :3]
    out: Vector = top.mean(axis=1).astype(np.float32)
    return out


# ---------------------------------------------------------------------- lexical


def _lexical_max_reverse(r: Reverse) -> Vector:
    index = r.indexes()[1]
    return r.over_documents([index.scores_against(r.texts, int(d)) for d in r.docs])


def _phrase_reverse(r: Reverse) -> Vector:
    if not len(r.docs):
        return np.zeros(r.n, dtype=np.float32)
    # An index of the entity's own documents gives their runs exactly (a run is made of words
    # both sides have), without reading the whole collection's hits once per project.
    own = PhraseIndex().fit([r.c.doc_texts[int(d)] for d in r.docs])
    return np.array([float(own.scores(text).max()) for text in r.texts], dtype=np.float32)


def _rare_term_reverse(r: Reverse) -> Vector:
    index = r.indexes()[1]
    return r.over_documents([index.rarest_shared_against(r.texts, int(d)) for d in r.docs])


# ---------------------------------------------------------------------- facets, profile


def _facets(f: Forward) -> Vector:
    out = f.c.shared_facet_counts(f.query.facets)
    for position in f.touched:
        kept = [f.c.doc_texts[i] for i in f.kept_docs(position)]
        remaining = f.c.facet_sources[position].from_documents(kept)
        out[position] = min(MAX_FACETS, len(remaining & f.query.facets))
    return out


def _log_documents(f: Forward) -> Vector:
    # The size of the whole track record, left-out documents included: counting them out
    # would tell which candidates held the query's own record.
    return f.c.log_documents


# ---------------------------------------------------------------------- programme


def _group_dense_reverse(r: Reverse) -> Vector:
    dense = np.zeros(r.n, dtype=np.float32)
    for member in r.group_members:
        member_docs = r.c.doc_vectors[r.c.entity_docs(int(member))]
        sims = r.projects.doc_vectors @ member_docs.T
        per_project = np.full(r.n, -1.0, dtype=np.float32)
        np.maximum.at(per_project, r.projects.doc_owner, sims.max(axis=1))
        dense += per_project
    return (dense / max(1, len(r.group_members))).astype(np.float32)


def _group_lexical_reverse(r: Reverse) -> Vector:
    lexical = np.zeros(r.n, dtype=np.float32)
    for member in r.group_members:
        lexical += r.indexes()[0].scores_against(r.texts, int(member))
    return (lexical / max(1, len(r.group_members))).astype(np.float32)


# ---------------------------------------------------------------------- registry facts
# The project side's facts (or its text, stage and date) against each document's facts; a
# document left out of a profile takes its facts with it.


def _names(kind: str) -> Feature.Pair:
    return (lambda f: f.doc_max(f.names(kind)), lambda r: r.row_max(r.names(kind)))


def _count(kind: str) -> Feature.Pair:
    def forward(f: Forward) -> Vector:
        return np.log1p(f.doc_count((f.names(kind) >= MENTIONS).astype(np.float32)))

    def reverse(r: Reverse) -> Vector:
        counts: Vector = (r.names(kind) >= MENTIONS).sum(axis=1).astype(np.float32)
        return np.log1p(counts)

    return forward, reverse


def _timely(kind: str) -> Feature.Pair:
    def forward(f: Forward) -> Vector:
        return f.doc_max(f.names(kind) * f.closeness)

    def reverse(r: Reverse) -> Vector:
        return r.row_max(r.names(kind) * r.closeness)

    return forward, reverse


def _phase(f: Forward) -> Vector:
    if f.query.side is None or not f.query.side.phases:
        return np.zeros(f.n, dtype=np.float32)
    has, hits = f.c.registry.phase_hits(f.query.side.phases)
    return share(hits, f.zero_dropped(has), f.c.doc_owner, f.n)


def _phase_reverse(r: Reverse) -> Vector:
    out = np.zeros(r.n, dtype=np.float32)
    masks = r.c.registry.phase_mask[r.docs]
    has = masks > 0
    if not has.any():
        return out
    for i, side in enumerate(r.projects.sides):
        wanted = sum(1 << p for p in set(side.phases))
        out[i] = float(((masks & wanted) > 0).sum()) / float(has.sum()) if wanted else 0.0
    return out


def _leading(f: Forward) -> Vector:
    leading = f.c.registry.leading.astype(np.float32)
    ones = f.zero_dropped(np.ones(len(leading), dtype=np.float32))
    return share(leading, ones, f.c.doc_owner, f.n)


def _leading_reverse(r: Reverse) -> Vector:
    docs = r.c.registry.leading[r.docs]
    return np.full(r.n, float(docs.mean()) if len(docs) else 0.0, dtype=np.float32)


DEFINITIONS: tuple[Feature, ...] = (
    Feature(
        "dense_max", "dense",
        "best cosine between the project and any one document of the other side",
        lambda f: f.dense_max,
        lambda r: r.best.max(axis=1),
    ),
    Feature(
        "dense_mean", "dense",
        "cosine between the project and the mean of the other side's documents",
        lambda f: f.dense_mean,
        lambda r: r.query_means @ r.c.centroids[r.position],
    ),
    Feature(
        "adapted_max", "dense",
        "dense_max through the linear adapter learned for this domain (models/adapter; equal "
        "to dense_max where none is loaded)",
        lambda f: f.adapted.best,
        lambda r: r.adapted_best.max(axis=1),
    ),
    Feature(
        "adapted_mean", "dense",
        "dense_mean through the adapter",
        lambda f: f.adapted.mean,
        lambda r: r.adapted_query_means @ r.c.adapted.centroids[r.position],
    ),
    Feature(
        "dense_top3", "dense",
        "mean cosine of the other side's three documents closest to the project",
        _dense_top3,
        _dense_top3_reverse,
    ),
    Feature(
        "lexical", "lexical",
        "BM25 of the project against all of the other side's text, normalised to [0, 1]",
        lambda f: f.lexical,
        lambda r: r.indexes()[0].scores_against(r.texts, r.position),
    ),
    Feature(
        "lexical_max", "lexical",
        "the same against the other side's best single document",
        lambda f: f.doc_max(f.doc_lexical),
        _lexical_max_reverse,
    ),
    Feature(
        "tfidf", "lexical",
        "TF-IDF cosine (words and word pairs) with all of the other side's documents",
        lambda f: f.tfidf,
        lambda r: r.indexes()[2].scores_against(r.texts, r.position),
    ),
    Feature(
        "tfidf_phrases", "lexical",
        "TF-IDF cosine (runs of one to four words) with the sum of the other side's documents' "
        "unit vectors: every document counts the same, and the wording an organisation repeats "
        "across its records (its stock phrases) weighs in",
        lambda f: f.tfidf_phrases,
        lambda r: r.indexes()[3].scores_against(r.texts, r.position),
    ),
    Feature(
        "phrase", "lexical",
        "the longest run of words (from 3, capped at 8) the project shares verbatim with one of "
        "the other side's documents, scaled to [0, 1]",
        lambda f: f.doc_max(f.doc_phrase),
        _phrase_reverse,
    ),
    Feature(
        "rare_term", "lexical",
        "IDF of the rarest word the project shares with one of the other side's documents, "
        "scaled to [0, 1]: a product, cell line or acronym that few documents use",
        lambda f: f.doc_max(f.rare),
        _rare_term_reverse,
    ),
    Feature(
        "facets", "facets",
        f"shared facets (modality, indication, capability, stage), at most {MAX_FACETS}",
        _facets,
        lambda r: r.projects.shared_facet_counts(r.c.facets[r.position]),
    ),
    Feature(
        "log_documents", "profile",
        "log(1 + number of profile documents): the size of a track record",
        _log_documents,
        lambda r: np.full(r.n, np.log1p(len(r.docs)), dtype=np.float32),
    ),
    Feature(
        "group_dense", "programme",
        "mean dense_max over the calls of the same programme (0 for organisations)",
        lambda f: f.c.group_mean(f.dense_max),
        _group_dense_reverse,
    ),
    Feature(
        "group_lexical", "programme",
        "mean lexical over the calls of the same programme (0 for organisations)",
        lambda f: f.c.group_mean(f.lexical),
        _group_lexical_reverse,
    ),
    Feature(
        "intervention", "registry",
        "IDF-weighted cosine of the project's interventions (its own registered ones, else the "
        "words of its text the registry vocabulary knows) with one document's interventions; "
        "the best document",
        *_names("interventions"),
    ),
    Feature(
        "condition", "registry",
        "the same for conditions",
        *_names("conditions"),
    ),
    Feature(
        "intervention_count", "registry",
        f"log(1 + the other side's documents whose interventions meet the project's, cosine "
        f">= {MENTIONS}): a product it keeps working with",
        *_count("interventions"),
    ),
    Feature(
        "condition_count", "registry",
        "the same for conditions: how much of its work is on the project's disease",
        *_count("conditions"),
    ),
    Feature(
        "intervention_timely", "registry",
        "the best document's intervention cosine times its closeness in time to the project",
        *_timely("interventions"),
    ),
    Feature(
        "phase", "registry",
        "the share of the other side's documents with a trial phase that are in the project's "
        "phase (its own, else the phases of its stage)",
        _phase,
        _phase_reverse,
    ),
    Feature(
        "recency", "registry",
        f"exp(-years between the project's date and the closest start of the other side's "
        f"documents / {YEARS_SCALE:g}): working on it in the same years",
        lambda f: f.doc_max(f.closeness),
        lambda r: r.row_max(r.closeness),
    ),
    Feature(
        "leading", "registry",
        "the share of the other side's documents it led (lead sponsor, coordinator)",
        _leading,
        _leading_reverse,
    ),
)  # fmt: skip

FEATURES: tuple[str, ...] = tuple(d.name for d in DEFINITIONS)
"""The names of the features, in the order of a feature row's columns."""
FAMILIES: dict[str, str] = {d.name: d.family for d in DEFINITIONS}


def forward_rows(c: Loaded | Slice, forward: Forward) -> Vector:
    """Every feature of one query against every entity of `c`: (entities, features)."""
    out = np.zeros((len(c), len(DEFINITIONS)), dtype=np.float32)
    if len(c):
        for column, feature in enumerate(DEFINITIONS):
            out[:, column] = feature.forward(forward)
    return out


def reverse_rows(reverse: Reverse) -> Vector:
    """Every feature of every project against one entity: (projects, features)."""
    out = np.zeros((reverse.n, len(DEFINITIONS)), dtype=np.float32)
    if reverse.n:
        for column, feature in enumerate(DEFINITIONS):
            out[:, column] = feature.reverse(reverse)
    return out
