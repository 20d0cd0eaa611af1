"""The recommender: puts the store, the embeddings, the vector and lexical indexes together.

Every direction ranks by one pair score, so a pair scores the same whichever side asks:

    score(project, other) = bias + sum of weight * feature   (see features.py, ranking.py)

The weights come from a ranker trained on the benchmarks (models/ranker/) or, until one is
trained, from the default scorer (dense similarity, BM25 and a facet bonus).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from .build import index_dir
from .domain import Entity, EntityKind, FundingCall, Organisation, OrgKind, Project, kind_of
from .eligibility import assess
from .embedding import DocumentEncoder, Matrix, normalise
from .errors import InvalidQuery, NotFound
from .facets import Facet, facet_source, shared, text_facets
from .features import FEATURES, MAX_FACETS
from .index import Manifest, VectorIndex
from .lexical import LexicalIndex, TfidfIndex
from .ranking import DEFAULT_SCORER, LinearScorer, load_scorer
from .reasons import DeadlineInfo, Reasons, SentencePair, summarise
from .store import Store, StoredDocument

log = logging.getLogger(__name__)

Vector = npt.NDArray[np.float32]


class Target(StrEnum):
    PARTNERS = "partners"
    CALLS = "calls"
    PROJECTS = "projects"


@dataclass(frozen=True)
class Match:
    id: str
    name: str
    kind: str
    """The candidate's entity kind: organisation, call or project."""
    category: str
    """Organisation kind (cdmo, cro, ...), project modality, or call funder."""
    score: float
    rank: int
    reasons: Reasons | None
    """None when asked for without explanations."""


def search_text(entity: Entity) -> str:
    """What the lexical index reads for an entity: its texts and its tags in words."""
    if isinstance(entity, Project):
        tags = [entity.modality.value, *entity.indications]
        return "\n".join([entity.title, entity.abstract, " ".join(tags).replace("_", " ")])
    if isinstance(entity, Organisation):
        tags = [*entity.capabilities, *(m.value for m in entity.modalities), *entity.indications]
        docs = [d.text for d in entity.profile]
        return "\n".join([entity.name, " ".join(tags).replace("_", " "), *docs])
    return "\n".join([entity.title, entity.programme, entity.text])


def category_of(entity: Entity) -> str:
    if isinstance(entity, Project):
        return entity.modality.value
    if isinstance(entity, Organisation):
        return entity.kind.value
    return entity.funder


