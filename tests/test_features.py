"""Features are one definition each (name, family, both directions), and the adapted dense
features read the same pairs through a linear adapter: equal to the frozen ones without one,
different with one, and the same in both directions either way."""

from __future__ import annotations

import numpy as np
import pytest

from matcher import FEATURES, EntityKind, LinearAdapter, Target
from matcher.ranking.features import DEFINITIONS, FAMILIES

FAMILY_NAMES = {"dense", "lexical", "facets", "profile", "programme", "registry"}


def test_each_feature_is_one_definition():
    assert tuple(d.name for d in DEFINITIONS) == FEATURES
    assert len(set(FEATURES)) == len(FEATURES)
    assert set(FAMILIES.values()) <= FAMILY_NAMES
    for definition in DEFINITIONS:
        assert callable(definition.forward) and callable(definition.reverse)
        assert definition.about


def rotation(dim: int, seed: int = 0) -> LinearAdapter:
    """An adapter whose matrix is a random near-identity map (as a trained one is)."""
    rng = np.random.default_rng(seed)
    adapter = LinearAdapter()
    adapter.W_ = (np.eye(dim) + 0.3 * rng.normal(size=(dim, dim)) / np.sqrt(dim)).astype(np.float32)
    adapter.n_features_in_ = dim
    return adapter


def columns(*names: str) -> list[int]:
    return [FEATURES.index(n) for n in names]


def test_without_an_adapter_the_adapted_features_equal_the_frozen_ones(recommender):
    _, rows = recommender.features_for("P-1", Target.PARTNERS)
    np.testing.assert_allclose(
        rows[:, columns("adapted_max", "adapted_mean")],
        rows[:, columns("dense_max", "dense_mean")],
        atol=1e-6,
    )


@pytest.mark.parametrize(("target", "kind"), [(Target.PARTNERS, EntityKind.ORGANISATION),
                                              (Target.CALLS, EntityKind.CALL)])  # fmt: skip
def test_an_adapter_changes_the_adapted_features_alike_in_both_directions(
    recommender, target, kind
):
    collection = recommender.collections[kind]
    projects = recommender.collections[EntityKind.PROJECT]
    collection.set_adapter(rotation(collection.doc_vectors.shape[1]))
    try:
        for project_id in ("P-1", "P-2"):
            ids, forward = recommender.features_for(project_id, target)
            adapted = forward[:, columns("adapted_max", "adapted_mean")]
            frozen = forward[:, columns("dense_max", "dense_mean")]
            assert not np.allclose(adapted, frozen, atol=1e-3)
            for position, candidate in enumerate(ids):
                back = collection.features_against(position, projects)
                row = projects.positions[project_id]
                np.testing.assert_allclose(back[row], forward[position], atol=1e-5,
                                           err_msg=candidate)  # fmt: skip
    finally:
        collection.set_adapter(None)
