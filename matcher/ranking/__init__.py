"""Ranking: the features of a pair, the scorer and its calibration, the calls' status and
eligibility, and the reasons of a match."""

import typing as _typing

from .calibration import GOOD, STRONG, Calibration, Strength, strength_of
from .calls import CallBook, deadline_info, timing_of
from .collection import Collections, Loaded, Query
from .eligibility import Outcome, Rule, Verdict, assess
from .explain import Explainer
from .features import FEATURES
from .learning import MIN_JUDGEMENTS, MIN_PROJECTS, Learned, learn_from_feedback
from .lexical import LexicalIndex
from .reasons import DeadlineInfo, Reasons, SentencePair
from .scorer import DEFAULT_SCORER, LinearScorer, load_scorer, save_scorer
from .terms import (
    FIELD_WORDS,
    STOP_WORDS,
    UNITS,
    WEAK_WORDS,
    TermIndex,
    is_informative,
    is_number,
)
from .versions import RankerVersion, install_ranker, ranker_history, roll_back_ranker

if _typing.TYPE_CHECKING:
    from .ranker import Ranker


def __getattr__(name: str) -> _typing.Any:
    """`Ranker` imports scikit-learn, which only training needs: it is loaded when first asked
    for, so serving and the command line start without it."""
    if name == "Ranker":
        from .ranker import Ranker

        return Ranker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_SCORER",
    "FEATURES",
    "FIELD_WORDS",
    "GOOD",
    "MIN_JUDGEMENTS",
    "MIN_PROJECTS",
    "STOP_WORDS",
    "STRONG",
    "UNITS",
    "WEAK_WORDS",
    "Calibration",
    "CallBook",
    "Collections",
    "DeadlineInfo",
    "Explainer",
    "Learned",
    "LexicalIndex",
    "LinearScorer",
    "Loaded",
    "Outcome",
    "Query",
    "Ranker",
    "RankerVersion",
    "Reasons",
    "Rule",
    "SentencePair",
    "Strength",
    "TermIndex",
    "Verdict",
    "assess",
    "deadline_info",
    "install_ranker",
    "is_informative",
    "is_number",
    "learn_from_feedback",
    "load_scorer",
    "ranker_history",
    "roll_back_ranker",
    "save_scorer",
    "strength_of",
    "timing_of",
]