class _Collection:
    """One entity kind, loaded: entities, document vectors (FAISS), BM25 and facets."""

    def __init__(
        self,
        kind: EntityKind,
        entities: Sequence[Entity],
        documents: Sequence[StoredDocument],
        index: VectorIndex,
        manifest: Manifest,
    ) -> None:
        self.kind = kind
        self.entities = list(entities)
        self.manifest = manifest
        self.positions = {e.id: i for i, e in enumerate(self.entities)}
        self.index = index
        order = np.argsort([d.rowid for d in documents], kind="stable")
        self.doc_rowids = np.array([documents[i].rowid for i in order], dtype=np.int64)
        self.doc_owner = np.array(
            [self.positions[documents[i].entity_id] for i in order], dtype=np.int64
        )
        self.doc_texts = [documents[i].text for i in order]
        self.docs_of: list[list[int]] = [[] for _ in self.entities]
        for doc, owner in enumerate(self.doc_owner.tolist()):
            self.docs_of[owner].append(doc)
        self.doc_counts = np.bincount(self.doc_owner, minlength=len(self.entities))
        # Documents laid out one row per entity (padded), for per-entity top-k without sorting
        # the whole collection.
        width = int(self.doc_counts.max()) if len(self.doc_counts) else 0
        self.layout = np.full((len(self.entities), width), -1, dtype=np.int64)
        for position, docs in enumerate(self.docs_of):
            self.layout[position, : len(docs)] = docs
        self.doc_vectors = (
            index.vectors(self.doc_rowids)
            if len(self.doc_rowids)
            else np.zeros((0, index.dim), dtype=np.float32)
        )
        sums = np.zeros((len(self.entities), index.dim), dtype=np.float32)
        np.add.at(sums, self.doc_owner, self.doc_vectors)
        self.doc_sums = sums
        self.centroids = normalise(sums) if len(sums) else sums
        self.texts = [search_text(e) for e in self.entities]
        self.categories = np.array([category_of(e) for e in self.entities], dtype=object)
        self.lexical = LexicalIndex().fit(self.texts) if self.entities else None
        self.doc_lexical = LexicalIndex().fit(self.doc_texts) if self.doc_texts else None
        self.tfidf = (
            TfidfIndex().fit(self.doc_texts, self.doc_owner, len(self.entities))
            if self.doc_texts
            else None
        )
        self.facet_sources = [facet_source(e) for e in self.entities]
        self.facets = [
            source.from_documents([self.doc_texts[i] for i in self.entity_docs(position)])
            for position, source in enumerate(self.facet_sources)
        ]
        vocabulary = sorted({f for fs in self.facets for f in fs}, key=str)
        self.facet_ids = {f: i for i, f in enumerate(vocabulary)}
        rows = [i for i, fs in enumerate(self.facets) for _ in fs]
        cols = [self.facet_ids[f] for fs in self.facets for f in fs]
        self.facet_matrix = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)),
            shape=(len(self.entities), max(1, len(vocabulary))),
        )
        groups = [
            e.programme if isinstance(e, FundingCall) and e.programme else "" for e in entities
        ]
        names = sorted(set(groups))
        self.group = np.array([names.index(g) for g in groups], dtype=np.int64)
        self.grouped = np.array([g != "" for g in groups], dtype=bool)
        self.group_sizes = np.bincount(self.group, minlength=len(names)) if groups else self.group

    def __len__(self) -> int:
        return len(self.entities)

    def entity_docs(self, position: int) -> npt.NDArray[np.int64]:
        return np.array(self.docs_of[position], dtype=np.int64)

    def vectors_of(self, position: int) -> Matrix:
        return self.doc_vectors[self.entity_docs(position)]

    def shared_facet_counts(self, facets: set[Facet]) -> Vector:
        cols = [self.facet_ids[f] for f in facets if f in self.facet_ids]
        if not cols:
            return np.zeros(len(self.entities), dtype=np.float32)
        counts = np.asarray(self.facet_matrix[:, cols].sum(axis=1), dtype=np.float32).ravel()
        return np.minimum(counts, MAX_FACETS)

    def _top_mean(self, doc_scores: Vector, k: int) -> Vector:
        """Per entity, the mean of its k best finite document scores (-1 if none)."""
        n = len(self.entities)
        if self.layout.shape[1] > 64:
            return _top_mean(doc_scores, self.doc_owner, n, k)
        padded = np.where(self.layout >= 0, doc_scores[self.layout], -np.inf)
        padded = np.where(np.isfinite(padded), padded, -np.inf)
        if padded.shape[1] > k:
            padded = -np.partition(-padded, k - 1, axis=1)[:, :k]
        finite = np.isfinite(padded)
        counts = finite.sum(axis=1)
        totals = np.where(finite, padded, 0.0).sum(axis=1)
        return np.where(counts > 0, totals / np.maximum(counts, 1), -1.0).astype(np.float32)

    def _group_mean(self, values: Vector) -> Vector:
        """Per entity, the mean of `values` over the entities of its programme (0 if none)."""
        if not self.grouped.any():
            return np.zeros(len(self.entities), dtype=np.float32)
        sums = np.bincount(self.group, weights=values, minlength=len(self.group_sizes))
        mean = (sums / np.maximum(self.group_sizes, 1))[self.group]
        return np.where(self.grouped, mean, 0.0).astype(np.float32)

    def features(self, query: _Query, exclude: Collection[int] = ()) -> Matrix:
        """Features of the query against every entity; documents in `exclude` (store ids) are
        left out, as if the other side's profile did not hold them."""
        n = len(self.entities)
        out = np.zeros((n, len(FEATURES)), dtype=np.float32)
        if not n:
            return out
        # Every document is scored, so this is the exact product with the vectors that the
        # FAISS index holds (loaded once); a k-nearest search over all of them would only add a
        # sort of the whole collection.
        doc_scores = np.full(len(self.doc_rowids), -1.0, dtype=np.float32)
        if len(self.doc_vectors) and len(query.vectors):
            doc_scores = (self.doc_vectors @ query.vectors.T).max(axis=1).astype(np.float32)
        dropped = (
            np.isin(self.doc_rowids, np.fromiter(exclude, dtype=np.int64)) if exclude else None
        )
        if dropped is not None:
            doc_scores[dropped] = -np.inf
        dense_max = np.full(n, -1.0, dtype=np.float32)
        np.maximum.at(dense_max, self.doc_owner, doc_scores)
        dense_max[~np.isfinite(dense_max)] = -1.0
        out[:, _F["dense_max"]] = dense_max
        out[:, _F["dense_top3"]] = self._top_mean(doc_scores, 3)
        query_mean = normalise(query.vectors.mean(axis=0, keepdims=True))[0]
        out[:, _F["dense_mean"]] = self.centroids @ query_mean
        if dropped is not None and dropped.any():
            for position in np.unique(self.doc_owner[dropped]):
                kept = [i for i in self.docs_of[position] if not dropped[i]]
                centroid = normalise(self.doc_vectors[kept].sum(axis=0, keepdims=True))[0]
                out[position, _F["dense_mean"]] = centroid @ query_mean
        assert self.lexical and self.doc_lexical and self.tfidf
        lexical = self.lexical.scores(query.text)
        doc_lexical = self.doc_lexical.scores(query.text)
        tfidf = self.tfidf.scores(query.text)
        if dropped is not None and dropped.any():
            doc_lexical[dropped] = 0.0
            for position in np.unique(self.doc_owner[dropped]):
                gone = [int(i) for i in np.flatnonzero(dropped) if self.doc_owner[i] == position]
                texts = [self.doc_texts[i] for i in gone]
                lexical[position] = self.lexical.score_without(query.text, int(position), texts)
                tfidf[position] = self.tfidf.score_without(query.text, int(position), gone)
        lexical_max = np.zeros(n, dtype=np.float32)
        np.maximum.at(lexical_max, self.doc_owner, doc_lexical)
        rare = self.doc_lexical.rarest_shared(query.text)
        if dropped is not None:
            rare[dropped] = 0.0
        rare_term = np.zeros(n, dtype=np.float32)
        np.maximum.at(rare_term, self.doc_owner, rare)
        out[:, _F["rare_term"]] = rare_term
        out[:, _F["lexical"]] = lexical
        out[:, _F["lexical_max"]] = lexical_max
        out[:, _F["tfidf"]] = tfidf
        out[:, _F["facets"]] = self.shared_facet_counts(query.facets)
        if dropped is not None and dropped.any():
            for position in np.unique(self.doc_owner[dropped]):
                kept = [
                    self.doc_texts[i] for i in self.entity_docs(int(position)) if not dropped[i]
                ]
                remaining = self.facet_sources[position].from_documents(kept)
                out[position, _F["facets"]] = min(MAX_FACETS, len(remaining & query.facets))
        # The size of the whole track record, left-out documents included: counting them out
        # would tell which candidates held the query's own record.
        out[:, _F["log_documents"]] = np.log1p(self.doc_counts)
        out[:, _F["group_dense"]] = self._group_mean(dense_max)
        out[:, _F["group_lexical"]] = self._group_mean(lexical)
        return out

    def features_against(self, position: int, projects: _Collection) -> Matrix:
        """Features of every project against entity `position` of this collection (the reverse
        direction); row i equals `self.features(query of project i)[position]`."""
        n = len(projects)
        out = np.zeros((n, len(FEATURES)), dtype=np.float32)
        if not n:
            return out
        docs = self.entity_docs(position)
        similarity = projects.doc_vectors @ self.doc_vectors[docs].T  # project docs x our docs
        best = np.full((n, len(docs)), -1.0, dtype=np.float32)
        np.maximum.at(best, projects.doc_owner, similarity)
        out[:, _F["dense_max"]] = best.max(axis=1)
        top = -np.sort(-best, axis=1)[:, :3]
        out[:, _F["dense_top3"]] = top.mean(axis=1)
        query_means = normalise(projects.doc_sums)
        out[:, _F["dense_mean"]] = query_means @ self.centroids[position]
        assert self.lexical and self.doc_lexical and self.tfidf
        out[:, _F["lexical"]] = self.lexical.scores_against(projects.texts, position)
        out[:, _F["tfidf"]] = self.tfidf.scores_against(projects.texts, position)
        lexical_max = np.zeros(n, dtype=np.float32)
        for d in docs:
            lexical_max = np.maximum(
                lexical_max, self.doc_lexical.scores_against(projects.texts, int(d))
            )
        out[:, _F["lexical_max"]] = lexical_max
        rare_term = np.zeros(n, dtype=np.float32)
        for d in docs:
            rare_term = np.maximum(
                rare_term, self.doc_lexical.rarest_shared_against(projects.texts, int(d))
            )
        out[:, _F["rare_term"]] = rare_term
        out[:, _F["facets"]] = projects.shared_facet_counts(self.facets[position])
        out[:, _F["log_documents"]] = np.log1p(len(docs))
        if self.grouped[position]:
            members = np.flatnonzero(self.group == self.group[position])
            dense = np.zeros(n, dtype=np.float32)
            lexical = np.zeros(n, dtype=np.float32)
            for member in members:
                member_docs = self.doc_vectors[self.entity_docs(int(member))]
                sims = projects.doc_vectors @ member_docs.T
                per_project = np.full(n, -1.0, dtype=np.float32)
                np.maximum.at(per_project, projects.doc_owner, sims.max(axis=1))
                dense += per_project
                lexical += self.lexical.scores_against(projects.texts, int(member))
            out[:, _F["group_dense"]] = dense / len(members)
            out[:, _F["group_lexical"]] = lexical / len(members)
        return out


