"""Ranking: the features of a pair, the scorer and its calibration, the calls' status and
eligibility, and the reasons of a match."""

from .calibration import GOOD, STRONG, Calibration, Strength, strength_of
from .calls import CallBook, deadline_info, timing_of
from .collection import Collections, Loaded, Query
from .eligibility import Outcome, Rule, Verdict, assess
from .explain import Explainer
from .features import FEATURES
from .lexical import LexicalIndex
from .reasons import DeadlineInfo, Reasons, SentencePair
from .scorer import DEFAULT_SCORER, LinearScorer, Ranker, load_scorer, save_scorer
from .terms import (
    FIELD_WORDS,
    STOP_WORDS,
    UNITS,
    WEAK_WORDS,
    TermIndex,
    is_informative,
    is_number,
)

__all__ = [
    "DEFAULT_SCORER",
    "FEATURES",
    "FIELD_WORDS",
    "GOOD",
    "STOP_WORDS",
    "STRONG",
    "UNITS",
    "WEAK_WORDS",
    "Calibration",
    "CallBook",
    "Collections",
    "DeadlineInfo",
    "Explainer",
    "LexicalIndex",
    "LinearScorer",
    "Loaded",
    "Outcome",
    "Query",
    "Ranker",
    "Reasons",
    "Rule",
    "SentencePair",
    "Strength",
    "TermIndex",
    "Verdict",
    "assess",
    "deadline_info",
    "is_informative",
    "is_number",
    "load_scorer",
    "save_scorer",
    "strength_of",
    "timing_of",
]
