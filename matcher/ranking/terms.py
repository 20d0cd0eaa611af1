"""The terms two texts share, as a match shows them: domain concepts, not the words around them.

A text is cut into clauses at punctuation and line breaks, and each clause into runs of content
words: stop words, numbers, units and the field's generic research and business words
(FIELD_WORDS) are never shown and end a run. Two texts share a multi-word term when both hold the
same run of 2 to LONGEST content words (compared by stem). Multi-word terms are shown before any
single word: first those one of the texts repeats (a term recurs; two neighbours in a list of
tags rarely do), then the longest, then the rarest. A word shown inside a term is not shown
again, alone or in another term; nor are the parts of a hyphenated one ("car" of "car-t").
Single words follow, rarest first (IDF over the indexed texts).

Words in more than half of the indexed texts (COMMON_SHARE, once there are MIN_DOCUMENTS of them)
and a few that nearly every text of the field uses (WEAK_WORDS: "cell", "therapy", "disease") are
shown only inside a multi-word term that also holds a rarer word. Above half, a word's presence
says less about a text than its absence: the Robertson-Sparck Jones weight
log((N - df + 0.5) / (df + 0.5)) turns negative there. The shares are counted once, when the
index is fitted; a call reads only the two texts' words.

None of this is used for scoring: `LexicalIndex` and the features keep their own tokens.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import Stemmer


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOP_WORDS = _word_set(
    """
    a about above across after afterwards again against ago al all almost alone along already
    also although always am among amongst an and another any anyone anything anyway anywhere
    approx approximately are around as at away be became because become becomes been before
    beforehand behind being below beside besides between beyond both but by ca can can't cannot
    could did didn't do does doesn't doing don't done down due during each eg either else
    elsewhere enough especially et etc even ever every everyone everything everywhere except
    few for from further furthermore had has hasn't have haven't having he hence her here hers
    herself him himself his how however i ie if in indeed inside instead into is isn't it it's
    its itself just least less many may me meanwhile might mine more moreover most mostly much
    must my myself namely nearly neither never nevertheless no nobody none nor not nothing now
    nowhere of off often on once only onto or other others otherwise our ours ourselves out
    outside over own per perhaps please plus quite rather really roughly same several shall she
    should since so some somehow someone something sometimes somewhat still such than that
    that's the their theirs them themselves then thence there thereafter thereby therefore
    therein thereupon these they this those though through throughout thru thus to together
    too toward towards under until unto up upon us very via vs was wasn't we we'd we'll we're
    we've well were weren't what whatever when whence whenever where whereas whereby wherein
    whether which while who whoever whole whom whose why will with within without won't would
    yet you your yours yourself yourselves
    anti bi co de inter intra mid mono multi non post pre pro re self semi sub tri un
    """
)
"""English function words, and the prefixes that hyphenated words leave behind ("co", "non")."""

UNITS = _word_set(
    """
    g kg mg µg μg ug mcg ng pg l ml µl μl ul dl nl litre litres liter liters m cm mm µm μm um
    nm km mol mmol µmol μmol umol nmol pmol molar iu kda da bp kb mb vg gc rpm percent pct fold
    s sec secs min mins minute minutes h hr hrs hour hours day days week weeks wk wks month
    months year years yr yrs decade decades eur euro euros usd dollar dollars gbp chf k mio bn
    january february march april may june july august september october november december
    """
)
"""Units of mass, volume, length, amount, dose, time, money, and the calendar."""

NUMBER_WORDS = _word_set(
    """
    zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen
    fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty
    ninety hundred hundreds thousand thousands million millions billion billions first second
    third fourth fifth sixth seventh eighth ninth tenth once twice half dozen dozens
    ii iii iv vi vii viii ix xi xii
    """
)
"""Numbers, ordinals and Roman numerals written as words."""

FIELD_WORDS = _word_set(
    """
    need would could want wish hope seek look like interest interested welcome aim goal plan
    intend propose proposal co-development co-develop codevelopment develop development partner
    partnership collaborate collaboration collaborative collaborator project programme program
    study research researcher approach novel new first innovative innovation work package
    support provide offer include based use make made able enable help require requirement
    experience expertise opportunity application current currently further potential key
    important major main specific derived combined patient type phase site centre center team
    group company organisation institution country funding fund funder grant data design stage
    large largely small high low single full long short early late time next open point partly
    aged care run cover follow build reduce produce treat increase improve achieve allow show
    demonstrate evaluate qualify take give reach receive compare act positive negative
    """
)
"""Generic research and business words: every project needs, develops and seeks partners.
Compared by stem, so "needs", "partners", "studies" and "developing" count too."""

WEAK_WORDS = _word_set(
    """
    cell therapy treatment disease product clinical trial gene advanced medicinal human process
    """
)
"""Words that nearly every text of the field uses: shown only inside a multi-word term
("sickle cell disease"), never alone. Compared by stem."""

COMMON_SHARE = 0.5
"""A word in more than this share of the indexed texts is shown only inside a multi-word term."""

MIN_DOCUMENTS = 20
"""Below this many indexed texts, shares are too coarse to call a word common."""

LONGEST = 4
"""The most words in a shown multi-word term."""

_STEMMER = Stemmer.Stemmer("english")
# A word (as `matcher.text.words` finds them, with "in vivo" and the like kept whole), or a mark
# that ends a clause: anything but a letter, digit, space, apostrophe or a hyphen inside a word.
_TOKEN = re.compile(
    r"((?<![a-z0-9])(?:in|ex|de)\s+(?:vivo|vitro|situ|utero|novo|silico)(?![a-z0-9'-])"
    r"|[a-z0-9]+(?:[-'][a-z0-9]+)*)"
    r"|[^\w \t'-]|\s-+\s"
)
_NUMBER = re.compile(r"\d[\d.,]*(?:e\d+|x\d*|st|nd|rd|th|s|k)?")
_WITH_UNIT = re.compile(r"\d[\d.,]*([^\W\d_]+)")


def _stem(word: str) -> str:
    return str(_STEMMER.stemWord(word))


@functools.cache
def _stems() -> tuple[frozenset[str], frozenset[str]]:
    """The stems of FIELD_WORDS and of WEAK_WORDS (computed on first use, not at import)."""
    return frozenset(map(_stem, FIELD_WORDS)), frozenset(map(_stem, WEAK_WORDS))


def is_number(word: str) -> bool:
    """Digits ("10", "3x10", "1e6", "21st", "2027", "200ml"), number words, Roman numerals."""
    if word in NUMBER_WORDS or _NUMBER.fullmatch(word):
        return True
    with_unit = _WITH_UNIT.fullmatch(word)
    return bool(with_unit and with_unit.group(1) in UNITS)


def is_informative(word: str) -> bool:
    """Whether a lower-case word may be shown as a shared term at all: not a stop word, number,
    unit or generic field word, nor a single letter; a hyphenated word needs one such part."""
    if len(word) < 2 or word in STOP_WORDS or word in UNITS or is_number(word):
        return False
    if "-" in word and not any(is_informative(p) for p in word.split("-")):
        return False  # "18-34", "10-fold", "co-funding"
    return word not in FIELD_WORDS and _stem(word) not in _stems()[0]


@dataclass(frozen=True)
class _Word:
    key: str  # the stem, by which texts are compared
    surface: str
    parts: tuple[tuple[str, str], ...] = ()  # (stem, surface) of a hyphenated word's parts


def _classify(word: str) -> _Word | None:
    """The content word a token is, or None for a stop word, number, unit or generic word."""
    if " " in word:  # "in vivo"
        surface = " ".join(word.split())
        return _Word(surface, surface)
    if not is_informative(word):
        return None
    # A part counts alone ("cd19" of "cd19-directed") if it has three letters ("il" of "il-2" not).
    parts = [p for p in word.split("-") if len(p) > 2 and is_informative(p)] if "-" in word else []
    return _Word(_stem(word), word, tuple((_stem(p), p) for p in parts))


_classify_cached = functools.lru_cache(maxsize=1 << 15)(_classify)


def _runs(text: str) -> Iterator[list[_Word]]:
    """The text's runs of consecutive content words, in order."""
    run: list[_Word] = []
    for token in _TOKEN.findall(text.lower()):
        word = _classify_cached(token) if token else None
        if word is not None:
            run.append(word)
        elif run:
            yield run
            run = []
    if run:
        yield run


