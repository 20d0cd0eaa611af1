"""The tables, declared once. Alembic's revisions (alembic/versions) bring a database to them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

from .. import clock

REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006")
"""Alembic's revisions, oldest first: 0001 is release 0.2.0's schema as it stood (a database that
release made is stamped with it), 0002 keeps each fact once, 0003 adds feedback and the
pipeline, 0004 the weekly digest, 0005 the records of imported sources, 0006 which organisations
are one (entity resolution)."""
HEAD = REVISIONS[-1]


class Moment(TypeDecorator[dt.datetime]):
    """A UTC moment stored as text by the one codec (`matcher.clock`), on every database, so
    that comparing two stored moments compares their text."""

    impl = String(27)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> str | None:
        return None if value is None else clock.stamp(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> dt.datetime | None:
        return None if value is None else clock.parse(value)


metadata = MetaData()

entities = Table(
    "entities",
    metadata,
    # Named rowid since release 0.1 (SQLite's own row id): documents' ids are the vector ids.
    Column("rowid", Integer, primary_key=True),
    Column("id", String, nullable=False, unique=True),
    Column("kind", String, nullable=False),
    Column("name", String, nullable=False),
    Column("subkind", String),
    Column("visibility", String),
    # The rest of the record: what the columns above and `members` hold is left out of it.
    Column("record", Text, nullable=False),
    Column("content_hash", String, nullable=False),
    Column("stored_at", Moment, nullable=False),
    CheckConstraint("kind IN ('project', 'organisation', 'call')", name="entities_kind_check"),
    Index("entities_kind", "kind", "rowid"),
)

documents = Table(
    "documents",
    metadata,
    Column("rowid", Integer, primary_key=True),
    Column(
        "entity_rowid",
        Integer,
        ForeignKey("entities.rowid", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("position", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
    UniqueConstraint("entity_rowid", "position"),
)

embeddings = Table(
    "embeddings",
    metadata,
    Column("model", String, nullable=False),
    Column("hash", String, nullable=False),
    Column("vector", LargeBinary, nullable=False),
    PrimaryKeyConstraint("model", "hash"),
)

erasures = Table(
    "erasures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", Moment, nullable=False),
    Column("by", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("object_id", String, nullable=False),
)

members = Table(
    "members",
    metadata,
    Column(
        "entity_rowid",
        Integer,
        ForeignKey("entities.rowid", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("user", String, nullable=False),
    # A project's owner and team are these rows: the record holds neither.
    Column("owner", Boolean, nullable=False, server_default="0"),
    Column("team_position", Integer),
    # The erasure that ended the membership: the row stays while the project names the user.
    Column("ended_by", Integer, ForeignKey("erasures.id")),
    PrimaryKeyConstraint("entity_rowid", "user"),
    Index("members_user", "user"),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String, nullable=False, unique=True),
    Column("role", String, nullable=False),
    Column("organisation", String),
    Column("display_name", String, nullable=False, server_default=""),
    Column("password_hash", String),
    Column("disabled", Boolean, nullable=False, server_default="0"),
    Column("created_at", Moment, nullable=False),
    # Where the weekly digest goes; set by an admin (a user cannot point it elsewhere).
    Column("email", String),
    CheckConstraint("role IN ('admin', 'bizdev', 'researcher', 'guest')", name="users_role_check"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("secret_hash", String, nullable=False),
    Column("label", String, nullable=False, server_default=""),
    Column("created_at", Moment, nullable=False),
    Column("expires_at", Moment),
    Column("revoked_at", Moment),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("expires_at", Moment, nullable=False),
)

audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", Moment, nullable=False),
    Column("actor", String, nullable=False),
    Column("role", String, nullable=False),
    Column("action", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("object_id", String, nullable=False),
    Index("audit_object", "object_id", "at"),
)

meta = Table(
    "meta",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", Integer, nullable=False),
)

identity = Table(
    "identity",
    metadata,
    Column("one", Integer, primary_key=True, autoincrement=False),
    Column("id", String, nullable=False),
    CheckConstraint("one = 1", name="identity_one_check"),
)

hits = Table(
    "hits",
    metadata,
    # Counted requests and failures, shared by every server process (limits that each process
    # counted alone would be no limit behind a load balancer); `at` is in Unix seconds.
    Column("id", Integer, primary_key=True),
    Column("bucket", String, nullable=False),
    Column("at", Float, nullable=False),
    Index("hits_bucket", "bucket", "at"),
)

feedback = Table(
    "feedback",
    metadata,
    # A user's word on a pair; it goes with the user's erasure and with either entity's.
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column(
        "project_rowid", Integer, ForeignKey("entities.rowid", ondelete="CASCADE"), nullable=False
    ),
    Column(
        "candidate_rowid", Integer, ForeignKey("entities.rowid", ondelete="CASCADE"), nullable=False
    ),
    Column("verdict", String, nullable=False),
    Column("at", Moment, nullable=False),
    UniqueConstraint("user_id", "project_rowid", "candidate_rowid"),
    CheckConstraint(
        "verdict IN ('relevant', 'not_relevant', 'already_known')", name="feedback_verdict_check"
    ),
)

pipeline = Table(
    "pipeline",
    metadata,
    # One entry per pair across the hub; users are named by username, pseudonymised on erasure.
    Column("id", Integer, primary_key=True),
    Column(
        "project_rowid", Integer, ForeignKey("entities.rowid", ondelete="CASCADE"), nullable=False
    ),
    Column(
        "candidate_rowid", Integer, ForeignKey("entities.rowid", ondelete="CASCADE"), nullable=False
    ),
    Column("stage", String, nullable=False),
    Column("created_by", String, nullable=False),
    Column("created_at", Moment, nullable=False),
    Column("updated_at", Moment, nullable=False),
    UniqueConstraint("project_rowid", "candidate_rowid"),
)

pipeline_events = Table(
    "pipeline_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("entry_id", Integer, ForeignKey("pipeline.id", ondelete="CASCADE"), nullable=False),
    Column("stage", String, nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Column("by", String, nullable=False),
    Column("at", Moment, nullable=False),
    Index("pipeline_events_entry", "entry_id", "id"),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    # Secrets shared by every process of one hub (the digest's links are made by `matcher digest
    # send` and checked by the servers); made at random on first use.
    Column("name", String, primary_key=True),
    Column("secret", String, nullable=False),
    Column("created_at", Moment, nullable=False),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    # A user's digest choices; without a row, a user with an address gets every section.
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("subscribed", Boolean, nullable=False),
    Column("sections", String, nullable=False),
    Column("threshold", String, nullable=False),
    Column("updated_at", Moment, nullable=False),
    CheckConstraint("threshold IN ('strong', 'good')", name="subscriptions_threshold_check"),
)

bounces = Table(
    "bounces",
    metadata,
    # Addresses the mail system refused for good: no digest goes to them until cleared.
    Column("address", String, primary_key=True),
    Column("reason", Text, nullable=False),
    Column("at", Moment, nullable=False),
)

digest_sends = Table(
    "digest_sends",
    metadata,
    # One row per recipient and ISO week: the record that makes sending exactly once.
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("week", String(8), nullable=False),
    Column("state", String, nullable=False),
    Column("message_id", String, nullable=False),
    Column("address", String, nullable=False, server_default=""),
    # What the message shows (JSON): marked seen once it is known to be delivered.
    Column("items", Text, nullable=False, server_default="[]"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("detail", Text, nullable=False, server_default=""),
    Column("updated_at", Moment, nullable=False),
    UniqueConstraint("user_id", "week"),
    CheckConstraint(
        "state IN ('composed', 'sending', 'sent', 'empty', 'unsubscribed', 'bounced', 'failed', "
        "'uncertain', 'cancelled')",
        name="digest_sends_state_check",
    ),
)

digest_seen = Table(
    "digest_seen",
    metadata,
    # What a user's earlier digests showed: not shown again (unless a deadline is close). The
    # entity columns make an erased project or partner go with its rows.
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("key", String, nullable=False),
    Column("week", String(8), nullable=False),
    Column("project_rowid", Integer, ForeignKey("entities.rowid", ondelete="CASCADE")),
    Column("candidate_rowid", Integer, ForeignKey("entities.rowid", ondelete="CASCADE")),
    PrimaryKeyConstraint("user_id", "key"),
)

source_records = Table(
    "source_records",
    metadata,
    # Which entity each record of an imported source became: a re-import is keyed on the
    # source's own id, and a record gone from a source's latest snapshot is marked, not deleted.
    Column("source", String, nullable=False),
    Column("source_id", String, nullable=False),
    Column(
        "entity_rowid", Integer, ForeignKey("entities.rowid", ondelete="CASCADE"), nullable=False
    ),
    Column("first_seen", Moment, nullable=False),
    Column("last_seen", Moment, nullable=False),
    Column("absent_since", Moment),
    PrimaryKeyConstraint("source", "source_id"),
    Index("source_records_entity", "entity_rowid"),
)

org_clusters = Table(
    "org_clusters",
    metadata,
    # The latest resolution: each organisation that is one with others, and its canonical one.
    Column(
        "member_rowid", Integer, ForeignKey("entities.rowid", ondelete="CASCADE"), primary_key=True
    ),
    Column(
        "canonical_rowid", Integer, ForeignKey("entities.rowid", ondelete="CASCADE"), nullable=False
    ),
    Column("confidence", Float, nullable=False),
    Column("why", Text, nullable=False, server_default=""),
    Column("at", Moment, nullable=False),
)

org_decisions = Table(
    "org_decisions",
    metadata,
    # A person's word on a pair of organisations: the same one, or different ones (a split).
    Column("a_rowid", Integer, ForeignKey("entities.rowid", ondelete="CASCADE"), nullable=False),
    Column("b_rowid", Integer, ForeignKey("entities.rowid", ondelete="CASCADE"), nullable=False),
    Column("same", Boolean, nullable=False),
    Column("by", String, nullable=False),
    Column("at", Moment, nullable=False),
    PrimaryKeyConstraint("a_rowid", "b_rowid"),
)
