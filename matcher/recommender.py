"""The recommender: puts the store, the embeddings, the vector and lexical indexes together.

Every direction ranks by one pair score, so a pair scores the same whichever side asks:

    score(project, other) = bias + sum of weight * feature   (see features.py, ranking.py)

The weights come from a ranker trained on the benchmarks (models/ranker/) or, until one is
trained, from the default scorer (dense similarity, BM25 and a facet bonus).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .build import index_dir
from .collection import Loaded, Query, Vector, category_of
from .domain import Entity, EntityKind, FundingCall, OrgKind, Project, kind_of
from .eligibility import assess
from .embedding import DocumentEncoder, Matrix
from .errors import InvalidQuery, NotFound
from .facets import shared, text_facets
from .features import FEATURES
from .index import Manifest, VectorIndex
from .ranking import DEFAULT_SCORER, LinearScorer, load_scorer
from .reasons import DeadlineInfo, Reasons, SentencePair, summarise
from .store import Store, StoredDocument

log = logging.getLogger(__name__)


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


class Recommender:
    """Ranks organisations, calls and projects for each other, with the reasons for each match."""

    def __init__(
        self,
        store: Store,
        encoder: DocumentEncoder,
        collections: dict[EntityKind, Loaded],
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
        self._masks: dict[tuple[EntityKind, frozenset[str]], npt.NDArray[np.bool_]] = {}

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
            index, manifest = _load_index(store, models_dir, kind, encoder.embedder.name, documents)
            collections[kind] = Loaded(kind, store.entities(kind), documents, index, manifest)
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

    @staticmethod
    def check(store: Store, models_dir: Path, model: str) -> None:
        """Raise IndexNotBuilt or StaleIndex, with the command to run, where `open` would; without
        building the in-memory collections (for a quick check before a server starts)."""
        for kind in EntityKind:
            _load_index(store, models_dir, kind, model, store.documents(kind))

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
        allowed: Collection[str] | None = None,
    ) -> list[Match]:
        """The k best organisations for a stored project, best first. Raises NotFound.

        `exclude_documents` (document store ids) are left out of the organisations' profiles;
        `allowed` restricts the candidates to these ids; without `explain`, matches carry no
        reasons (faster)."""
        query = self._stored_query(project_id, EntityKind.PROJECT)
        target = self.collections[EntityKind.ORGANISATION]
        features = target.features(query, exclude_documents)
        mask = _both(self._kind_mask(target, kinds), self._allowed_mask(target, allowed))
        return self._top(query, target, features, k, mask, explain)

    def calls_for(
        self,
        project_id: str,
        k: int = 10,
        include_forthcoming: bool = False,
        *,
        explain: bool = True,
        allowed: Collection[str] | None = None,
    ) -> list[Match]:
        """The k best funding calls for a stored project that are open today (and forthcoming
        ones, if asked). A call whose deadlines have all passed is never returned."""
        query = self._stored_query(project_id, EntityKind.PROJECT)
        target = self.collections[EntityKind.CALL]
        features = target.features(query)
        mask = _both(self._call_mask(include_forthcoming), self._allowed_mask(target, allowed))
        return self._top(query, target, features, k, mask, explain)

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
        source_kind = self.known(id)
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
        """Rank organisations, calls or projects for a pasted text such as an abstract;
        `allowed` restricts the candidates to these ids."""
        if not text.strip():
            raise InvalidQuery("The text to search for is empty. Paste an abstract or a few lines.")
        query = Query(text, self.encoder.encode([text]), text_facets(text), [])
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
            mask = None
        mask = _both(mask, self._allowed_mask(target, allowed))
        return self._top(query, target, target.features(query), k, mask, explain)

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

    def known(self, id: str) -> EntityKind | None:
        """The kind of a loaded entity, or None when these indexes do not hold it."""
        for kind, collection in self.collections.items():
            if id in collection.positions:
                return kind
        return None

    def _stored_query(self, id: str, kind: EntityKind) -> Query:
        collection = self.collections[kind]
        position = collection.positions.get(id)
        if position is None:
            raise NotFound(kind.value, id)
        return self._query_for(collection, position)

    def _query_for(self, collection: Loaded, position: int) -> Query:
        return Query(
            text=collection.texts[position],
            vectors=collection.vectors_of(position),
            facets=collection.facets[position],
            passages=[],
            entity=collection.entities[position],
        )

    def _top(
        self,
        query: Query,
        target: Loaded,
        features: Matrix,
        k: int,
        mask: npt.NDArray[np.bool_] | None,
        explain: bool,
        *,
        scorer: LinearScorer | None = None,
        reverse_of: tuple[Loaded, int] | None = None,
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
        query: Query,
        target: Loaded,
        position: int,
        row: Vector,
        scorer: LinearScorer,
        reverse_of: tuple[Loaded, int] | None,
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

    def _sentences(self, collection: Loaded, position: int) -> list[str]:
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
        self, target: Loaded, kinds: Collection[OrgKind] | None
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
        self, target: Loaded, allowed: Collection[str] | None
    ) -> npt.NDArray[np.bool_] | None:
        if allowed is None:
            return None
        wanted = allowed if isinstance(allowed, frozenset) else frozenset(allowed)
        key = (target.kind, wanted)
        mask = self._masks.get(key)
        if mask is None:
            # Views pass the same frozenset for as long as the store is unchanged: its hash is
            # computed once, so this look-up costs nothing on the hot path.
            mask = np.fromiter((e.id in wanted for e in target.entities), bool, len(target))
            if len(self._masks) > 64:
                self._masks.clear()
            self._masks[key] = mask
        return mask


def _both(
    a: npt.NDArray[np.bool_] | None, b: npt.NDArray[np.bool_] | None
) -> npt.NDArray[np.bool_] | None:
    if a is None or b is None:
        return a if b is None else b
    return a & b


def _load_index(
    store: Store, models_dir: Path, kind: EntityKind, model: str, documents: list[StoredDocument]
) -> tuple[VectorIndex, Manifest]:
    return VectorIndex.load(
        index_dir(models_dir, kind),
        kind=kind.value,
        model=model,
        data_hash=store.data_hash(kind, documents),
    )


def ranker_path(models_dir: Path, kind: EntityKind) -> Path:
    """Where the trained ranker for pairs of a project with this kind is saved."""
    name = "partners" if kind is EntityKind.ORGANISATION else "calls"
    return Path(models_dir) / "ranker" / f"{name}.json"