@dataclass
class _Query:
    """A text's content words (stem -> its surface, parts included), the parts of each whole
    word, its runs of 2 to LONGEST words (stems -> surface; first occurrence kept) and how often
    each run occurs."""

    words: dict[str, str] = field(default_factory=dict)
    parts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    grams: dict[tuple[str, ...], str] = field(default_factory=dict)
    counts: Counter[tuple[str, ...]] = field(default_factory=Counter)


@functools.lru_cache(maxsize=128)
def _query(text: str) -> _Query:
    query = _Query()
    for run in _runs(text):
        for word in run:
            query.words.setdefault(word.key, word.surface)
            query.parts.setdefault(word.key, tuple(key for key, _ in word.parts))
            for key, surface in word.parts:
                query.words.setdefault(key, surface)
        for n in range(2, min(LONGEST, len(run)) + 1):
            for start in range(len(run) - n + 1):
                gram = run[start : start + n]
                keys = tuple(w.key for w in gram)
                query.grams.setdefault(keys, " ".join(w.surface for w in gram))
                query.counts[keys] += 1
    return query


@dataclass
class _Lookup:
    """A query against one index: its words' ids there, and tables over the index's ids (the
    last slot stands for -1, a break) of the ids it holds at all and as whole words."""

    text: str
    query: _Query
    ids: dict[str, int]
    order: dict[int, int]
    anywhere: npt.NDArray[np.bool_]
    whole: npt.NDArray[np.bool_]


