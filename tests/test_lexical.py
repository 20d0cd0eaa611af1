import re
from pathlib import Path

import numpy as np
import pytest
import Stemmer

from matcher import (
    FIELD_WORDS,
    STOP_WORDS,
    UNITS,
    WEAK_WORDS,
    LexicalIndex,
    is_informative,
    is_number,
    read_directory,
)
from matcher.ranking.collection import search_text
from matcher.text import words

ROOT = Path(__file__).resolve().parents[1]

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


def test_scoring_a_document_without_part_of_it():
    texts = ["AAV vectors for the retina. Also CAR-T cells.", "CAR-T cells for lymphoma", "x y"]
    index = LexicalIndex().fit(texts)
    query = "CAR-T cells for lymphoma patients"
    np.testing.assert_allclose(index.score_without(query, 1, []), index.scores(query)[1], rtol=1e-5)
    without = index.score_without(query, 0, ["Also CAR-T cells."])
    assert without == 0.0 < index.scores(query)[0]


def test_tfidf_reverse_and_leave_out_agree_with_the_forward_scores():
    from matcher.ranking.tfidf import TfidfIndex

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
    from matcher.ranking.tfidf import DocumentTfidfIndex

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
    from matcher.ranking.phrases import PhraseIndex

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


# Shared terms: what a match shows as "both mention". Checked with lists of our own as well as the
# module's, so that a word dropped from the module's lists still fails here.
NOISE = {"kg", "mg", "ml", "l", "µm", "days", "weeks", "months", "we", "would", "has", "two"}
NOISE |= {"need", "co-development", "partner", "project", "study", "develop", "novel", "first"}
NUMBER = re.compile(r"[\d.,+^x/%-]+|\d+(st|nd|rd|th|s)?")
STEM = Stemmer.Stemmer("english")
LATIN = r"\b(in vivo|ex vivo|in vitro|in situ|in utero|de novo|in silico)\b"  # one word each


def term_words(term):
    """The words of a shown term; "in vivo" and the like count as one."""
    return re.sub(LATIN, lambda m: m.group(0).replace(" ", "_"), term).split()


def parts(word):
    """The parts of a hyphenated word that count alone (three letters or more)."""
    return [p for p in word.split("-") if len(p) > 2] if "-" in word else []


def noise(word):
    """Why a word must not be shown, or ''."""
    stem = STEM.stemWord(word)
    for name, bad in [
        ("noise", word in NOISE),
        ("number", bool(NUMBER.fullmatch(word)) or is_number(word)),
        ("stop word", word in STOP_WORDS),
        ("unit", word in UNITS),
        ("field word", word in FIELD_WORDS or stem in {STEM.stemWord(w) for w in FIELD_WORDS}),
    ]:
        if bad:
            return name
    return ""


@pytest.fixture(scope="module")
def demo():
    """The demo data with the lexical index the recommender builds for each kind (over the
    texts of `search_text`, as `Loaded` does), without embeddings."""
    data = read_directory(ROOT / "data" / "demo")
    projects = [search_text(p) for p in data["projects.jsonl"]]
    targets = {}
    for name in ("organisations.jsonl", "calls.jsonl"):
        texts = [search_text(e) for e in data[name]]
        targets[name] = (texts, LexicalIndex().fit(texts))
    return projects, targets


def test_demo_shared_terms_hold_no_stop_words_numbers_units_or_field_words(demo):
    projects, targets = demo
    seen = 0
    for texts, index in targets.values():
        weak = set(index.shown_.common()) | {STEM.stemWord(w) for w in WEAK_WORDS}
        for project in projects:
            plain = " ".join(words(project))
            for row in range(len(texts)):
                terms = index.shared_terms(project, row)
                assert len(terms) <= 6
                for term in terms:
                    seen += 1
                    assert term in plain, term  # the query's own words
                    for word in term_words(term):
                        assert "_" in word or not noise(word), (term, noise(word))
                    if len(term_words(term)) == 1:  # a common word only ever inside a longer term
                        assert STEM.stemWord(term) not in weak, term
    assert seen > 10_000


def test_demo_multi_word_terms_come_first_and_their_words_are_not_repeated(demo):
    projects, targets = demo
    texts, index = targets["organisations.jsonl"]
    weak = set(index.shown_.common()) | {STEM.stemWord(w) for w in WEAK_WORDS}
    for project in projects:
        for row in range(len(texts)):
            terms = index.shared_terms(project, row)
            long = [t for t in terms if len(term_words(t)) > 1]
            assert terms[: len(long)] == long  # multi-word terms first
            # no word of a longer term shown alone, nor in a second one (but for common words)
            inside = [{p for w in term_words(t) for p in [w, *parts(w)]} for t in long]
            assert not set(terms) & set().union(*inside), terms
            rare = [{w for w in ws if STEM.stemWord(w) not in weak} for ws in inside]
            assert sum(map(len, rare)) == len(set().union(*rare)), terms
    # most of a project's five best organisations by BM25 share a multi-word term with it
    top = [(p, int(r)) for p in projects for r in np.argsort(-index.scores(p))[:5]]
    with_phrase = [any(len(term_words(t)) > 1 for t in index.shared_terms(p, r)) for p, r in top]
    assert sum(with_phrase) > 0.8 * len(top)
    # a disease that a project's abstract names shows in full, not as "sickle"
    sickle = [p for p in projects if "sickle cell disease" in p.split("\n")[1].lower()]
    holders = [r for r, t in enumerate(texts) if "sickle cell disease" in t.lower()]
    assert sickle and holders
    shown = [index.shared_terms(p, r) for p in sickle for r in holders]
    assert all("sickle" not in terms for terms in shown)
    assert all(
        "sickle cell disease" in index.shared_terms(p, r, 50) for p in sickle for r in holders
    )
    assert sum("sickle cell disease" in terms for terms in shown) > len(shown) / 2


