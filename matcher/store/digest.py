"""The weekly digest's part of the store: addresses and choices, bounced addresses, the signing
key of the digest's links, one send record per recipient and week, and what was shown."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import secrets
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update

from .. import clock
from ..digest.model import (
    Recipient,
    SectionKey,
    SendRecord,
    SendState,
    Subscription,
    Threshold,
)
from ..domain import EntityKind
from ..errors import NotFound
from ..roles import Role, Scope
from .engine import Database, lock_file
from .entities import visible
from .schema import (
    bounces,
    digest_seen,
    digest_sends,
    entities,
    signing_keys,
    subscriptions,
    users,
)
from .users import user_id_of

DIGEST_LOCK = 2_026_120_104
"""PostgreSQL advisory lock (with the week as second key) held by one digest batch at a time."""


class Digests(Database):
    """The digest's part of the store."""

    # ------------------------------------------------------------------ addresses and choices

    def set_email(self, username: str, email: str | None) -> None:
        """Set (or clear, with None) where a user's digest goes. Raises NotFound."""
        with self.write() as db:
            user_id = user_id_of(db, username)
            db.execute(update(users).where(users.c.id == user_id).values(email=email))

    def subscription(self, username: str) -> Subscription:
        """Raises NotFound."""
        with self.read() as db:
            user_id = user_id_of(db, username)
            row = db.execute(
                select(subscriptions).where(subscriptions.c.user_id == user_id)
            ).first()
        return Subscription() if row is None else _subscription(row)

    def set_subscription(self, username: str, subscription: Subscription) -> None:
        """Raises NotFound."""
        with self.write() as db:
            self._subscribe(db, user_id_of(db, username), subscription)

    def unsubscribe(self, user_id: int) -> bool:
        """Unsubscribe a user by id (a signed link's holder); False when no such user. Doing it
        twice is the same as doing it once."""
        with self.write() as db:
            if db.execute(select(users.c.id).where(users.c.id == user_id)).first() is None:
                return False
            row = db.execute(
                select(subscriptions).where(subscriptions.c.user_id == user_id)
            ).first()
            current = Subscription() if row is None else _subscription(row)
            if current.subscribed or row is None:
                chosen = Subscription(False, current.sections, current.threshold)
                self._subscribe(db, user_id, chosen)
        return True

    @staticmethod
    def _subscribe(db: Any, user_id: int, subscription: Subscription) -> None:
        values = {
            "subscribed": subscription.subscribed,
            "sections": ",".join(sorted(subscription.sections)),
            "threshold": subscription.threshold.value,
            "updated_at": clock.now(),
        }
        s = subscriptions.c
        if db.execute(update(subscriptions).where(s.user_id == user_id).values(**values)).rowcount:
            return
        db.execute(insert(subscriptions).values(user_id=user_id, **values))

    def recipients(self, usernames: Iterable[str] | None = None) -> list[Recipient]:
        """Enabled users with an address (of these names, when given), in id order, with their
        choices; subscribed or not (the sender reports those who are not)."""
        u, s = users.c, subscriptions.c
        query = (
            select(u.id, u.username, u.role, u.organisation, u.display_name, u.email, subscriptions)
            .join_from(users, subscriptions, s.user_id == u.id, isouter=True)
            .where(u.disabled.is_(False), u.email.is_not(None), u.email != "")
            .order_by(u.id)
        )
        if usernames is not None:
            query = query.where(u.username.in_(sorted(set(usernames))))
        with self.read() as db:
            rows = db.execute(query).all()
        return [
            Recipient(
                int(r.id),
                r.username,
                Role(r.role),
                r.organisation,
                r.display_name,
                r.email,
                Subscription() if r.subscribed is None else _subscription(r),
            )
            for r in rows
        ]

    # ------------------------------------------------------------------ bounces

    def bounce(self, address: str, reason: str) -> None:
        """Record that mail to an address is refused for good."""
        key = address.strip().lower()
        with self.write() as db:
            db.execute(delete(bounces).where(bounces.c.address == key))
            db.execute(insert(bounces).values(address=key, reason=reason, at=clock.now()))

    def bounced(self, address: str) -> str | None:
        """Why an address bounced; None when it did not."""
        with self.read() as db:
            return db.execute(
                select(bounces.c.reason).where(bounces.c.address == address.strip().lower())
            ).scalar()

    def clear_bounce(self, address: str) -> bool:
        with self.write() as db:
            key = address.strip().lower()
            return bool(db.execute(delete(bounces).where(bounces.c.address == key)).rowcount)

    # ------------------------------------------------------------------ signing key

    def signing_key(self, name: str) -> bytes:
        """A secret shared by every process of this hub, made at random on first use."""
        with self.read() as db:
            found = db.execute(
                select(signing_keys.c.secret).where(signing_keys.c.name == name)
            ).scalar()
        if found is None:
            with self.write() as db:
                found = db.execute(
                    select(signing_keys.c.secret).where(signing_keys.c.name == name)
                ).scalar()
                if found is None:
                    found = secrets.token_urlsafe(48)
                    db.execute(
                        insert(signing_keys).values(name=name, secret=found, created_at=clock.now())
                    )
        return str(found).encode()

    # ------------------------------------------------------------------ what was shown

    def seen(self, username: str) -> frozenset[str]:
        """The keys of what the user's delivered digests showed."""
        query = (
            select(digest_seen.c.key)
            .join_from(digest_seen, users, users.c.id == digest_seen.c.user_id)
            .where(users.c.username == username)
        )
        with self.read() as db:
            return frozenset(db.execute(query).scalars())

    def last_delivered(self, username: str) -> dt.datetime | None:
        """When the user's latest digest was delivered (or decided delivered)."""
        d = digest_sends.c
        query = (
            select(func.max(d.updated_at))
            .join_from(digest_sends, users, users.c.id == d.user_id)
            .where(users.c.username == username, d.state == SendState.SENT.value)
        )
        with self.read() as db:
            found: dt.datetime | None = db.execute(query).scalar()
        return found

    def added_since(self, kind: EntityKind, scope: Scope, since: dt.datetime) -> list[str]:
        """Ids of this kind in scope stored (or changed) after a moment, oldest first."""
        e = entities.c
        query = (
            select(e.id)
            .where(e.kind == kind.value, visible(kind, scope), e.stored_at > since)
            .order_by(e.stored_at, e.rowid)
        )
        with self.read() as db:
            return list(db.execute(query).scalars())

    # ------------------------------------------------------------------ sending

    @contextlib.contextmanager
    def digest_batch(self, week: str) -> Iterator[None]:
        """Held by one digest batch of a week at a time, across processes and hosts: a second
        batch waits here, then finds what the first did."""
        if self.path is not None:
            with open(lock_file(self.path, f"digest-{week}"), "a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
            return
        second = zlib.crc32(week.encode()) & 0x7FFFFFFF
        with self._engine.connect() as connection:
            connection.execute(select(func.pg_advisory_lock(DIGEST_LOCK, second)))
            connection.commit()
            try:
                yield
            finally:
                connection.execute(select(func.pg_advisory_unlock(DIGEST_LOCK, second)))
                connection.commit()

    def send_record(self, username: str, week: str) -> SendRecord | None:
        found = self.send_records(week, [username])
        return found[0] if found else None

    def send_records(self, week: str, usernames: Iterable[str] | None = None) -> list[SendRecord]:
        """The week's send records (of these users, when given), in user order."""
        d = digest_sends.c
        query = (
            select(users.c.username, digest_sends)
            .join_from(digest_sends, users, users.c.id == d.user_id)
            .where(d.week == week)
            .order_by(d.user_id)
        )
        if usernames is not None:
            query = query.where(users.c.username.in_(sorted(set(usernames))))
        with self.read() as db:
            return [_record(r) for r in db.execute(query).all()]

    def set_send(
        self,
        user_id: int,
        week: str,
        state: SendState,
        *,
        message_id: str = "",
        address: str = "",
        items: Iterable[str] | None = None,
        detail: str = "",
        attempt: bool = False,
    ) -> None:
        """Record where a recipient's digest of a week stands, in one transaction; when it is
        SENT, what it showed is marked as shown to them in the same transaction."""
        d = digest_sends.c
        with self.write() as db:
            row = db.execute(
                select(digest_sends).where(d.user_id == user_id, d.week == week)
            ).first()
            values: dict[str, Any] = {"state": state.value, "updated_at": clock.now()}
            values["detail"] = detail
            if message_id:
                values["message_id"] = message_id
            if address:
                values["address"] = address
            if items is not None:
                values["items"] = json.dumps(list(items))
            if row is None:
                values.setdefault("message_id", "")
                values["attempts"] = int(attempt)
                db.execute(insert(digest_sends).values(user_id=user_id, week=week, **values))
            else:
                values["attempts"] = int(row.attempts) + int(attempt)
                db.execute(update(digest_sends).where(d.id == row.id).values(**values))
            if state is SendState.SENT:
                shown = values.get("items") or (row.items if row is not None else "[]")
                _mark_seen(db, user_id, week, json.loads(shown))

    def resolve(self, username: str, week: str, state: SendState, by: str) -> SendRecord:
        """A person's decision on an uncertain (or failed) send: SENT (it arrived: what it
        showed counts as shown), CANCELLED (leave it), or COMPOSED (send it again on the next
        run). Raises NotFound."""
        record = self.send_record(username, week)
        if record is None:
            raise NotFound("digest send", f"{username} {week}")
        with self.read() as db:
            user_id = user_id_of(db, username)
        self.set_send(user_id, week, state, detail=f"decided {state.value} by {by}")
        found = self.send_record(username, week)
        if found is None:  # the user was erased meanwhile
            raise NotFound("digest send", f"{username} {week}")
        return found


def _mark_seen(db: Any, user_id: int, week: str, keys: list[str]) -> None:
    if not keys:
        return
    known = set(
        db.execute(
            select(digest_seen.c.key).where(
                digest_seen.c.user_id == user_id, digest_seen.c.key.in_(keys)
            )
        ).scalars()
    )
    ids = {part for key in keys for part in _entity_ids(key)}
    rowids = dict(
        db.execute(select(entities.c.id, entities.c.rowid).where(entities.c.id.in_(ids))).all()
    )
    rows = []
    for key in dict.fromkeys(keys):
        if key in known:
            continue
        project, candidate = _entity_ids(key)
        if (project and project not in rowids) or (candidate and candidate not in rowids):
            continue  # erased since: nothing of it is kept
        rows.append(
            {
                "user_id": user_id,
                "key": key,
                "week": week,
                "project_rowid": rowids.get(project) if project else None,
                "candidate_rowid": rowids.get(candidate) if candidate else None,
            }
        )
    if rows:
        db.execute(insert(digest_seen), rows)


def _entity_ids(key: str) -> tuple[str | None, str | None]:
    parts = key.split("|")
    if len(parts) < 3:
        return None, None
    return parts[1] or None, parts[2] or None


def forget_address(db: Any, address: str | None) -> None:
    """Drop a bounced address (a user's erasure takes it with them)."""
    if address:
        db.execute(delete(bounces).where(bounces.c.address == address.strip().lower()))


def _subscription(row: Row[Any]) -> Subscription:
    known = {k.value for k in SectionKey}
    return Subscription(
        bool(row.subscribed),
        frozenset(SectionKey(s) for s in str(row.sections).split(",") if s in known),
        Threshold(row.threshold),
    )


def _record(row: Row[Any]) -> SendRecord:
    return SendRecord(
        row.username,
        row.week,
        SendState(row.state),
        row.message_id,
        row.address,
        int(row.attempts),
        row.detail,
        row.updated_at,
        tuple(json.loads(row.items or "[]")),
    )
