"""The recommender: puts the store, the embeddings, the vector and lexical indexes together.

Every direction ranks by one pair score, so a pair scores the same whichever side asks:

    raw(project, other) = bias + sum of weight * feature   (ranking/features.py, scorer.py)
    score = calibrated probability that the pair is a match (ranking/calibration.py)
            [x the time left to apply, for calls (ranking/calls.py)]

The weights come from a ranker trained on the benchmarks (models/ranker/) or, until one is
trained, from the default scorer (dense similarity, BM25 and a facet bonus); the calibration of
each scorer from models/ranker/calibration.json.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .artefacts import calibration_path, load_index, open_collections, ranker_path
from .domain import (
    CallStatus,
    Entity,
    EntityKind,
    FundingCall,
    OrgKind,
    Project,
    Stage,
)
from .errors import InvalidQuery, NotFound
from .facts import stage_phases
from .matches import ALL_STATUSES, NO_PROFILE, Profile, Ranking, Target, match_of
from .ranking.calibration import (
    GOOD,
    Calibration,
    calibration_for,
    fingerprint,
    load_calibrations,
    strength_of,
)
from .ranking.calls import PROPOSABLE, CallBook, call_notice, may_apply
from .ranking.candidates import AllowedMasks, both, kind_mask
from .ranking.collection import Collections, Loaded, Query
from .ranking.crosslingual import CrossLingual
from .ranking.eligibility import Outcome, assess
from .ranking.explain import Explainer
from .ranking.facets import text_facets
from .ranking.readable import unmatchable
from .ranking.registry import query_side
from .ranking.retrieval import SHORTLIST, Retrieval
from .ranking.scorer import DEFAULT_SCORER, LinearScorer, load_scorer
from .ranking.subset import Slice
from .store import Store
from .vectors.embedding import DocumentEncoder, Matrix
from .vectors.index import Manifest

log = logging.getLogger(__name__)


class Recommender:
    """Ranks organisations, calls and projects for each other, with the reasons for each match."""

    def __init__(
        self,
        store: Store,
        encoder: DocumentEncoder,
        collections: Collections,
        *,
        scorers: Mapping[EntityKind, LinearScorer] | None = None,
        calibrations: Sequence[Calibration] = (),
        hub_country: str,
        today: Callable[[], dt.date],
        multilingual: CrossLingual | None = None,
        retrieval: Retrieval = SHORTLIST,
    ) -> None:
        self.store = store
        self.retrieval = retrieval
        """How candidates are shortlisted before they are scored (EXHAUSTIVE: never)."""
        self.encoder = encoder
        self.collections = collections
        self.multilingual = multilingual
        """Matches texts not in English across languages (MATCHER_MULTILINGUAL); None: off."""
        self.scorers = dict(scorers or {})
        self.calibrations = list(calibrations)
        self.hub_country = hub_country
        self.today = today
        self._allowed = AllowedMasks()

    @classmethod
    def open(
        cls,
        store: Store,
        encoder: DocumentEncoder,
        models_dir: Path,
        *,
        scorers: Mapping[EntityKind, LinearScorer] | None = None,
        hub_country: str = "SE",
        today: Callable[[], dt.date] = dt.date.today,
        lazy: bool = False,
        multilingual: CrossLingual | None = None,
    ) -> Recommender:
        """Load the saved indexes and, where trained, the rankers and their calibrations; raises
        IndexNotBuilt or StaleIndex. `scorers` overrides the saved rankers. With `lazy`, each
        kind's in-memory indexes are built when a query first needs them (a one-off command);
        a server builds them all now."""
        collections = open_collections(store, models_dir, encoder.embedder.name)
        if not lazy:
            collections.build_all()
        if scorers is None:
            scorers = {}
            for kind in (EntityKind.ORGANISATION, EntityKind.CALL):
                loaded = load_scorer(ranker_path(models_dir, kind), encoder.embedder.name)
                if loaded is not None:
                    scorers[kind] = loaded
        calibrations = load_calibrations(calibration_path(models_dir))
        log.info("recommender ready: %s", {k.value: collections.count(k) for k in collections})
        return cls(
            store, encoder, collections, scorers=scorers, calibrations=calibrations,
            hub_country=hub_country, today=today, multilingual=multilingual,
        )  # fmt: skip

    @staticmethod
    def check(store: Store, models_dir: Path, model: str) -> None:
        """Raise IndexNotBuilt or StaleIndex, with the command to run, where `open` would; without
        building the in-memory collections (for a quick check before a server starts)."""
        for kind in EntityKind:
            load_index(store, models_dir, kind, model, store.documents(kind))

    def scorer(self, kind: EntityKind) -> LinearScorer:
        """The scorer for pairs of a project with this kind (a trained ranker, or the default)."""
        return self.scorers.get(kind, DEFAULT_SCORER)

    def calibration(self, kind: EntityKind, scorer: LinearScorer | None = None) -> Calibration:
        """The map from this scorer's raw scores to probabilities; UNCALIBRATED (a fixed curve,
        logged) when none was fitted for it."""
        scorer = scorer or self.scorer(kind)
        candidates = "partners" if kind is EntityKind.ORGANISATION else "calls"
        found = calibration_for(
            self.calibrations, candidates, fingerprint(scorer.weights, scorer.bias)
        )
        if found is None:
            log.debug("no calibration for the %s scorer %s", candidates, scorer.manifest)
            return UNCALIBRATED
        return found

    # ------------------------------------------------------------------ public directions

    @functools.cached_property
    def explainer(self) -> Explainer:
        """Builds the reasons of the matches a ranking returns."""
        return Explainer(self.encoder, self.collections, self.hub_country, self.today)

    @functools.cached_property
    def calls(self) -> CallBook:
        """The loaded calls' status, timing and eligibility."""
        calls = self.collections[EntityKind.CALL].entities
        return CallBook(calls, self.hub_country, self.today)

    def manifests(self) -> dict[str, Manifest]:
        return {k.value: self.collections.manifest(k) for k in self.collections}

    def counts(self) -> dict[str, int]:
        """Loaded entities of each kind (not documents)."""
        return {k.value: self.collections.count(k) for k in self.collections}

    def get(self, id: str, kind: EntityKind | None = None) -> Entity:
        """A loaded entity by id. Raises NotFound."""
        for k in self.collections:
            entity = self.collections.entity(k, id) if kind in (None, k) else None
            if entity is not None:
                return entity
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
    ) -> Ranking:
        """The k best organisations for a stored project, best first. Raises NotFound.

        `exclude_documents` (document store ids) are left out of the organisations' profiles;
        `allowed` restricts the candidates to these ids; without `explain`, matches carry no
        reasons (faster)."""
        query = self._stored_query(project_id, EntityKind.PROJECT)
        target = self.collections[EntityKind.ORGANISATION]
        mask = both(kind_mask(target, kinds), self._allowed.mask(target, allowed))
        rows, features = self._features(target, query, mask, exclude_documents)
        return self._top(query, target, features, k, mask, explain, rows=rows)

    def calls_for(
        self,
        project_id: str,
        k: int = 10,
        statuses: Collection[CallStatus] = ALL_STATUSES,
        include_ineligible: bool = False,
        *,
        explain: bool = True,
        allowed: Collection[str] | None = None,
    ) -> Ranking:
        """The k best funding calls for a stored project: open and forthcoming ones (or only
        `statuses`), never closed or withdrawn ones, and only those the hub may apply to with
        this project unless `include_ineligible`. Raises NotFound or InvalidQuery."""
        query = self._stored_query(project_id, EntityKind.PROJECT)
        stage = query.entity.stage if isinstance(query.entity, Project) else None
        target = self.collections[EntityKind.CALL]
        mask = both(
            self.calls.mask(statuses, stage, include_ineligible),
            self._allowed.mask(target, allowed),
        )
        rows, features = self._features(target, query, mask)
        return self._top(query, target, features, k, mask, explain, rows=rows)

    def projects_for(
        self,
        id: str,
        k: int = 10,
        allowed: Collection[str] | None = None,
        *,
        include_ineligible: bool = False,
        explain: bool = True,
    ) -> Ranking:
        """The k projects that fit an organisation or a call best (the reverse direction), by
        the same pair scores as the forward direction. For a call, projects that may not apply
        (by stage) are left out unless `include_ineligible`, and a call that can no longer be
        applied to says so in the notice. `allowed` restricts the ranking to these project
        ids. Raises NotFound."""
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
        query = self._query_for(source, position)
        mask = self._allowed.mask(projects, allowed)
        notice = ""
        call = source.entities[position]
        if isinstance(call, FundingCall):
            if not include_ineligible:
                mask = both(
                    mask,
                    may_apply(
                        call, self.collections[EntityKind.PROJECT].entities, self.hub_country
                    ),
                )
            notice = call_notice(call, self.today())
            barred = assess(call, None, self.hub_country)
            if barred.outcome is Outcome.INELIGIBLE:
                where = "" if include_ineligible else " No project is listed."
                barring = f"The hub may not apply to {call.id}: {barred.rule}.{where}"
                notice = f"{notice} {barring}".strip()
        rows = self.retrieval.shortlist(projects, query, mask)
        if rows is None:
            features = source.features_against(position, projects)
        else:
            part = Slice(projects, rows)
            rows, features = part.rows, source.features_against(position, part)
        ranking = self._top(
            query, projects, features, k, mask, explain,
            scorer=self.scorer(source_kind), reverse_of=(source, position), rows=rows,
        )  # fmt: skip
        return replace(ranking, notice=notice or ranking.notice)

    def search(
        self,
        text: str,
        to: Target,
        k: int = 10,
        kinds: Collection[OrgKind] | None = None,
        statuses: Collection[CallStatus] = ALL_STATUSES,
        include_ineligible: bool = False,
        allowed: Collection[str] | None = None,
        *,
        profile: Profile = NO_PROFILE,
        explain: bool = True,
    ) -> Ranking:
        """Rank organisations, calls or projects for a pasted text such as an abstract; the
        text's `profile` (stage, modality, needs) decides call verdicts and adds facets.
        `allowed` restricts the candidates to these ids."""
        if not text.strip():
            raise InvalidQuery("The text to search for is empty. Paste an abstract or a few lines.")
        facets = text_facets(text, profile.modality, profile.stage, profile.needs)
        phases = stage_phases(profile.stage) if profile.stage else ()
        side = query_side(None, text, phases, self.today())
        query = Query(text, self.encoder.encode([text], persist=False), facets, [], side=side)
        if explain:
            query.passages = self.encoder.sentences(text)
        if to is Target.PARTNERS:
            target = self.collections[EntityKind.ORGANISATION]
            mask = kind_mask(target, kinds)
        elif to is Target.CALLS:
            target = self.collections[EntityKind.CALL]
            mask = self.calls.mask(statuses, profile.stage, include_ineligible)
        else:
            target = self.collections[EntityKind.PROJECT]
            mask = None
        mask = both(mask, self._allowed.mask(target, allowed))
        language = self.multilingual.language(text) if self.multilingual else None
        if self.multilingual is not None and language is not None:
            # The trained rankers weigh mostly lexical evidence, which does not cross
            # languages: such a pair is scored by the default scorer (dense similarity first),
            # read through that scorer's own calibration.
            features = self.multilingual.features(target, text, target.features(query))
            unreadable = unmatchable(text, target, features, words=False)
            ranking = self._top(
                query, target, features, k, mask, explain,
                scorer=DEFAULT_SCORER, stage=profile.stage, unreadable=unreadable,
            )  # fmt: skip
            notice = unreadable or self.multilingual.notice(language)
            return replace(ranking, notice=notice)
        rows, features = self._features(target, query, mask)
        return self._top(
            query, target, features, k, mask, explain, rows=rows,
            stage=profile.stage, unreadable=unmatchable(text, target, features),
        )  # fmt: skip

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
        for kind in self.collections:
            if self.collections.entity(kind, id) is not None:
                return kind
        return None

    def _features(
        self,
        target: Loaded,
        query: Query,
        mask: npt.NDArray[np.bool_] | None,
        exclude: Collection[int] = (),
    ) -> tuple[npt.NDArray[np.int64] | None, Matrix]:
        """The features of the query against the shortlist (positions, rows), or against every
        entity (None, rows) where the collection is small enough to score whole."""
        rows = self.retrieval.shortlist(target, query, mask, exclude)
        if rows is None:
            return None, target.features(query, exclude)
        return target.shortlist_features(query, rows, exclude)

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
            side=collection.side_of(position),
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
        stage: Stage | None = None,
        unreadable: str = "",
        rows: npt.NDArray[np.int64] | None = None,
    ) -> Ranking:
        """The k best of the scored candidates: every entity of `target`, or those at `rows`
        (a shortlist; row i of `features` is then entity rows[i])."""
        if k < 1:
            raise InvalidQuery(f"k={k} must be at least 1.")
        at = np.arange(len(target), dtype=np.int64) if rows is None else rows
        other = target.kind if reverse_of is None else reverse_of[0].kind
        scorer = scorer or self.scorer(target.kind)
        raw = scorer.score(features)
        # A text against projects is scored as a partner would be.
        side = EntityKind.ORGANISATION if other is EntityKind.PROJECT else other
        score = self.calibration(side, scorer).probability(raw)
        if target.kind is EntityKind.CALL:
            score = score * self.calls.timing()[at]
        elif (
            reverse_of is not None
            and reverse_of[0].kind is EntityKind.CALL
            and self.calls.status_mask(PROPOSABLE)[reverse_of[1]]
        ):
            # A call that can no longer be applied to keeps its fit (the notice says it is
            # closed): a business developer reads it for the call's next round.
            score = score * self.calls.timing()[reverse_of[1]]
        if unreadable:
            # The estimate assumes a text the model reads; for one it does not, no match may
            # look better than a chance pairing.
            score = np.minimum(score, UNREADABLE_CAP)
        if query.entity is not None and query.entity.id in target.positions:
            score[at == target.positions[query.entity.id]] = -np.inf
        if mask is not None:
            score = np.where(mask[at], score, -np.inf)
        k = min(k, int(np.isfinite(score).sum()))
        if k <= 0:
            return Ranking([], nothing_fits=True, notice=unreadable or "No candidate to rank.")
        # Ties of the calibrated score (the flat ends of the map, the cap) keep the raw order:
        # every candidate tied with the k-th is sorted, not just the k first found.
        kth = np.partition(score, len(score) - k)[len(score) - k]
        candidates = np.flatnonzero(score >= kth)
        top = candidates[np.lexsort((at[candidates], -raw[candidates], -score[candidates]))][:k]
        memo = self.explainer.prepare(query, target, at[top], reverse_of) if explain else {}
        matches = []
        for rank, i in enumerate(top, start=1):
            candidate = target.entities[int(at[i])]
            value = round(float(score[i]), 3)  # what people read; the strength agrees with it
            strength = strength_of(value)
            reasons = (
                self.explainer.reasons(
                    query,
                    target,
                    int(at[i]),
                    features[i],
                    scorer,
                    reverse_of,
                    memo,
                    score=value,
                    raw=float(raw[i]),
                    stage=stage,
                )
                if explain
                else None
            )
            also = target.members.get(candidate.id, ())
            matches.append(
                match_of(candidate, target.kind, value, strength, rank, reasons, raw[i], also)
            )
        return Ranking(matches, nothing_fits=bool(unreadable), notice=unreadable)


UNREADABLE_CAP = GOOD / 2
"""The highest score a match for an unreadable text may show."""

UNCALIBRATED = Calibration("platt", a=4.0, b=-4.0, manifest={"name": "uncalibrated"})
"""Used for a scorer with no fitted calibration (a ranker trained without `bench.train`): a
fixed logistic curve, so scores stay in [0, 1], but they are not probabilities."""
