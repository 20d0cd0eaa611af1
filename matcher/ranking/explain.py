"""Why each match of a ranking was made: the reasons, built from the two sides' sentences,
facets and terms, and for calls their status, deadline and eligibility verdict."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from dataclasses import replace
from typing import Any

import numpy as np

from ..domain import EntityKind, FundingCall, Project, Stage, kind_of
from ..errors import IndexNotBuilt
from ..vectors.embedding import DocumentEncoder
from .calls import deadline_info
from .collection import Collections, Loaded, Query, Vector
from .eligibility import Verdict, assess
from .facets import shared
from .features import FEATURES
from .reasons import Reasons, SentencePair, positive_parts, summarise
from .registry import track_record
from .scorer import LinearScorer


class Explainer:
    """Builds the reasons of the matches a ranking returns. Stored sentences' vectors come from
    the store's cache; a pasted text's own sentences are embedded apart and never stored."""

    def __init__(
        self,
        encoder: DocumentEncoder,
        collections: Collections,
        hub_country: str,
        today: Callable[[], dt.date],
    ) -> None:
        self.encoder = encoder
        self.collections = collections
        self.hub_country = hub_country
        self.today = today

    def prepare(
        self,
        query: Query,
        target: Loaded,
        top: Collection[int],
        reverse_of: tuple[Loaded, int] | None,
    ) -> dict[str, Vector]:
        """The vector of every sentence the reasons of these matches compare, by text; fills
        in a stored query's sentences."""
        if reverse_of is None and not query.passages and query.entity is not None:
            source = self.collections[kind_of(query.entity)]
            position = source.positions[query.entity.id]
            query.passages = [
                p
                for i in source.entity_docs(position)
                for p in self.encoder.sentences(source.doc_texts[i])
            ]
        # One cache look-up (or model call) for every stored sentence the reasons compare; a
        # pasted text's own sentences are embedded apart and never reach the store.
        pasted = list(query.passages) if query.entity is None else []
        texts = [] if pasted else list(query.passages)
        if reverse_of is not None:
            texts += self._sentences(*reverse_of)
        for i in top:
            texts += self._sentences(target, int(i))
        unique = list(dict.fromkeys(texts))
        memo = dict(zip(unique, self.encoder.vectors(unique), strict=True)) if unique else {}
        own = [p for p in dict.fromkeys(pasted) if p not in memo]
        if own:
            memo.update(zip(own, self.encoder.vectors(own, persist=False), strict=True))
        return memo

    def reasons(
        self,
        query: Query,
        target: Loaded,
        position: int,
        row: Vector,
        scorer: LinearScorer,
        reverse_of: tuple[Loaded, int] | None,
        memo: dict[str, Vector],
        *,
        score: float,
        raw: float,
        stage: Stage | None,
    ) -> Reasons:
        candidate = target.entities[position]
        if reverse_of is None:
            docs = target.entity_docs(position).tolist()
            record = track_record(
                [target.doc_facts[i] for i in docs],
                target.registry.meets(query.side, docs),
                query.side,
            )
            terms = _lexical(target).shared_terms(query.text, position)
            sentences = self._best_sentences(
                query.passages, self._sentences(target, position), memo
            )
        else:
            source, source_position = reverse_of
            side = target.side_of(position) if target.kind is EntityKind.PROJECT else None
            docs = source.entity_docs(source_position).tolist()
            record = track_record(
                [source.doc_facts[i] for i in docs], source.registry.meets(side, docs), side
            )
            terms = _lexical(source).shared_terms(target.texts[position], source_position)
            sentences = self._best_sentences(
                self._sentences(source, source_position), self._sentences(target, position), memo
            )
        deadline = None
        verdict: Verdict | None = None
        project = query.entity if isinstance(query.entity, Project) else None
        call = candidate if isinstance(candidate, FundingCall) else None
        if isinstance(query.entity, FundingCall):
            call = query.entity
            project = candidate if isinstance(candidate, Project) else None
        if call is not None:
            deadline = deadline_info(call, self.today())
            verdict = assess(call, project.stage if project else stage, self.hub_country)
        reasons = Reasons(
            score_parts=positive_parts(scorer.parts(row), score),
            features={name: round(float(v), 6) for name, v in zip(FEATURES, row, strict=True)},
            raw_score=round(raw, 6),
            sentences=sentences,
            shared_facets=tuple(str(f) for f in shared(query.facets, target.facets[position])),
            shared_terms=tuple(terms),
            deadline=deadline,
            eligibility=verdict,
            track_record=record,
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


def _lexical(collection: Loaded) -> Any:
    if collection.lexical is None:
        raise IndexNotBuilt(f"The {collection.kind.value} collection has no lexical index.")
    return collection.lexical