class TermIndex:
    """The content words of a fixed list of texts, in order; `shared(text, row)` gives the terms
    a text shares with text `row`, for a match to show. Row i is text i."""

    def fit(self, texts: Sequence[str]) -> TermIndex:
        vocab: dict[str, int] = {}
        seen: dict[str, tuple[int, list[int]]] = {"": (-1, [])}
        sequence: list[int] = []  # every text's content words in order, -1 between runs
        bag: list[int] = []  # every text's hyphenated words' parts
        sequence_at, bag_at = [0], [0]
        for text in texts:
            for token in _TOKEN.findall(text.lower()):
                entry = seen.get(token)
                if entry is None:
                    word = _classify(token)
                    entry = seen[token] = (
                        (
                            vocab.setdefault(word.key, len(vocab)),
                            [vocab.setdefault(key, len(vocab)) for key, _ in word.parts],
                        )
                        if word
                        else (-1, [])
                    )
                if entry[0] >= 0:
                    sequence.append(entry[0])
                    bag.extend(entry[1])
                elif sequence and sequence[-1] >= 0:
                    sequence.append(-1)
            sequence.append(-1)
            sequence_at.append(len(sequence))
            bag_at.append(len(bag))
        self.vocab_ = vocab
        self.keys_ = list(vocab)
        self.sequence_ = np.array(sequence, dtype=np.int32)
        self.bag_ = np.array(bag, dtype=np.int32)
        self.sequence_at_ = np.array(sequence_at, dtype=np.int64)
        self.bag_at_ = np.array(bag_at, dtype=np.int64)
        n = self.n_docs_ = len(texts)
        # Document frequency: each (text, word) pair once, words and parts together.
        rows = np.concatenate(
            [
                np.repeat(np.arange(n, dtype=np.int64), np.diff(self.sequence_at_)),
                np.repeat(np.arange(n, dtype=np.int64), np.diff(self.bag_at_)),
            ]
        )
        ids = np.concatenate([self.sequence_, self.bag_]).astype(np.int64)
        pairs = np.unique(rows[ids >= 0] * max(len(vocab), 1) + ids[ids >= 0])
        df = np.bincount(pairs % max(len(vocab), 1), minlength=len(vocab)).astype(np.float64)
        self.idf_ = np.log(1 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)
        common = df > COMMON_SHARE * n if n >= MIN_DOCUMENTS else np.zeros(len(vocab), bool)
        weak = np.array([k in _stems()[1] or k in WEAK_WORDS for k in self.keys_], dtype=bool)
        self.common_: npt.NDArray[np.bool_] = common | weak
        self._last: _Lookup | None = None
        return self

    def __len__(self) -> int:
        return self.n_docs_

    def common(self) -> list[str]:
        """The indexed words (stems) shown only inside multi-word terms: those in more than
        COMMON_SHARE of the texts, and WEAK_WORDS."""
        return [
            key for key, common in zip(self.keys_, self.common_.tolist(), strict=True) if common
        ]

    def _lookup(self, text: str) -> _Lookup:
        # The recommender asks about one text against each of its top k matches in turn.
        last = self._last
        if last is not None and last.text == text:
            return last
        query = _query(text)
        ids = {key: self.vocab_[key] for key in query.words if key in self.vocab_}
        anywhere = np.zeros(len(self.vocab_) + 1, dtype=bool)
        anywhere[list(ids.values())] = True
        whole = np.zeros(len(self.vocab_) + 1, dtype=bool)
        whole[[i for key, i in ids.items() if key in query.parts]] = True
        order = {i: n for n, i in enumerate(ids.values())}
        self._last = _Lookup(text, query, ids, order, anywhere, whole)
        return self._last

    def shared(self, text: str, row: int, limit: int = 6) -> list[str]:
        """The terms the text shares with text `row`, in the text's own words (lower case):
        multi-word terms first, then single words, rarest first; at most `limit`."""
        look = self._lookup(text)
        if not look.ids:
            return []
        words = self.sequence_[self.sequence_at_[row] : self.sequence_at_[row + 1]]
        parts = self.bag_[self.bag_at_[row] : self.bag_at_[row + 1]]
        held = np.concatenate([words[look.anywhere[words]], parts[look.anywhere[parts]]])
        if not len(held):
            return []
        query, idf, common = look.query, self.idf_, self.common_

        def meaning(keys: Iterable[str]) -> set[str]:
            """The words and parts that carry a term: common ones may recur across terms."""
            cover = {c for key in keys for c in (key, *query.parts.get(key, ()))}
            return {c for c in cover if c not in look.ids or not common[look.ids[c]]}

        out: list[str] = []
        covered: set[str] = set()
        for gram in self._grams(words[look.whole[words]], np.flatnonzero(look.whole[words]), look):
            if len(out) == limit:
                return out
            carried = meaning(gram)
            if carried and covered.isdisjoint(carried):
                out.append(query.grams[gram])
                covered |= carried
        singles = [int(i) for i in np.unique(held) if not common[i]]
        singles.sort(key=lambda i: (-float(idf[i]), look.order[i]))
        for i in singles:
            if len(out) == limit:
                break
            carried = meaning([self.keys_[i]])
            if covered.isdisjoint(carried):
                out.append(query.words[self.keys_[i]])
                covered |= carried
        return out

    def _grams(
        self, hits: npt.NDArray[np.int32], at: npt.NDArray[np.int64], look: _Lookup
    ) -> list[tuple[str, ...]]:
        """The query's runs of words found among the text's (`hits`, at positions `at`), the
        likeliest terms first: runs that one of the texts repeats (a term recurs; neighbours in
        a list of tags rarely do), then the longest, then the rarest."""
        found: Counter[tuple[str, ...]] = Counter()
        run: list[str] = []
        last = -2
        for i, position in zip(hits.tolist(), at.tolist(), strict=True):
            if position != last + 1:
                found.update(_grams_in(run, look.query.grams))
                run = []
            run.append(self.keys_[i])
            last = position
        found.update(_grams_in(run, look.query.grams))
        idf, vocab, counts = self.idf_, self.vocab_, look.query.counts
        return sorted(
            found,
            key=lambda g: (
                found[g] + counts[g] < 3,
                -len(g),
                -sum(float(idf[vocab[k]]) for k in g),
                g,
            ),
        )


def _grams_in(run: list[str], grams: dict[tuple[str, ...], str]) -> Iterator[tuple[str, ...]]:
    for n in range(2, min(LONGEST, len(run)) + 1):
        for start in range(len(run) - n + 1):
            gram = tuple(run[start : start + n])
            if gram in grams and len(set(gram)) == n:  # a repeat is two items of a list
                yield gram
