"""The weekly digest's pages: a reader's choices (`/digest`), a preview of their message as it
stands, and the pages the e-mail's signed links open without signing in: feedback on one pair
(confirmed by a button, since mail scanners open every link of a message) and unsubscribing
(RFC 8058: a mail client posts `List-Unsubscribe=One-Click` to the link itself)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from matcher import NotFound, PermissionDenied, Principal, Role, Store, User, View
from matcher.digest import SectionKey, SendRecord, Subscription, Threshold, Week, sections_for
from matcher.view import Gate

from ..digest import BadToken, FeedbackClaim, Links, Preview, preview
from .render import page
from .routes import PAGES, error_page
from .security import PagePrincipal, check_csrf

router = APIRouter(tags=[PAGES], include_in_schema=False)

Token = Annotated[str, Query(min_length=1, max_length=1000)]
WeekText = Annotated[str | None, Query(max_length=16)]
HISTORY_WEEKS = 4
"""How many past weeks the settings page reports on."""
STATES = {
    "sent": "sent",
    "empty": "nothing new, not sent",
    "unsubscribed": "not sent (unsubscribed)",
    "bounced": "not sent (the address refuses mail)",
    "failed": "not delivered yet (tried again on the next run)",
    "uncertain": "may not have arrived (an admin checks)",
    "cancelled": "not sent (cancelled by an admin)",
    "composed": "being sent",
    "sending": "being sent",
}
MESSAGE_POLICY = (
    "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
    "style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
)
"""The e-mail's HTML in the preview: no script, nothing fetched, shown only in our own frame;
its links open in a new tab (a popup that leaves the sandbox)."""
TOKEN_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}
"""A page opened by a signed link: kept out of caches, and its address (the token) out of
other requests' Referer."""


# ---------------------------------------------------------------------- choices


@router.get("/digest")
def settings_page(
    request: Request, principal: PagePrincipal, saved: Annotated[bool, Query()] = False
) -> HTMLResponse:
    """The reader's address (set by an admin), whether they get the digest, its sections and
    threshold, and how the last weeks' digests went."""
    return _settings(request, principal, saved=saved)


@router.post("/digest", dependencies=[Depends(check_csrf)])
def save_settings(
    request: Request,
    principal: PagePrincipal,
    subscribed: Annotated[bool, Form()] = False,
    sections: Annotated[list[SectionKey], Form()] = [],  # noqa: B006 (FastAPI copies it)
    threshold: Annotated[Threshold, Form()] = Threshold.STRONG,
) -> Response:
    """Save the reader's choices; sections of other roles they may hold are kept as they are."""
    store: Store = request.app.state.gate.store
    offered = sections_for(principal.role)
    if not offered:
        return _settings(request, principal, status_code=400)
    chosen = frozenset(sections) & frozenset(offered)
    if subscribed and not chosen:
        error = "Choose at least one section, or untick “Send me the weekly digest”."
        return _settings(request, principal, status_code=400, error=error)
    kept = store.subscription(principal.user).sections - frozenset(offered)
    store.set_subscription(principal.user, Subscription(subscribed, chosen | kept, threshold))
    return RedirectResponse("/digest?saved=true", status_code=303)


def _settings(
    request: Request,
    principal: Principal,
    status_code: int = 200,
    saved: bool = False,
    error: str = "",
) -> HTMLResponse:
    gate: Gate = request.app.state.gate
    store = gate.store
    user = store.user(principal.user)
    subscription = store.subscription(principal.user)
    this_week = Week.of(gate.today())
    return page(
        request,
        "digest.html",
        principal,
        status_code=status_code,
        user=user,
        subscription=subscription,
        sections=sections_for(principal.role),
        thresholds=tuple(Threshold),
        admins=[u.username for u in store.users() if u.role is Role.ADMIN and not u.disabled],
        bounced=store.bounced(user.email) if user.email else None,
        history=_history(store, principal.user, this_week),
        states=STATES,
        week=this_week,
        saved=saved,
        error=error,
    )


def _history(store: Store, username: str, week: Week) -> list[SendRecord]:
    """The reader's send records of the last weeks, latest first."""
    found = []
    for back in range(HISTORY_WEEKS):
        monday = week.monday - dt.timedelta(weeks=back)
        record = store.send_record(username, str(Week.of(monday)))
        if record is not None:
            found.append(record)
    return found


# ---------------------------------------------------------------------- preview


@router.get("/digest/preview")
def preview_page(request: Request, principal: PagePrincipal, week: WeekText = None) -> Response:
    """The reader's digest of a week (this week by default) as the e-mail would show it."""
    shown = _preview(request, principal, week)
    if isinstance(shown, Response):
        return shown
    text = shown.message.get_body(("plain",))
    return page(
        request,
        "digest_preview.html",
        principal,
        preview=shown,
        digest=shown.digest,
        subject=str(shown.message["Subject"]),
        text="" if text is None else str(text.get_content()),
        subscription=request.app.state.gate.store.subscription(principal.user),
        offered=sections_for(principal.role),
        message_url="/digest/preview/message?" + urlencode({"week": str(shown.digest.week)}),
        week=shown.digest.week,
    )


