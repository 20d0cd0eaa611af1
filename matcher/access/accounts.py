"""Users, API keys and login sessions: creating them, and turning presented secrets into a
Principal. Failed checks all raise the same NotAuthenticated, whatever the cause."""

from __future__ import annotations

import datetime as dt
import re

from .. import clock
from ..domain import EntityKind
from ..errors import InvalidQuery, NotAuthenticated
from ..roles import ApiKey, Principal, Role, User
from ..store import ERASED_USER, Store
from .credentials import (
    check_password,
    digest,
    hash_password,
    new_key,
    new_token,
    same_digest,
    split_key,
)

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
SESSION_HOURS = 12
_REFUSED = (
    "The API key is not valid: it is unknown, revoked or expired. Ask an admin for a new one."
)


def create_user(
    store: Store,
    username: str,
    role: Role,
    organisation: str | None = None,
    display_name: str = "",
    password: str | None = None,
) -> User:
    """Add a user. A guest names the organisation whose record they may read; nobody else does.
    A username once erased may be given again: the new account starts with nothing (store.py).
    Raises InvalidQuery, NotFound (organisation) or Conflict (username taken)."""
    if not USERNAME.match(username):
        raise InvalidQuery(
            f"Username {username!r} is not valid: 2-64 characters, lower-case letters, digits "
            "and . _ @ -, starting with a letter or digit."
        )
    if username.startswith(ERASED_USER):
        raise InvalidQuery(
            f"Username {username!r} is reserved: the audit log names erased users "
            f"{ERASED_USER}N. Choose another name."
        )
    _check_organisation(store, role, organisation)
    hashed = hash_password(password) if password else None
    return store.add_user(username, role, organisation, display_name, hashed)


def update_user(
    store: Store,
    username: str,
    *,
    role: Role | None = None,
    organisation: str | None = None,
    display_name: str | None = None,
    disabled: bool | None = None,
) -> User:
    """Change what is given, keep the rest. A guest keeps or names an organisation; another role
    drops it. Raises NotFound or InvalidQuery."""
    user = store.user(username)
    role = role or user.role
    if role is Role.GUEST:
        organisation = organisation or user.organisation
    _check_organisation(store, role, organisation)
    return store.update_user(
        username,
        role,
        organisation,
        user.display_name if display_name is None else display_name,
        user.disabled if disabled is None else disabled,
    )


def _check_organisation(store: Store, role: Role, organisation: str | None) -> None:
    if role is Role.GUEST:
        if not organisation:
            raise InvalidQuery(
                "A guest user needs an organisation: the id of their organisation's record."
            )
        store.get(organisation, EntityKind.ORGANISATION)
    elif organisation:
        raise InvalidQuery("Only guest users are tied to an organisation.")


def issue_key(
    store: Store, username: str, label: str = "", expires_in_days: int | None = None
) -> tuple[ApiKey, str]:
    """A new key for a user: its stored description and the key itself, which is never shown
    again. Raises NotFound."""
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise InvalidQuery(f"expires_in_days={expires_in_days} must lie between 1 and 3650.")
    key = new_key()
    expires = clock.now() + dt.timedelta(days=expires_in_days) if expires_in_days else None
    return store.add_key(username, key.key_id, key.secret_hash, label, expires), key.key


def authenticate(store: Store, key: str, now: dt.datetime | None = None) -> Principal:
    """The principal behind an API key. Raises NotAuthenticated."""
    key_id, secret = split_key(key)
    found = store.key_holder(key_id)
    if found is None:
        same_digest(secret, "0" * 64)  # the same work as for a known key
        raise NotAuthenticated(_REFUSED)
    api_key, stored, user = found
    if not same_digest(secret, stored) or not api_key.active(now or clock.now()):
        raise NotAuthenticated(_REFUSED)
    return user.principal


def login(store: Store, username: str, password: str) -> tuple[str, dt.datetime]:
    """A session token for a username and password, and when it expires. Raises
    NotAuthenticated."""
    if not check_password(password, store.password_hash(username)):
        raise NotAuthenticated("Unknown username or wrong password.")
    token, hashed = new_token()
    expires = clock.now() + dt.timedelta(hours=SESSION_HOURS)
    store.add_session(username, hashed, expires)
    return token, expires


def session_principal(store: Store, token: str) -> Principal:
    """The principal of an unexpired session. Raises NotAuthenticated."""
    user = store.session_user(digest(token))
    if user is None:
        raise NotAuthenticated("The session has expired or was closed. Log in again.")
    return user.principal


def logout(store: Store, token: str) -> None:
    store.drop_session(digest(token))


def set_password(store: Store, username: str, password: str) -> None:
    """Set a user's password (closing their sessions). Raises NotFound or InvalidQuery."""
    store.user(username)
    store.set_password(username, hash_password(password))


def revoke_key(store: Store, username: str, key_id: str) -> ApiKey:
    """Raises NotFound when the user holds no key with this id."""
    store.user(username)
    return store.revoke_key(username, key_id)