def test_shared_terms_leave_out_the_noise_of_a_hand_written_pair():
    query = (
        "We need 10 kg of lentiviral vector within two days, and would like a partner for "
        "co-development. Our 3+3 design doses 3 x 10^6 cells/kg; the trial has 21 days of "
        "follow-up and releases 5 mg/ml in 2 weeks (µm filters)."
    )
    texts = [
        "We are a partner who would make 10 kg of lentiviral vector in two days for 21 days, "
        "with co-development, a 3+3 design, 10^6 cells/kg, 5 mg/ml in 2 weeks and µm filters.",
        "AAV9 capsid engineering for retinal gene therapy.",
        "Closed automated CAR-T manufacturing in a hospital.",
    ]
    index = LexicalIndex().fit(texts)
    terms = index.shared_terms(query, 0)
    assert not [w for t in terms for w in t.split() if noise(w)], terms
    assert terms == ["lentiviral vector", "filters"]
    assert index.shared_terms(query, 1) == []


def test_single_words_are_ranked_by_rarity_and_hyphenated_words_shown_whole():
    texts = [
        "GMP busulfan conditioning and CAR-T cells made in vivo",
        *[f"GMP cleanroom number {i}" for i in range(5)],
        "busulfan",
    ]
    index = LexicalIndex().fit(texts)
    query = "In vivo CAR-T with busulfan under GMP"
    # 'car-t' (one text) before 'busulfan' (two) before 'gmp' (six); 'in vivo' is one term;
    # the parts of 'car-t' are not shown again
    assert index.shared_terms(query, 0) == ["in vivo", "car-t", "busulfan", "gmp"]
    assert index.shared_terms(query, 0, limit=2) == ["in vivo", "car-t"]
    assert index.shared_terms("anti-CAR antibodies", 0) == ["car"]  # a part, when alone


def test_words_common_to_most_texts_show_only_inside_longer_terms():
    texts = [f"gene therapy vector lot {i}" for i in range(25)]
    texts += [f"sickle cell disease vector {i}" for i in range(5)]
    texts += [f"retinal dystrophy vector supply {i}" for i in range(10)]
    index = LexicalIndex().fit(texts)
    assert {"vector", "lot"} <= set(index.shown_.common())  # in 40 and 25 of 40 texts
    assert "sickl" not in index.shown_.common()
    # 'cell' and 'disease' are WEAK_WORDS: shown only with a rarer word
    assert index.shared_terms("a vector for sickle cell disease", 25) == ["sickle cell disease"]
    assert index.shared_terms("cell disease", 25) == []
    assert index.shared_terms("a vector for retinal dystrophy", 35) == ["retinal dystrophy"]
    assert index.shared_terms("gene therapy vector lot", 0) == []
    # below MIN_DOCUMENTS texts, shares say nothing: only the hand-written lists apply
    assert LexicalIndex().fit(texts[:3]).shared_terms("vector lot", 0) == ["vector lot"]


@pytest.mark.parametrize(
    "word", ["10", "21", "2027", "3x10", "1e6", "200ml", "21st", "two", "ii", "000"]
)
def test_numbers(word):
    assert is_number(word)


@pytest.mark.parametrize("word", ["cd19", "4-1bb", "aav9", "il-2", "hek293", "3d"])
def test_not_numbers(word):
    assert not is_number(word)


def test_informative_words():
    for word in ["kg", "µm", "days", "we", "would", "has", "need", "co-development", "18-34"]:
        assert not is_informative(word), word
    for word in ["partners", "studies", "developing", "10-fold", "co-funding", "x"]:
        assert not is_informative(word), word
    for word in ["lentiviral", "car-t", "cd19", "4-1bb", "busulfan", "first-in-human"]:
        assert is_informative(word), word


def _demo_texts():
    from matcher import read_directory

    parsed = read_directory(ROOT / "data" / "demo")
    return [d.text for records in parsed.values() for e in records for d in e.documents()]


def test_the_word_counter_gives_scikit_learns_matrix():
    """The real thing beside ours: scikit-learn's CountVectorizer, as the features used it."""
    from sklearn.feature_extraction.text import CountVectorizer

    from matcher.ranking.lexical import tokens
    from matcher.ranking.vectorizers import NgramCounter

    texts = _demo_texts()
    theirs = CountVectorizer(
        tokenizer=tokens, lowercase=False, token_pattern=None, ngram_range=(1, 2)
    )
    expected = theirs.fit_transform(texts)
    ours = NgramCounter(tokens, (1, 2))
    got = ours.fit_transform(texts)
    assert ours.vocabulary_ == theirs.vocabulary_
    assert (got != expected.astype(np.float32)).nnz == 0
    query = ["AAV8 gene therapy for retinitis pigmentosa; unseen-word here"]
    assert (ours.transform(query) != theirs.transform(query).astype(np.float32)).nnz == 0


def test_the_word_hasher_gives_scikit_learns_columns():
    from sklearn.feature_extraction.text import HashingVectorizer

    from matcher.ranking.lexical import tokens
    from matcher.ranking.vectorizers import NgramHasher

    texts = _demo_texts()
    theirs = HashingVectorizer(
        tokenizer=tokens, lowercase=False, token_pattern=None, ngram_range=(1, 4),
        n_features=2**22, alternate_sign=False, norm=None, dtype=np.float32,
    )  # fmt: skip
    ours = NgramHasher(tokens, (1, 4), 2**22)
    assert (ours.transform(texts) != theirs.transform(texts)).nnz == 0