@router.get("/digest/preview/message")
def preview_message(request: Request, principal: PagePrincipal, week: WeekText = None) -> Response:
    """The message's HTML part alone, for the preview's sandboxed frame: no script runs in it,
    it fetches nothing, and only this site may frame it."""
    shown = _preview(request, principal, week)
    if isinstance(shown, Response):
        return shown
    html = shown.html.replace("<head>", '<head>\n<base target="_blank">', 1)
    response = HTMLResponse(html)
    response.headers["Content-Security-Policy"] = MESSAGE_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


def _preview(request: Request, principal: Principal, week: str | None) -> Preview | Response:
    gate: Gate = request.app.state.gate
    try:
        chosen = Week.of(gate.today()) if week is None else Week.parse(week)
    except ValueError as error:
        return error_page(request, 400, "No such week", f"{error}.")
    return preview(gate, request.app.state.settings, principal.user, chosen)


# ---------------------------------------------------------------------- the e-mail's links


@dataclass(frozen=True)
class _Pair:
    """What a feedback link names, as its user may see it now."""

    claim: FeedbackClaim
    view: View
    project_title: str
    candidate_name: str


@router.get("/digest/feedback")
def feedback_page(request: Request, t: Token) -> Response:
    """Ask to confirm the verdict the link names (a GET records nothing: mail scanners open
    every link of a message)."""
    pair = _pair(request, t)
    if isinstance(pair, Response):
        return pair
    return _token_page(request, "digest_feedback.html", pair=pair, token=t, done=False)


@router.post("/digest/feedback")
def record_feedback(
    request: Request, t: Annotated[str, Form(min_length=1, max_length=1000)]
) -> Response:
    """Record the verdict through the link's user's own View. The signed token is the
    credential: no session and no CSRF token are needed."""
    pair = _pair(request, t)
    if isinstance(pair, Response):
        return pair
    claim = pair.claim
    try:
        pair.view.give_feedback(claim.project_id, claim.candidate_id, claim.verdict)
    except (NotFound, PermissionDenied):
        return _gone(request)
    return _token_page(request, "digest_feedback.html", pair=pair, token=t, done=True)


@router.get("/digest/unsubscribe")
def unsubscribe_page(request: Request, t: Token) -> Response:
    """One button that unsubscribes (a GET changes nothing, for the same reason)."""
    user = _token_user(request, t)
    if isinstance(user, Response):
        return user
    return _token_page(request, "digest_unsubscribe.html", user=user, token=t, done=False)


@router.post("/digest/unsubscribe")
def unsubscribe(request: Request, t: Token) -> Response:
    """RFC 8058 one-click: the token in the address is the credential (no cookie, no CSRF
    token); doing it twice answers the same."""
    user = _token_user(request, t)
    if isinstance(user, Response):
        return user
    request.app.state.gate.store.unsubscribe(user.id)
    return _token_page(request, "digest_unsubscribe.html", user=user, token=t, done=True)


def _links(request: Request) -> Links:
    return Links.of(request.app.state.gate.store, request.app.state.settings.public_url)


def _token_user(
    request: Request, token: str, claim: FeedbackClaim | None = None
) -> User | Response:
    """The user an unsubscribe token (or a feedback claim) names, or the error page."""
    try:
        user_id = claim.user_id if claim is not None else _links(request).unsubscribe_claim(token)
    except BadToken as error:
        return _bad_link(request, str(error))
    try:
        user: User = request.app.state.gate.store.user_by_id(user_id)
    except NotFound:
        return _answer(error_page(
            request, 404, "This account no longer exists",
            "The account this link was made for has been removed from the hub: nothing was "
            "changed.",
        ))  # fmt: skip
    if user.disabled and claim is not None:
        return _answer(error_page(
            request, 403, "This account is disabled",
            "The account this link was made for is disabled: nothing was recorded. Ask a hub "
            "admin if it should be enabled again.",
        ))  # fmt: skip
    return user


def _pair(request: Request, token: str) -> _Pair | Response:
    try:
        claim = _links(request).feedback_claim(token)
    except BadToken as error:
        return _bad_link(request, str(error))
    user = _token_user(request, token, claim)
    if isinstance(user, Response):
        return user
    view = request.app.state.gate.view(user.principal)
    try:
        title = view.project(claim.project_id).title
        candidate = _candidate_name(view, claim.candidate_id)
    except NotFound:
        return _gone(request)
    return _Pair(claim, view, title, candidate)


def _candidate_name(view: View, id: str) -> str:
    """Raises NotFound."""
    try:
        return view.organisation(id).name
    except NotFound:
        return view.call(id).call.title


def _bad_link(request: Request, message: str) -> Response:
    return _answer(error_page(request, 400, "This link does not work", message))


def _gone(request: Request) -> Response:
    return _answer(error_page(
        request, 404, "No longer available",
        "The project or the suggested partner or call of this link is gone, or you may no "
        "longer see it: nothing was recorded.",
    ))  # fmt: skip


def _token_page(request: Request, template: str, **context: Any) -> Response:
    return _answer(page(request, template, None, **context))


def _answer(response: Response) -> Response:
    response.headers.update(TOKEN_HEADERS)
    return response
