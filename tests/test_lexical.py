import numpy as np
import pytest

from matcher import LexicalIndex

DOCS = [
    "AAV9 vector manufacturing for retinal gene therapy",
    "Closed automated CAR-T cell processing",
    "Phase I clinical trial unit with apheresis",
]


def test_scores_are_normalised_and_ranked():
    index = LexicalIndex().fit(DOCS)
    scores = index.scores("AAV gene therapy for inherited retinal dystrophies")
    assert scores.argmax() == 0
    assert scores.min() >= 0 and scores.max() <= 1
    assert index.scores("nothing in common, zebra").tolist() == [0.0, 0.0, 0.0]


def test_reverse_direction_gives_the_same_pair_scores():
    index = LexicalIndex().fit(DOCS)
    queries = ["CAR-T cells for lymphoma", "retinal AAV", "clinical trial with apheresis cells"]
    for row in range(len(DOCS)):
        forward = [index.scores(q)[row] for q in queries]
        np.testing.assert_allclose(index.scores_against(queries, row), forward, rtol=1e-6)


def test_shared_terms_are_readable_words():
    index = LexicalIndex().fit(DOCS)
    # surface words, not stems ("therapi"), and only terms the document has
    assert set(index.shared_terms("retinal gene therapies for mice", 0)) == {
        "retinal",
        "gene",
        "therapy",
    }


def test_scoring_a_document_without_part_of_it():
    texts = ["AAV vectors for the retina. Also CAR-T cells.", "CAR-T cells for lymphoma", "x y"]
    index = LexicalIndex().fit(texts)
    query = "CAR-T cells for lymphoma patients"
    np.testing.assert_allclose(index.score_without(query, 1, []), index.scores(query)[1], rtol=1e-5)
    without = index.score_without(query, 0, ["Also CAR-T cells."])
    assert without == 0.0 < index.scores(query)[0]


def test_tfidf_reverse_and_leave_out_agree_with_the_forward_scores():
    from matcher.lexical import TfidfIndex

    docs = ["AAV vectors for the retina", "CAR-T cells", "CAR-T cells for lymphoma", "x"]
    owner = np.array([0, 0, 1, 2])
    index = TfidfIndex().fit(docs, owner, 3)
    queries = ["CAR-T lymphoma", "retina AAV"]
    for row in range(3):
        forward = [index.scores(q)[row] for q in queries]
        np.testing.assert_allclose(index.scores_against(queries, row), forward, rtol=1e-5)
    alone = TfidfIndex().fit(docs[:1] + docs[2:], np.array([0, 1, 2]), 3)
    assert index.score_without("CAR-T cells", 0, [1]) == 0.0 < index.scores("CAR-T cells")[0]
    assert alone.scores("retina")[0] > 0


def test_document_tfidf_reverse_and_leave_out_agree_with_the_forward_scores():
    from matcher.lexical import DocumentTfidfIndex

    docs = [
        "AAV vectors for the retina",
        "CAR-T cells for relapsed lymphoma in adults",
        "CAR-T cells for lymphoma",
        "lupus nephritis",
    ]
    owner = np.array([0, 0, 1, 2])
    index = DocumentTfidfIndex().fit(docs, owner, 3)
    queries = ["CAR-T cells for relapsed lymphoma", "retina AAV"]
    for row in range(3):
        forward = [index.scores(q)[row] for q in queries]
        np.testing.assert_allclose(index.scores_against(queries, row), forward, rtol=1e-5)
    # Leaving a document out scores as if another entity held it (same IDF), exactly.
    left = index.scores(queries[0], exclude=[1])
    moved = DocumentTfidfIndex().fit(docs, np.array([0, 3, 1, 2]), 4)
    np.testing.assert_allclose(left, moved.scores(queries[0])[:3], rtol=1e-5)
    assert left[0] < index.scores(queries[0])[0]
    assert index.scores("lupus nephritis")[2] == pytest.approx(1.0) and index.scores("")[0] == 0.0


def test_phrases_count_runs_of_three_words_and_more():
    from matcher.lexical import PhraseIndex

    docs = [
        "The purpose of this study is to evaluate the safety of MSC-NTF cells",
        "safety of cells",
        "evaluate safety",
        "",
    ]
    index = PhraseIndex().fit(docs)
    scores = index.scores("This study is to evaluate the safety of MSC-NTF in ALS")
    # doc 0 shares 'this study is to evaluate the safety of msc-ntf' (9 words: capped at 8)
    # doc 1 'safety of' (2 words: 0), doc 2 'evaluate safety' is not a run of the query
    np.testing.assert_allclose(scores, [1.0, 0.0, 0.0, 0.0])
    assert index.scores("safety of cells today")[1] == pytest.approx(1 / 6)
    assert index.scores("nothing shared here")[0] == 0.0
    assert PhraseIndex().fit([]).scores("any text").shape == (0,)
