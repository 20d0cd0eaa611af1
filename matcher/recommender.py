"""The recommender: puts the store, the embeddings, the vector and lexical indexes together.

Every direction ranks by one pair score, so a pair scores the same whichever side asks:

    score(a, b) = w_dense * max cosine over their documents
                + w_lexical * normalised BM25 of the project (or text) against the other side
                + w_facet * number of shared facets (capped)
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from .build import index_dir
from .domain import Entity, EntityKind, FundingCall, Organisation, OrgKind, Project
from .eligibility import assess
from .embedding import DocumentEncoder, Matrix
from .errors import InvalidQuery, NotFound
from .facets import Facet, call_facets, organisation_facets, project_facets, shared, text_facets
from .index import Manifest, VectorIndex
from .lexical import LexicalIndex
from .reasons import DeadlineInfo, Reasons, ScoreParts, SentencePair, summarise
from .store import Store, StoredDocument

log = logging.getLogger(__name__)

Vector = npt.NDArray[np.float32]


class Target(StrEnum):
    PARTNERS = "partners"
    CALLS = "calls"
    PROJECTS = "projects"


@dataclass(frozen=True)
class Weights:
    dense: float = 1.0
    lexical: float = 0.5
    facet: float = 0.02
    max_facets: int = 6


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
    reasons: Reasons


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


def facets_of(entity: Entity) -> set[Facet]:
    if isinstance(entity, Project):
        return project_facets(entity)
    if isinstance(entity, Organisation):
        return organisation_facets(entity)
    return call_facets(entity)


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
        self.texts = [search_text(e) for e in self.entities]
        self.categories = np.array([category_of(e) for e in self.entities], dtype=object)
        self.lexical = LexicalIndex().fit(self.texts) if self.entities else None
        self.facets = [facets_of(e) for e in self.entities]
        vocabulary = sorted({f for fs in self.facets for f in fs}, key=str)
        self.facet_ids = {f: i for i, f in enumerate(vocabulary)}
        rows = [i for i, fs in enumerate(self.facets) for _ in fs]
        cols = [self.facet_ids[f] for fs in self.facets for f in fs]
        self.facet_matrix = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)),
            shape=(len(self.entities), max(1, len(vocabulary))),
        )

    def __len__(self) -> int:
        return len(self.entities)

    def entity_docs(self, position: int) -> npt.NDArray[np.int64]:
        return np.flatnonzero(self.doc_owner == position)

    def vectors_of(self, position: int) -> Matrix:
        return self.index.vectors(self.doc_rowids[self.entity_docs(position)])

    def dense(self, queries: Matrix) -> Vector:
        """Per entity, the best cosine between any query vector and any of its documents."""
        out = np.full(len(self.entities), -1.0, dtype=np.float32)
        if not len(self.index) or not len(queries):
            return out
        scores, ids = self.index.search(queries, len(self.index))
        valid = ids >= 0
        owners = self.doc_owner[np.searchsorted(self.doc_rowids, ids[valid])]
        np.maximum.at(out, owners, scores[valid])
        return out

    def shared_facet_counts(self, facets: set[Facet]) -> Vector:
        cols = [self.facet_ids[f] for f in facets if f in self.facet_ids]
        if not cols:
            return np.zeros(len(self.entities), dtype=np.float32)
        return np.asarray(self.facet_matrix[:, cols].sum(axis=1), dtype=np.float32).ravel()


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
        weights: Weights,
        hub_country: str,
        today: Callable[[], dt.date],
    ) -> None:
        self.store = store
        self.encoder = encoder
        self.collections = collections
        self.weights = weights
        self.hub_country = hub_country
        self.today = today

    @classmethod
    def open(
        cls,
        store: Store,
        encoder: DocumentEncoder,
        models_dir: Path,
        *,
        weights: Weights | None = None,
        hub_country: str = "NL",
        today: Callable[[], dt.date] = dt.date.today,
    ) -> Recommender:
        """Load the saved indexes; raises IndexNotBuilt or StaleIndex with the command to run."""
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
        log.info("recommender ready: %s", {k.value: len(c) for k, c in collections.items()})
        return cls(
            store,
            encoder,
            collections,
            weights=weights or Weights(),
            hub_country=hub_country,
            today=today,
        )

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
    ) -> list[Match]:
        """The k best organisations for a stored project, best first. Raises NotFound."""
        query = self._stored_query(project_id, EntityKind.PROJECT)
        target = self.collections[EntityKind.ORGANISATION]
        return self._forward(query, target, k, self._kind_mask(target, kinds))

    def calls_for(
        self, project_id: str, k: int = 10, include_forthcoming: bool = False
    ) -> list[Match]:
        """The k best funding calls for a stored project that are open today (and forthcoming
        ones, if asked). A call whose deadlines have all passed is never returned."""
        query = self._stored_query(project_id, EntityKind.PROJECT)
        target = self.collections[EntityKind.CALL]
        return self._forward(query, target, k, self._call_mask(include_forthcoming))

    def projects_for(
        self, id: str, k: int = 10, allowed: Collection[str] | None = None
    ) -> list[Match]:
        """The k projects that fit an organisation or a call best (the reverse direction).

        `allowed` restricts the ranking to these project ids. Raises NotFound."""
        source_kind = self._known(id)
        if source_kind is None:
            raise NotFound("organisation or call", id)
        if source_kind not in (EntityKind.ORGANISATION, EntityKind.CALL):
            raise InvalidQuery(
                f"{id!r} is a {source_kind.value}; reverse matching starts from an organisation "
                "or a call"
            )
        source = self.collections[source_kind]
        position = source.positions.get(id)
        if position is None:
            raise NotFound(source_kind.value, id)
        query = self._query_for(source, position)
        projects = self.collections[EntityKind.PROJECT]
        mask = self._allowed_mask(projects, allowed)
        dense = projects.dense(query.vectors)
        lexical = (
            source.lexical.scores_against(projects.texts, position)
            if source.lexical and len(projects)
            else np.zeros(len(projects), dtype=np.float32)
        )
        facets = projects.shared_facet_counts(query.facets)
        return self._top(
            query,
            projects,
            dense,
            lexical,
            facets,
            k,
            mask,
            lexical_side=source,
            lexical_row=position,
        )

    def search(
        self,
        text: str,
        to: Target,
        k: int = 10,
        kinds: Collection[OrgKind] | None = None,
        include_forthcoming: bool = False,
        allowed: Collection[str] | None = None,
    ) -> list[Match]:
        """Rank organisations, calls or projects for a pasted text such as an abstract."""
        if not text.strip():
            raise InvalidQuery("The text to search for is empty. Paste an abstract or a few lines.")
        passages = self.encoder.sentences(text)
        vectors = self.encoder.encode([text])
        query = _Query(text, vectors, text_facets(text), passages)
        if to is Target.PARTNERS:
            target = self.collections[EntityKind.ORGANISATION]
            mask = self._kind_mask(target, kinds)
        elif to is Target.CALLS:
            target = self.collections[EntityKind.CALL]
            mask = self._call_mask(include_forthcoming)
        else:
            target = self.collections[EntityKind.PROJECT]
            mask = self._allowed_mask(target, allowed)
        return self._forward(query, target, k, mask)

    def recommend(
        self, project_id: str, to: Target, k: int = 10, kinds: Collection[OrgKind] | None = None
    ) -> list[Match]:
        """Partners or calls for a stored project."""
        if to is Target.PARTNERS:
            return self.partners_for(project_id, k, kinds)
        if to is Target.CALLS:
            return self.calls_for(project_id, k)
        raise InvalidQuery("A project is matched to partners or calls, not to projects.")

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
        docs = collection.entity_docs(position)
        passages = [p for i in docs for p in self.encoder.sentences(collection.doc_texts[i])]
        return _Query(
            text=collection.texts[position],
            vectors=collection.vectors_of(position),
            facets=collection.facets[position],
            passages=passages,
            entity=collection.entities[position],
        )

    def _forward(
        self, query: _Query, target: _Collection, k: int, mask: npt.NDArray[np.bool_] | None
    ) -> list[Match]:
        dense = target.dense(query.vectors)
        lexical = (
            target.lexical.scores(query.text)
            if target.lexical
            else np.zeros(len(target), dtype=np.float32)
        )
        facets = target.shared_facet_counts(query.facets)
        return self._top(
            query, target, dense, lexical, facets, k, mask, lexical_side=target, lexical_row=None
        )

    def _top(
        self,
        query: _Query,
        target: _Collection,
        dense: Vector,
        lexical: Vector,
        facets: Vector,
        k: int,
        mask: npt.NDArray[np.bool_] | None,
        *,
        lexical_side: _Collection,
        lexical_row: int | None,
    ) -> list[Match]:
        if k < 1:
            raise InvalidQuery(f"k={k} must be at least 1.")
        w = self.weights
        parts = (
            w.dense * dense,
            w.lexical * lexical,
            w.facet * np.minimum(facets, w.max_facets),
        )
        score = parts[0] + parts[1] + parts[2]
        if query.entity is not None and query.entity.id in target.positions:
            score[target.positions[query.entity.id]] = -np.inf
        if mask is not None:
            score = np.where(mask, score, -np.inf)
        eligible = int(np.isfinite(score).sum())
        k = min(k, eligible)
        if k <= 0:
            return []
        top = np.argpartition(-score, k - 1)[:k]
        top = top[np.lexsort((top, -score[top]))]
        return [
            self._match(
                query,
                target,
                int(i),
                rank,
                ScoreParts(*(float(p[i]) for p in parts)),
                lexical_side,
                lexical_row,
            )
            for rank, i in enumerate(top, start=1)
        ]

    def _match(
        self,
        query: _Query,
        target: _Collection,
        position: int,
        rank: int,
        parts: ScoreParts,
        lexical_side: _Collection,
        lexical_row: int | None,
    ) -> Match:
        candidate = target.entities[position]
        terms: list[str] = []
        if lexical_side.lexical is not None:
            if lexical_row is None:
                terms = lexical_side.lexical.shared_terms(query.text, position)
            else:
                terms = lexical_side.lexical.shared_terms(target.texts[position], lexical_row)
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
            score_parts=parts,
            sentences=self._best_sentences(query, target, position),
            shared_facets=tuple(str(f) for f in shared(query.facets, target.facets[position])),
            shared_terms=tuple(terms),
            deadline=deadline,
            eligibility=verdict,
        )
        reasons = Reasons(**{**reasons.__dict__, "summary": summarise(reasons)})
        return Match(
            id=candidate.id,
            name=candidate.name,
            kind=target.kind.value,
            category=category_of(candidate),
            score=round(parts.total, 6),
            rank=rank,
            reasons=reasons,
        )

    def _best_sentences(
        self, query: _Query, target: _Collection, position: int
    ) -> SentencePair | None:
        candidate_passages = [
            p
            for i in target.entity_docs(position)
            for p in self.encoder.sentences(target.doc_texts[i])
        ]
        if not query.passages or not candidate_passages:
            return None
        vectors = self.encoder.vectors([*query.passages, *candidate_passages])
        left, right = vectors[: len(query.passages)], vectors[len(query.passages) :]
        similarity = left @ right.T
        i, j = np.unravel_index(int(np.argmax(similarity)), similarity.shape)
        return SentencePair(
            query.passages[i], candidate_passages[j], round(float(similarity[i, j]), 4)
        )

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
