"""Routes for signing in and for admins: users, API keys, the audit log, re-indexing."""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Request, Response

from matcher import (
    NotAuthenticated,
    build_indexes,
    create_user,
    erasure_ledger,
    issue_key,
    login,
    logout,
    revoke_key,
    update_user,
)

from ..auth import SESSION_COOKIE, SIGNED_IN, is_https, password_bucket
from ..deps import AdminDep, GateDep, PrincipalDep, SettingsDep
from ..errors import responses
from ..wiring import serve_fresh_indexes
from .routes import ONE, POST, READ
from .schemas import (
    AuditOut,
    ErasureOut,
    KeyIn,
    KeyOut,
    LoginIn,
    Me,
    NewKeyOut,
    ReindexOut,
    SessionOut,
    UserIn,
    UserOut,
    UserPatch,
)

auth = APIRouter(prefix="/auth", tags=["sign-in"])
admin = APIRouter(prefix="/api/v1", tags=["admin"])

Username = Annotated[str, Path(min_length=2, max_length=64)]


@auth.post("/login", responses=responses(400, 401, 413, 422, 429, 503))
def sign_in(body: Annotated[LoginIn, Body()], request: Request, response: Response) -> SessionOut:
    """Open a session for the web pages: sets an HttpOnly cookie valid for 12 hours."""
    limiter = request.app.state.limiter
    # Counted per address and username: wrong passwords for one user lock out no other.
    bucket = password_bucket(request, body.username)
    limiter.check(bucket)
    store = request.app.state.gate.store
    try:
        token, expires = login(store, body.username, body.password)
    except NotAuthenticated:
        limiter.failed(bucket)
        raise
    setattr(request.state, SIGNED_IN, True)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int((expires - dt.datetime.now(dt.UTC)).total_seconds()),
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )
    user = store.user(body.username)
    return SessionOut(
        username=user.username, role=user.role, organisation=user.organisation, expires_at=expires
    )


@auth.post("/logout", status_code=204, responses=responses(401, 422, 429, 503))
def sign_out(request: Request, principal: PrincipalDep, response: Response) -> None:
    """Close the session of this browser."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        logout(request.app.state.gate.store, token)
    # The sign-in cookie's attributes, so that every browser replaces that cookie.
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="strict", secure=is_https(request)
    )


@admin.get("/me", tags=["sign-in"], responses=READ)
def me(principal: PrincipalDep) -> Me:
    """Who the credentials belong to."""
    return Me(username=principal.user, role=principal.role, organisation=principal.organisation)


@admin.get("/users", responses=READ)
def list_users(_: AdminDep, gate: GateDep) -> list[UserOut]:
    """Every user (admins only)."""
    return [UserOut.model_validate(u) for u in gate.store.users()]


@admin.post("/users", status_code=201, responses={**POST, **responses(404, 409)})
def add_user(_: AdminDep, gate: GateDep, body: Annotated[UserIn, Body()]) -> UserOut:
    """Create a user (admins only); give them a key with POST /users/{username}/keys."""
    user = create_user(gate.store, body.username, body.role, body.organisation, body.display_name)
    return UserOut.model_validate(user)


@admin.get("/users/{username}", responses=ONE)
def get_user(username: Username, _: AdminDep, gate: GateDep) -> UserOut:
    """One user (admins only)."""
    return UserOut.model_validate(gate.store.user(username))


@admin.patch("/users/{username}", responses={**POST, **responses(404)})
def change_user(
    username: Username, _: AdminDep, gate: GateDep, body: Annotated[UserPatch, Body()]
) -> UserOut:
    """Change a user's role, organisation, name, or disable them (admins only)."""
    user = update_user(
        gate.store,
        username,
        role=body.role,
        organisation=body.organisation,
        display_name=body.display_name,
        disabled=body.disabled,
    )
    return UserOut.model_validate(user)


@admin.get("/users/{username}/keys", responses=ONE)
def list_keys(username: Username, _: AdminDep, gate: GateDep) -> list[KeyOut]:
    """A user's API keys, revoked and expired ones included; never the keys themselves."""
    return [KeyOut.model_validate(k) for k in gate.store.keys(username)]


@admin.post("/users/{username}/keys", status_code=201, responses={**POST, **responses(404)})
def add_key(
    username: Username, _: AdminDep, gate: GateDep, body: Annotated[KeyIn, Body()]
) -> NewKeyOut:
    """A new API key for a user: the response holds the key, shown this once."""
    key, secret = issue_key(gate.store, username, body.label, body.expires_in_days)
    return NewKeyOut(**KeyOut.model_validate(key).model_dump(), key=secret)


@admin.delete("/users/{username}/keys/{key_id}", responses=ONE)
def delete_key(
    username: Username,
    key_id: Annotated[str, Path(min_length=1, max_length=32)],
    _: AdminDep,
    gate: GateDep,
) -> KeyOut:
    """Revoke a key at once; requests made with it answer 401 from now on."""
    return KeyOut.model_validate(revoke_key(gate.store, username, key_id))


@admin.get("/audit", responses=READ)
def audit_log(
    _: AdminDep,
    gate: GateDep,
    project: Annotated[str | None, Query(max_length=128)] = None,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[dt.datetime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[AuditOut]:
    """Who read, matched or exported which confidential project, and when; newest first."""
    entries = gate.store.audit(project, actor, since, limit)
    return [AuditOut.model_validate(e) for e in entries]


@admin.post("/admin/reindex", responses=READ)
def reindex(_: AdminDep, gate: GateDep, settings: SettingsDep) -> ReindexOut:
    """Embed what changed, rewrite the indexes and serve from them (admins only)."""
    started = time.perf_counter()
    encoder = gate.recommender.encoder
    reports = build_indexes(gate.store, encoder, settings.models_dir)
    serve_fresh_indexes(gate, settings, encoder.embedder)
    return ReindexOut(
        kinds={r.kind: r.documents for r in reports},
        embedded=sum(r.embedded for r in reports),
        seconds=round(time.perf_counter() - started, 3),
    )


@admin.get("/erasures", responses=READ)
def erasures(_: AdminDep, gate: GateDep) -> list[ErasureOut]:
    """The erasure ledger, oldest first: what was erased, when and by whom (admins only)."""
    return [ErasureOut.model_validate(e) for e in erasure_ledger(gate.store)]
