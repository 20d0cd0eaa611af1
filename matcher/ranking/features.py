"""The evidence a match is scored on: one row of features per (project or text, candidate) pair.

Every feature compares the project side (a stored project or a pasted text) with the candidate
side (an organisation's profile documents, a call, or, in the reverse direction, the project
itself), so a pair has the same features whichever side asks.
"""

from __future__ import annotations

FEATURES: tuple[str, ...] = (
    "dense_max",
    "dense_mean",
    "dense_top3",
    "lexical",
    "lexical_max",
    "tfidf",
    "tfidf_phrases",
    "phrase",
    "rare_term",
    "facets",
    "log_documents",
    "group_dense",
    "group_lexical",
)
"""
dense_max      best cosine between the project and any one document of the other side
dense_mean     cosine between the project and the mean of the other side's documents
dense_top3     mean cosine of the other side's three documents closest to the project
lexical        BM25 of the project against all of the other side's text, normalised to [0, 1]
lexical_max    the same against the other side's best single document
tfidf          TF-IDF cosine (words and word pairs) with all of the other side's documents
tfidf_phrases  TF-IDF cosine (runs of one to four words) with the sum of the other side's
               documents' unit vectors: every document counts the same, and the wording an
               organisation repeats across its records (its stock phrases) weighs in
phrase         the longest run of words (from 3, capped at 8) the project shares verbatim with one
               of the other side's documents, scaled to [0, 1]
rare_term      IDF of the rarest word the project shares with one of the other side's documents,
               scaled to [0, 1]: a product, cell line or acronym that few documents use
facets         shared facets (modality, indication, capability, stage), at most 6
log_documents  log(1 + number of profile documents): the size of a track record
group_dense    mean dense_max over the calls of the same programme (0 for organisations)
group_lexical  mean lexical over the calls of the same programme (0 for organisations)
"""

FAMILIES: dict[str, str] = {
    "dense_max": "dense",
    "dense_mean": "dense",
    "dense_top3": "dense",
    "lexical": "lexical",
    "lexical_max": "lexical",
    "tfidf": "lexical",
    "tfidf_phrases": "lexical",
    "phrase": "lexical",
    "rare_term": "lexical",
    "facets": "facets",
    "log_documents": "profile",
    "group_dense": "programme",
    "group_lexical": "programme",
}

MAX_FACETS = 6
