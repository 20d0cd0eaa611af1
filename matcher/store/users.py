"""Users, their API keys and sign-in sessions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from .. import clock
from ..errors import Conflict, NotFound
from ..roles import ApiKey, Role, User
from .engine import Database
from .schema import api_keys, sessions, users

_USER = select(
    users.c.id,
    users.c.username,
    users.c.role,
    users.c.organisation,
    users.c.display_name,
    users.c.created_at,
    users.c.disabled,
    users.c.email,
)
_KEY = select(
    api_keys.c.key_id,
    users.c.username,
    api_keys.c.label,
    api_keys.c.created_at,
    api_keys.c.expires_at,
    api_keys.c.revoked_at,
).join_from(api_keys, users, users.c.id == api_keys.c.user_id)


class Users(Database):
    """The accounts' part of the store."""

    def add_user(
        self,
        username: str,
        role: Role,
        organisation: str | None = None,
        display_name: str = "",
        password_hash: str | None = None,
    ) -> User:
        """Raises Conflict when the username is taken."""
        with self.write() as db:
            if db.execute(select(users.c.id).where(users.c.username == username)).first():
                raise Conflict(f"A user named {username!r} exists already.")
            # To the microsecond: `matcher erase --replay` tells a later account of the same
            # name from the one a ledger entry erased by this time (erasure.py).
            db.execute(
                insert(users).values(
                    username=username,
                    role=role.value,
                    organisation=organisation,
                    display_name=display_name,
                    password_hash=password_hash,
                    created_at=clock.now(),
                )
            )
        return self.user(username)

    def user(self, username: str) -> User:
        """Raises NotFound."""
        with self.read() as db:
            row = db.execute(_USER.where(users.c.username == username)).first()
        if row is None:
            raise NotFound("user", username)
        return _user(row)

    def user_by_id(self, user_id: int) -> User:
        """Raises NotFound."""
        with self.read() as db:
            row = db.execute(_USER.where(users.c.id == user_id)).first()
        if row is None:
            raise NotFound("user", str(user_id))
        return _user(row)

    def users(self) -> list[User]:
        with self.read() as db:
            return [_user(r) for r in db.execute(_USER.order_by(users.c.id)).all()]

    def password_hash(self, username: str) -> str | None:
        query = select(users.c.password_hash).where(
            users.c.username == username, users.c.disabled.is_(False)
        )
        with self.read() as db:
            return db.execute(query).scalar()

    def set_password(self, username: str, password_hash: str) -> None:
        """Closes the user's sessions."""
        with self.write() as db:
            user_id = user_id_of(db, username)
            db.execute(
                update(users).where(users.c.id == user_id).values(password_hash=password_hash)
            )
            db.execute(delete(sessions).where(sessions.c.user_id == user_id))

    def update_user(
        self,
        username: str,
        role: Role,
        organisation: str | None,
        display_name: str,
        disabled: bool,
    ) -> User:
        """Replace a user's role, organisation, name and state. Disabling (or changing the role)
        closes their sessions; their keys stop working while they are disabled."""
        with self.write() as db:
            user_id = user_id_of(db, username)
            db.execute(
                update(users)
                .where(users.c.id == user_id)
                .values(
                    role=role.value,
                    organisation=organisation,
                    display_name=display_name,
                    disabled=disabled,
                )
            )
            db.execute(delete(sessions).where(sessions.c.user_id == user_id))
        return self.user(username)

    def add_key(
        self,
        username: str,
        key_id: str,
        secret_hash: str,
        label: str,
        expires_at: dt.datetime | None,
    ) -> ApiKey:
        with self.write() as db:
            db.execute(
                insert(api_keys).values(
                    key_id=key_id,
                    user_id=user_id_of(db, username),
                    secret_hash=secret_hash,
                    label=label,
                    created_at=clock.now(),
                    expires_at=expires_at,
                )
            )
        return next(k for k in self.keys(username) if k.key_id == key_id)

    def keys(self, username: str) -> list[ApiKey]:
        """A user's keys, revoked and expired ones included. Raises NotFound."""
        with self.read() as db:
            user_id_of(db, username)
            rows = db.execute(
                _KEY.where(users.c.username == username).order_by(
                    api_keys.c.created_at, api_keys.c.key_id
                )
            ).all()
        return [_key(r) for r in rows]

    def revoke_key(self, username: str, key_id: str) -> ApiKey:
        """Raises NotFound when the user has no key with this id."""
        owner = select(users.c.id).where(users.c.username == username).scalar_subquery()
        with self.write() as db:
            changed = db.execute(
                update(api_keys)
                .where(api_keys.c.key_id == key_id, api_keys.c.user_id == owner)
                .values(revoked_at=func.coalesce(api_keys.c.revoked_at, clock.stamp(clock.now())))
            ).rowcount
        if not changed:
            raise NotFound("key", key_id)
        return next(k for k in self.keys(username) if k.key_id == key_id)

    def key_holder(self, key_id: str) -> tuple[ApiKey, str, User] | None:
        """The key with this id, its secret's digest and its enabled user; None when unknown."""
        with self.read() as db:
            row = db.execute(
                _KEY.add_columns(api_keys.c.secret_hash, users.c.id).where(
                    api_keys.c.key_id == key_id, users.c.disabled.is_(False)
                )
            ).first()
            if row is None:
                return None
            user = db.execute(_USER.where(users.c.id == row.id)).one()
        return _key(row), row.secret_hash, _user(user)

    def add_session(self, username: str, token_hash: str, expires_at: dt.datetime) -> None:
        with self.write() as db:
            user_id = user_id_of(db, username)
            db.execute(delete(sessions).where(sessions.c.expires_at <= clock.now()))
            db.execute(
                insert(sessions).values(
                    token_hash=token_hash, user_id=user_id, expires_at=expires_at
                )
            )

    def session_user(self, token_hash: str) -> User | None:
        """The enabled user of an unexpired session."""
        holder = (
            select(sessions.c.user_id)
            .where(sessions.c.token_hash == token_hash, sessions.c.expires_at > clock.now())
            .scalar_subquery()
        )
        with self.read() as db:
            row = db.execute(_USER.where(users.c.disabled.is_(False), users.c.id == holder)).first()
        return None if row is None else _user(row)

    def drop_session(self, token_hash: str) -> None:
        with self.write() as db:
            db.execute(delete(sessions).where(sessions.c.token_hash == token_hash))


def user_id_of(db: Connection, username: str) -> int:
    """Raises NotFound."""
    found = db.execute(select(users.c.id).where(users.c.username == username)).scalar()
    if found is None:
        raise NotFound("user", username)
    return int(found)


def _user(row: Row[*tuple[Any, ...]]) -> User:
    return User(
        row.id,
        row.username,
        Role(row.role),
        row.organisation,
        row.display_name,
        row.created_at,
        bool(row.disabled),
        row.email,
    )


def _key(row: Row[*tuple[Any, ...]]) -> ApiKey:
    return ApiKey(
        row.key_id, row.username, row.label, row.created_at, row.expires_at, row.revoked_at
    )
