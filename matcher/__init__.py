"""Partner and funding-call matching for an ATMP translational hub: the library."""

import typing as _typing

from .access.accounts import (
    authenticate,
    create_user,
    issue_key,
    login,
    logout,
    revoke_key,
    session_principal,
    set_password,
    update_user,
)
from .access.erasure import erase, erased_ids, erasure_ledger, ledger_path, read_ledger, replay
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
from .errors import (
    ConfigError,
    Conflict,
    ForeignIndex,
    IndexNotBuilt,
    InvalidQuery,
    InvalidRecord,
    InvalidRecords,
    MatcherError,
    ModelLoadError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    StaleIndex,
    StoreError,
)
from .ingest import LoadReport, load_directory, read_directory
from .matches import ALL_STATUSES, NO_PROFILE, Match, Profile, Ranking, Target
from .ranking.calibration import GOOD, STRONG, Calibration, Strength, strength_of
from .ranking.calls import deadline_info, timing_of
from .ranking.eligibility import Outcome, Rule, Verdict, assess
from .ranking.features import FEATURES
from .ranking.lexical import LexicalIndex
from .ranking.reasons import DeadlineInfo, Reasons, SentencePair
from .ranking.scorer import DEFAULT_SCORER, LinearScorer, load_scorer, save_scorer
from .ranking.terms import (
    FIELD_WORDS,
    STOP_WORDS,
    UNITS,
    WEAK_WORDS,
    TermIndex,
    is_informative,
    is_number,
)
from .recommender import Recommender, calibration_path, ranker_path
from .records import parse_call, parse_organisation, parse_project, to_record
from .roles import (
    LOCAL_OPERATOR,
    PERMISSIONS,
    Action,
    ApiKey,
    AuditEntry,
    Erasure,
    Principal,
    Role,
    Scope,
    User,
)
from .settings import DEFAULT_MODEL, Settings
from .store import Store, UpsertReport
from .vectors.embedding import DocumentEncoder, Embedder, SentenceTransformerEmbedder, resolve_model
from .vectors.index import Manifest, VectorIndex, read_manifest
from .view import CallRecord, ExportRow, Gate, ListPage, Page, ProjectRecord, View, require_admin

if _typing.TYPE_CHECKING:
    from .ranking.ranker import Ranker


def __getattr__(name: str) -> _typing.Any:
    """`Ranker` imports scikit-learn, which only training needs: it is loaded when first asked
    for, so serving and the command line start without it."""
    if name == "Ranker":
        from .ranking.ranker import Ranker

        return Ranker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__version__ = "0.2.0"

__all__ = [
    "ALL_STATUSES",
    "DEFAULT_MODEL",
    "DEFAULT_SCORER",
    "FEATURES",
    "FIELD_WORDS",
    "GOOD",
    "LOCAL_OPERATOR",
    "NO_PROFILE",
    "PERMISSIONS",
    "STOP_WORDS",
    "STRONG",
    "UNITS",
    "WEAK_WORDS",
    "Action",
    "ApiKey",
    "AuditEntry",
    "Budget",
    "BuildProgress",
    "Calibration",
    "CallRecord",
    "CallStatus",
    "ConfigError",
    "Conflict",
    "Deadline",
    "DeadlineInfo",
    "Document",
    "DocumentEncoder",
    "Eligibility",
    "Embedder",
    "Entity",
    "EntityKind",
    "Erasure",
    "ExportRow",
    "ForeignIndex",
    "FundingCall",
    "Gate",
    "IndexNotBuilt",
    "InvalidQuery",
    "InvalidRecord",
    "InvalidRecords",
    "KindReport",
    "LexicalIndex",
    "LinearScorer",
    "ListPage",
    "LoadReport",
    "Manifest",
    "Match",
    "MatcherError",
    "Modality",
    "ModelLoadError",
    "Need",
    "NotAuthenticated",
    "NotFound",
    "OrgKind",
    "Organisation",
    "Outcome",
    "Page",
    "PermissionDenied",
    "Principal",
    "Profile",
    "Project",
    "ProjectRecord",
    "Ranker",
    "Ranking",
    "Reasons",
    "Recommender",
    "Role",
    "Rule",
    "Scope",
    "SentencePair",
    "SentenceTransformerEmbedder",
    "Settings",
    "Stage",
    "StaleIndex",
    "Store",
    "StoreError",
    "Strength",
    "Target",
    "TermIndex",
    "UpsertReport",
    "User",
    "VectorIndex",
    "Verdict",
    "View",
    "Visibility",
    "__version__",
    "assess",
    "authenticate",
    "build_indexes",
    "calibration_path",
    "create_user",
    "deadline_info",
    "erase",
    "erased_ids",
    "erasure_ledger",
    "index_dir",
    "is_informative",
    "is_number",
    "issue_key",
    "ledger_path",
    "load_directory",
    "load_scorer",
    "login",
    "logout",
    "parse_call",
    "parse_organisation",
    "parse_project",
    "ranker_path",
    "read_directory",
    "read_ledger",
    "read_manifest",
    "replay",
    "require_admin",
    "resolve_model",
    "revoke_key",
    "save_scorer",
    "session_principal",
    "set_password",
    "strength_of",
    "timing_of",
    "to_record",
    "update_user",
]
