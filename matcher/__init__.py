"""Partner and funding-call matching for an ATMP translational hub: the library."""

from .build import BuildProgress, KindReport, build_indexes, index_dir
from .domain import (
    Budget,
    CallStatus,
    Deadline,
    Document,
    Eligibility,
    Entity,
    EntityKind,
    FundingCall,
    Modality,
    Need,
    Organisation,
    OrgKind,
    Project,
    Stage,
    Visibility,
)
from .eligibility import Outcome, Verdict, assess
from .embedding import DocumentEncoder, Embedder, SentenceTransformerEmbedder, resolve_model
from .errors import (
    ConfigError,
    IndexNotBuilt,
    InvalidQuery,
    InvalidRecord,
    MatcherError,
    ModelLoadError,
    NotFound,
    StaleIndex,
    StoreError,
)
from .features import FEATURES
from .index import Manifest, VectorIndex, read_manifest
from .ingest import LoadReport, load_directory, read_directory
from .lexical import LexicalIndex
from .ranking import DEFAULT_SCORER, LinearScorer, Ranker, load_scorer, save_scorer
from .reasons import DeadlineInfo, Reasons, SentencePair
from .recommender import Match, Recommender, Target, ranker_path
from .records import parse_call, parse_organisation, parse_project, to_record
from .settings import DEFAULT_MODEL, Settings
from .store import Store, UpsertReport

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_SCORER",
    "FEATURES",
    "Budget",
    "BuildProgress",
    "CallStatus",
    "ConfigError",
    "Deadline",
    "DeadlineInfo",
    "Document",
    "DocumentEncoder",
    "Eligibility",
    "Embedder",
    "Entity",
    "EntityKind",
    "FundingCall",
    "IndexNotBuilt",
    "InvalidQuery",
    "InvalidRecord",
    "KindReport",
    "LexicalIndex",
    "LinearScorer",
    "LoadReport",
    "Manifest",
    "Match",
    "MatcherError",
    "Modality",
    "ModelLoadError",
    "Need",
    "NotFound",
    "OrgKind",
    "Organisation",
    "Outcome",
    "Project",
    "Ranker",
    "Reasons",
    "Recommender",
    "SentencePair",
    "SentenceTransformerEmbedder",
    "Settings",
    "Stage",
    "StaleIndex",
    "Store",
    "StoreError",
    "Target",
    "UpsertReport",
    "VectorIndex",
    "Verdict",
    "Visibility",
    "__version__",
    "assess",
    "build_indexes",
    "index_dir",
    "load_directory",
    "load_scorer",
    "parse_call",
    "parse_organisation",
    "parse_project",
    "ranker_path",
    "read_directory",
    "read_manifest",
    "resolve_model",
    "save_scorer",
    "to_record",
]