_F = {name: i for i, name in enumerate(FEATURES)}


def _top_mean(scores: Vector, owner: npt.NDArray[np.int64], n: int, k: int) -> Vector:
    """Per owner, the mean of its k highest finite scores (-1 for an owner with none)."""
    finite = np.isfinite(scores)
    scores, owner = scores[finite], owner[finite]
    out = np.full(n, -1.0, dtype=np.float32)
    if not len(scores):
        return out
    order = np.lexsort((-scores, owner))
    owner_sorted, scores_sorted = owner[order], scores[order]
    starts = np.searchsorted(owner_sorted, owner_sorted, side="left")
    keep = (np.arange(len(order)) - starts) < k
    totals = np.bincount(owner_sorted[keep], weights=scores_sorted[keep], minlength=n)
    counts = np.bincount(owner_sorted[keep], minlength=n)
    has = counts > 0
    out[has] = (totals[has] / counts[has]).astype(np.float32)
    return out


@dataclass
class _Query:
    """The side that asks: a stored entity or a pasted text."""

    text: str
    vectors: Matrix
    facets: set[Facet]
    passages: list[str]
    entity: Entity | None = None


class Recommender:
    """Ranks organisations, calls and projects for each other, with the reasons for each match."""

    def __init__(
        self,
        store: Store,
        encoder: DocumentEncoder,
        collections: dict[EntityKind, _Collection],
        *,
        scorers: Mapping[EntityKind, LinearScorer] | None = None,
        hub_country: str,
        today: Callable[[], dt.date],
    ) -> None:
        self.store = store
        self.encoder = encoder
        self.collections = collections
        self.scorers = dict(scorers or {})
        self.hub_country = hub_country
        self.today = today

    @classmethod
    def open(
        cls,
        store: Store,
        encoder: DocumentEncoder,
        models_dir: Path,
        *,
        scorers: Mapping[EntityKind, LinearScorer] | None = None,
        hub_country: str = "NL",
        today: Callable[[], dt.date] = dt.date.today,
    ) -> Recommender:
        """Load the saved indexes and, where trained, the rankers; raises IndexNotBuilt or
        StaleIndex with the command to run. `scorers` overrides the saved rankers."""
        collections = {}
        for kind in EntityKind:
            documents = store.documents(kind)
            index, manifest = VectorIndex.load(
                index_dir(models_dir, kind),
                kind=kind.value,
                model=encoder.embedder.name,
                data_hash=store.data_hash(kind, documents),
            )
            collections[kind] = _Collection(kind, store.entities(kind), documents, index, manifest)
        if scorers is None:
            scorers = {}
            for kind in (EntityKind.ORGANISATION, EntityKind.CALL):
                loaded = load_scorer(ranker_path(models_dir, kind), encoder.embedder.name)
                if loaded is not None:
                    scorers[kind] = loaded
        log.info("recommender ready: %s", {k.value: len(c) for k, c in collections.items()})
        return cls(
            store, encoder, collections, scorers=scorers, hub_country=hub_country, today=today
        )

    def scorer(self, kind: EntityKind) -> LinearScorer:
        """The scorer for pairs of a project with this kind (a trained ranker, or the default)."""
        return self.scorers.get(kind, DEFAULT_SCORER)

    # ------------------------------------------------------------------ public directions

    def manifests(self) -> dict[str, Manifest]:
        return {k.value: c.manifest for k, c in self.collections.items()}

    def counts(self) -> dict[str, int]:
        return {k.value: len(c) for k, c in self.collections.items()}

    def get(self, id: str, kind: EntityKind | None = None) -> Entity:
        """A loaded entity by id. Raises NotFound."""
        for collection in self.collections.values():
            if kind is not None and collection.kind is not kind:
                continue
            position = collection.positions.get(id)
            if position is not None:
                return collection.entities[position]
        raise NotFound(kind.value if kind else "entity", id)

    def entities(self, kind: EntityKind) -> list[Entity]:
        return list(self.collections[kind].entities)

    def partners_for(
        self,
        project_id: str,
        k: int = 10,
        kinds: Collection[OrgKind] | None = None,
        *,
        explain: bool = True,
        exclude_documents: Collection[int] = (),
    ) -> list[Match]:
        """The k best organisations for a stored project, best first. Raises NotFound.

        `exclude_documents` (document store ids) are left out of the organisations' profiles;
        without `explain`, matches carry no reasons (faster)."""
        query = self._stored_query(project_id, EntityKind.PROJECT)
        target = self.collections[EntityKind.ORGANISATION]
        features = target.features(query, exclude_documents)
        return self._top(query, target, features, k, self._kind_mask(target, kinds), explain)

    def calls_for(
        self,
        project_id: str,
        k: int = 10,
        include_forthcoming: bool = False,
        *,
        explain: bool = True,
    ) -> list[Match]:
        """The k best funding calls for a stored project that are open today (and forthcoming
        ones, if asked). A call whose deadlines have all passed is never returned."""
        query = self._stored_query(project_id, EntityKind.PROJECT)
        target = self.collections[EntityKind.CALL]
        features = target.features(query)
        return self._top(query, target, features, k, self._call_mask(include_forthcoming), explain)

    def projects_for(
        self,
        id: str,
        k: int = 10,
        allowed: Collection[str] | None = None,
        *,
        explain: bool = True,
    ) -> list[Match]:
        """The k projects that fit an organisation or a call best (the reverse direction), by
        the same pair scores as the forward direction. `allowed` restricts the ranking to these
        project ids. Raises NotFound."""
        source_kind = self._known(id)
        if source_kind is None:
            raise NotFound("organisation or call", id)
        if source_kind not in (EntityKind.ORGANISATION, EntityKind.CALL):
            raise InvalidQuery(
                f"{id!r} is a {source_kind.value}; reverse matching starts from an organisation "
                "or a call"
            )
        source = self.collections[source_kind]
        position = source.positions[id]
        projects = self.collections[EntityKind.PROJECT]
        features = source.features_against(position, projects)
        query = self._query_for(source, position)
        return self._top(
            query, projects, features, k, self._allowed_mask(projects, allowed), explain,
            scorer=self.scorer(source_kind), reverse_of=(source, position),
        )  # fmt: skip

    def search(
        self,
        text: str,
        to: Target,
        k: int = 10,
        kinds: Collection[OrgKind] | None = None,
        include_forthcoming: bool = False,
        allowed: Collection[str] | None = None,
        *,
        explain: bool = True,
    ) -> list[Match]:
        """Rank organisations, calls or projects for a pasted text such as an abstract."""
        if not text.strip():
            raise InvalidQuery("The text to search for is empty. Paste an abstract or a few lines.")
        query = _Query(text, self.encoder.encode([text]), text_facets(text), [])
        if explain:
            query.passages = self.encoder.sentences(text)
        if to is Target.PARTNERS:
            target = self.collections[EntityKind.ORGANISATION]
            mask = self._kind_mask(target, kinds)
        elif to is Target.CALLS:
            target = self.collections[EntityKind.CALL]
            mask = self._call_mask(include_forthcoming)
        else:
            target = self.collections[EntityKind.PROJECT]
            mask = self._allowed_mask(target, allowed)
        return self._top(query, target, target.features(query), k, mask, explain)

    def recommend(
        self, project_id: str, to: Target, k: int = 10, kinds: Collection[OrgKind] | None = None
    ) -> list[Match]:
        """Partners or calls for a stored project."""
        if to is Target.PARTNERS:
            return self.partners_for(project_id, k, kinds)
        if to is Target.CALLS:
            return self.calls_for(project_id, k)
        raise InvalidQuery("A project is matched to partners or calls, not to projects.")

    def warm_sentences(self, should_stop: Callable[[], bool] = lambda: False) -> int:
        """Embed every stored sentence not cached yet (an index built without sentences), so
        that reasons need no model call later. Returns how many were embedded."""
        texts = [
            t for c in self.collections.values() if not c.manifest.sentences for t in c.doc_texts
        ]
        return self.encoder.warm(texts, should_stop) if texts else 0

    def features_for(
        self, project_id: str, to: Target, *, exclude_documents: Collection[int] = ()
    ) -> tuple[list[str], Matrix]:
        """The candidates' ids and their feature rows for a stored project (for training)."""
        query = self._stored_query(project_id, EntityKind.PROJECT)
        kind = EntityKind.ORGANISATION if to is Target.PARTNERS else EntityKind.CALL
        target = self.collections[kind]
        return [e.id for e in target.entities], target.features(query, exclude_documents)

    # ------------------------------------------------------------------ scoring

    def _known(self, id: str) -> EntityKind | None:
        for kind, collection in self.collections.items():
            if id in collection.positions:
                return kind
        return None

    def _stored_query(self, id: str, kind: EntityKind) -> _Query:
        collection = self.collections[kind]
        position = collection.positions.get(id)
        if position is None:
            raise NotFound(kind.value, id)
        return self._query_for(collection, position)

    def _query_for(self, collection: _Collection, position: int) -> _Query:
        return _Query(
            text=collection.texts[position],
            vectors=collection.vectors_of(position),
            facets=collection.facets[position],
            passages=[],
            entity=collection.entities[position],
        )

    def _top(
        self,
        query: _Query,
        target: _Collection,
        features: Matrix,
        k: int,
        mask: npt.NDArray[np.bool_] | None,
        explain: bool,
        *,
        scorer: LinearScorer | None = None,
        reverse_of: tuple[_Collection, int] | None = None,
    ) -> list[Match]:
        if k < 1:
            raise InvalidQuery(f"k={k} must be at least 1.")
        scorer = scorer or self.scorer(target.kind)
        score = scorer.score(features)
        if query.entity is not None and query.entity.id in target.positions:
            score[target.positions[query.entity.id]] = -np.inf
        if mask is not None:
            score = np.where(mask, score, -np.inf)
        k = min(k, int(np.isfinite(score).sum()))
        if k <= 0:
            return []
        top = np.argpartition(-score, k - 1)[:k]
        top = top[np.lexsort((top, -score[top]))]
        if explain and reverse_of is None and not query.passages and query.entity is not None:
            source = self.collections[kind_of(query.entity)]
            position = source.positions[query.entity.id]
            query.passages = [
                p
                for i in source.entity_docs(position)
                for p in self.encoder.sentences(source.doc_texts[i])
            ]
        memo: dict[str, Vector] = {}
        if explain:
            # One cache look-up (or model call) for every sentence the reasons compare.
            texts = list(query.passages)
            if reverse_of is not None:
                texts += self._sentences(*reverse_of)
            for i in top:
                texts += self._sentences(target, int(i))
            unique = list(dict.fromkeys(texts))
            memo = dict(zip(unique, self.encoder.vectors(unique), strict=True)) if unique else {}
        matches = []
        for rank, i in enumerate(top, start=1):
            candidate = target.entities[int(i)]
            reasons = (
                self._reasons(query, target, int(i), features[i], scorer, reverse_of, memo)
                if explain
                else None
            )
            matches.append(
                Match(
                    id=candidate.id,
                    name=candidate.name,
                    kind=target.kind.value,
                    category=category_of(candidate),
                    score=round(float(score[i]), 6),
                    rank=rank,
                    reasons=reasons,
                )
            )
        return matches

    def _reasons(
        self,
        query: _Query,
        target: _Collection,
        position: int,
        row: Vector,
        scorer: LinearScorer,
        reverse_of: tuple[_Collection, int] | None,
        memo: dict[str, Vector],
    ) -> Reasons:
        candidate = target.entities[position]
        if reverse_of is None:
            assert target.lexical is not None
            terms = target.lexical.shared_terms(query.text, position)
            sentences = self._best_sentences(
                query.passages, self._sentences(target, position), memo
            )
        else:
            source, source_position = reverse_of
            assert source.lexical is not None
            terms = source.lexical.shared_terms(target.texts[position], source_position)
            sentences = self._best_sentences(
                self._sentences(source, source_position), self._sentences(target, position), memo
            )
        deadline = verdict = None
        project = query.entity if isinstance(query.entity, Project) else None
        call = candidate if isinstance(candidate, FundingCall) else None
        if isinstance(query.entity, FundingCall):
            call = query.entity
            project = candidate if isinstance(candidate, Project) else None
        if call is not None:
            deadline = self._deadline(call)
            verdict = assess(call, project, self.hub_country)
        reasons = Reasons(
            score_parts=scorer.parts(row),
            features={name: round(float(v), 6) for name, v in zip(FEATURES, row, strict=True)},
            sentences=sentences,
            shared_facets=tuple(str(f) for f in shared(query.facets, target.facets[position])),
            shared_terms=tuple(terms),
            deadline=deadline,
            eligibility=verdict,
        )
        return replace(reasons, summary=summarise(reasons))

    def _sentences(self, collection: _Collection, position: int) -> list[str]:
        return [
            p
            for i in collection.entity_docs(position)
            for p in self.encoder.sentences(collection.doc_texts[i])
        ]

    def _best_sentences(
        self, left_texts: list[str], right_texts: list[str], memo: dict[str, Vector]
    ) -> SentencePair | None:
        if not left_texts or not right_texts:
            return None
        left = np.stack([memo[t] for t in left_texts])
        right = np.stack([memo[t] for t in right_texts])
        similarity = left @ right.T
        i, j = np.unravel_index(int(np.argmax(similarity)), similarity.shape)
        return SentencePair(left_texts[i], right_texts[j], round(float(similarity[i, j]), 4))

    def _deadline(self, call: FundingCall) -> DeadlineInfo:
        today = self.today()
        upcoming = call.next_deadline(today)
        return DeadlineInfo(
            status=call.status_on(today).value,
            next_deadline=upcoming.date if upcoming else None,
            label=upcoming.label if upcoming else "",
            days_left=(upcoming.date - today).days if upcoming else None,
            opening_date=call.opening_date,
        )

    # ------------------------------------------------------------------ filters

    def _kind_mask(
        self, target: _Collection, kinds: Collection[OrgKind] | None
    ) -> npt.NDArray[np.bool_] | None:
        if not kinds:
            return None
        wanted = [OrgKind(k).value for k in kinds]
        return np.isin(target.categories, wanted)

    def _call_mask(self, include_forthcoming: bool) -> npt.NDArray[np.bool_]:
        today = self.today()
        allowed = {"open", "forthcoming"} if include_forthcoming else {"open"}
        calls = self.collections[EntityKind.CALL].entities
        return np.array(
            [isinstance(c, FundingCall) and c.status_on(today).value in allowed for c in calls],
            dtype=bool,
        )

    def _allowed_mask(
        self, target: _Collection, allowed: Collection[str] | None
    ) -> npt.NDArray[np.bool_] | None:
        if allowed is None:
            return None
        wanted = set(allowed)
        return np.array([e.id in wanted for e in target.entities], dtype=bool)


def ranker_path(models_dir: Path, kind: EntityKind) -> Path:
    """Where the trained ranker for pairs of a project with this kind is saved."""
    name = "partners" if kind is EntityKind.ORGANISATION else "calls"
    return Path(models_dir) / "ranker" / f"{name}.json"
