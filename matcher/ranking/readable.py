"""Whether a pasted text can be matched against a collection at all: enough of its words occur
in the candidates' texts, and some candidate is about its topic."""

from __future__ import annotations

from ..vectors.embedding import Matrix
from .collection import Loaded
from .features import FEATURES
from .lexical import tokens

MIN_KNOWN_WORDS = 3
"""A pasted text needs at least this many words the collection also uses to be matched..."""
MIN_KNOWN_SHARE = 0.4
"""...and at least this share of its words: below either, it is too short, gibberish or in a
language the model does not read, and every match is weak."""
OFF_TOPIC_SIMILARITY = 0.35
"""A text none of whose candidates' documents reaches this cosine (MiniLM) is about something
else: on the demo, ten research abstracts reach 0.43 to 0.83 against every kind, while texts
about football, furniture, weather or language models stay under 0.32."""
_DENSE_MAX = FEATURES.index("dense_max")


def unmatchable(text: str, target: Loaded, features: Matrix, *, words: bool = True) -> str:
    """Empty when the text can be matched against the collection; otherwise why not: too
    few words the collection also uses (too short, gibberish, or a language the model does
    not read), or no candidate about its topic at all. Without `words` (a text matched
    across languages, whose words the collection cannot share), only the topic counts."""
    tokens_ = [t for t in tokens(text) if t.isalpha()] if words else []
    vocabulary = target.lexical.vocab_ if target.lexical is not None else {}
    known = sum(1 for w in tokens_ if w in vocabulary)
    if words and (known < MIN_KNOWN_WORDS or known < MIN_KNOWN_SHARE * len(tokens_)):
        return (
            f"Nothing fits this text: only {known} of its {len(tokens_)} words occur in the "
            f"hub's {target.kind.value}s. It may be too short, not a research text, or in a "
            "language the model does not read (it reads English); every match below is weak."
        )
    closest = float(features[:, _DENSE_MAX].max()) if len(features) else 0.0
    if closest < OFF_TOPIC_SIMILARITY:
        return (
            f"Nothing fits this text: no {target.kind.value} in the hub is about its topic "
            f"(the closest text is {closest:.2f} similar; related texts reach "
            f"{OFF_TOPIC_SIMILARITY} or more); every match below is weak."
        )
    return ""
