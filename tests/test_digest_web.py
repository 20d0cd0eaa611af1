"""The digest's pages (service/web/digest.py) through the app's TestClient: the settings page
(CSRF, values stored), the preview and its message route, and the e-mail's signed links opened
without signing in: feedback confirmed then recorded (the pair leaves the user's rankings),
unsubscribing by RFC 8058 one-click, and every kind of bad link refused with what is wrong."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner

from matcher import Feedback, Principal, Role, Settings, Store, set_password
from matcher.digest import Item, Subscription, Threshold
from service.app import create_app
from service.digest import Links
from tests.conftest import add_user

PASSWORD = "a long enough digest secret"
OWNER = "u.test.owner"
"""Owns both projects of the small world (P-1 internal, P-2 public)."""
LONER = "u.loner"
"""A researcher of no project: an empty digest."""
GUEST = "u.guest"
ADMIN = "u.admin"
FORM = {"content-type": "application/x-www-form-urlencoded"}


class App:
    """The running app and its settings; `client(user)` is a fresh client, signed in when a
    user is named."""

    def __init__(self, app: Any, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    def client(self, username: str | None = None) -> TestClient:
        client = TestClient(self.app)
        if username is not None:
            token = csrf_of(client.get("/signin").text)
            signed = client.post(
                "/signin",
                data={"username": username, "password": PASSWORD, "csrf": token, "next": "/"},
                follow_redirects=False,
            )
            assert signed.status_code == 303, signed.text
        return client

    def store(self) -> Store:
        return Store(self.settings.database)

    def links(self) -> Links:
        with self.store() as store:
            return Links.of(store, self.settings.public_url)

    def user_id(self, username: str) -> int:
        with self.store() as store:
            return store.user(username).id


@pytest.fixture
def hub(settings: Settings, embedder: Any) -> Iterator[App]:
    """The small world served, with the projects' owner (who has an address), a researcher of
    no project, a guest and an admin, all with a password."""
    users = {OWNER: "researcher", LONER: "researcher", GUEST: "guest", ADMIN: "admin"}
    for username, role in users.items():
        add_user(settings.database, username, role, "O-EYE" if role == "guest" else None)
    with Store(settings.database) as store:
        for username in users:
            set_password(store, username, PASSWORD)
        store.set_email(OWNER, "owner@hub.example.org")
    app = create_app(settings, embedder)
    with TestClient(app):  # runs the lifespan once
        yield App(app, settings)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found[1]


def text_of(html: str) -> str:
    """The page's main content as words, tags dropped."""
    main = html[html.index("<main") : html.index("</main>")]
    words = " ".join(unescape(re.sub(r"<[^>]+>", " ", main)).split())
    return re.sub(r" ([?.,:;)])", r"\1", words)


def pair_link(hub: App, verdict: Feedback, project: str = "P-1", candidate: str = "O-VEC") -> str:
    item = Item(key="", title="", path="", project_id=project, candidate_id=candidate)
    return hub.links().feedback(hub.user_id(OWNER), item, verdict)


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["t"][0]


# ---------------------------------------------------------------------- settings


def test_settings_show_the_address_and_save_the_choices(hub: App) -> None:
    client = hub.client(OWNER)
    shown = client.get("/digest")
    assert shown.status_code == 200
    words = text_of(shown.text)
    assert "owner@hub.example.org" in words and "set by an admin" in words
    for heading in ("New partner suggestions", "Newly fitting calls", "Due in the next six weeks"):
        assert heading in words
    assert "Stalled pipeline entries" not in words  # a business developer's section
    assert 'href="/digest" aria-current="page"' in shown.text  # the navigation's link

    choice = {"subscribed": "true", "sections": ["partners", "due"], "threshold": "good"}
    refused = client.post("/digest", data=choice)
    assert refused.status_code == 403 and "Form refused" in refused.text
    wrong = client.post("/digest", data={**choice, "csrf": "0" * 64})
    assert wrong.status_code == 403
    with hub.store() as store:
        assert store.subscription(OWNER) == Subscription()  # nothing was saved

    token = csrf_of(shown.text)
    saved = client.post("/digest", data={**choice, "csrf": token}, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == "/digest?saved=true"
    with hub.store() as store:
        chosen = store.subscription(OWNER)
    assert chosen.subscribed and chosen.threshold is Threshold.GOOD
    # The sections offered are replaced; those of other roles are kept as they were.
    assert {"partners", "due"} <= chosen.sections and "calls" not in chosen.sections
    assert "pipeline" in chosen.sections
    page = client.get(saved.headers["location"])
    assert "Your choices are saved." in page.text
    assert re.search(r'value="good"\s+checked', page.text)
    assert re.search(r'value="calls"\s+>', page.text)  # unticked now

    off = client.post("/digest", data={"csrf": token, "threshold": "strong"})
    assert off.status_code == 200  # followed to the page
    with hub.store() as store:
        assert not store.subscription(OWNER).subscribed


def test_subscribing_to_no_section_is_refused(hub: App) -> None:
    client = hub.client(OWNER)
    token = csrf_of(client.get("/digest").text)
    answer = client.post("/digest", data={"csrf": token, "subscribed": "true"})
    assert answer.status_code == 400
    assert "Choose at least one section" in answer.text
    with hub.store() as store:
        assert store.subscription(OWNER) == Subscription()


def test_without_an_address_the_page_says_whom_to_ask_and_guests_get_no_digest(
    hub: App,
) -> None:
    words = text_of(hub.client(LONER).get("/digest").text)
    assert "No e-mail address is set for you, so the digest cannot be sent" in words
    assert f"Ask an admin ({ADMIN})" in words
    guest = hub.client(GUEST)
    page = guest.get("/digest")
    assert page.status_code == 200
    assert "Your role (guest) gets no digest" in text_of(page.text)
    assert '<form method="post" action="/digest"' not in page.text
    assert 'href="/digest"' not in page.text.split("<main", 1)[0]  # not in their navigation
    token = csrf_of(page.text)
    assert guest.post("/digest", data={"csrf": token, "subscribed": "true"}).status_code == 400


def test_the_pages_need_a_session(hub: App) -> None:
    anonymous = hub.client()
    for path in ("/digest", "/digest/preview", "/digest/preview/message"):
        answer = anonymous.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/signin?next=/digest"), path


# ---------------------------------------------------------------------- preview


def test_the_preview_shows_the_message_in_a_sandboxed_frame(hub: App) -> None:
    with hub.store() as store:
        store.set_subscription(OWNER, Subscription(threshold=Threshold.GOOD))
    client = hub.client(OWNER)
    page = client.get("/digest/preview", params={"week": "2026-W48"})
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    words = text_of(page.text)
    assert "Your digest for 2026-W48" in words
    assert "Subject Hub digest, week 48:" in words
    frame = re.search(r'<iframe src="([^"]+)"[^>]*sandbox="([^"]*)"', page.text)
    assert frame, page.text
    assert unescape(frame[1]) == "/digest/preview/message?week=2026-W48"
    assert "allow-scripts" not in frame[2] and "allow-same-origin" not in frame[2]
    assert "<pre>Hub digest, week 48:" in page.text  # the plain-text part

    message = client.get(unescape(frame[1]))
    assert message.status_code == 200
    policy = message.headers["content-security-policy"]
    assert policy.startswith("sandbox") and "default-src 'none'" in policy
    assert "frame-ancestors 'self'" in policy
    assert "New partner suggestions" in message.text
    assert "/digest/feedback?t=" in message.text and "/digest/unsubscribe?t=" in message.text
    # The preview sends nothing and marks nothing as shown.
    with hub.store() as store:
        assert store.seen(OWNER) == frozenset()
        assert store.send_record(OWNER, "2026-W48") is None


def test_the_preview_defaults_to_this_week_and_refuses_a_bad_one(hub: App) -> None:
    client = hub.client(OWNER)
    assert "Your digest for 2026-W48" in client.get("/digest/preview").text  # 2026-11-25
    for bad in ("2026-W60", "next week", "2026-48"):
        answer = client.get("/digest/preview", params={"week": bad})
        assert answer.status_code == 400, bad
        assert "is not an ISO week such as 2026-W50" in text_of(answer.text)
        assert client.get("/digest/preview/message", params={"week": bad}).status_code == 400


def test_an_empty_digest_says_it_would_not_be_sent(hub: App) -> None:
    page = hub.client(LONER).get("/digest/preview")
    assert "Nothing new this week: it would not be sent." in text_of(page.text)
    assert "<iframe" not in page.text


# ---------------------------------------------------------------------- feedback links


def test_feedback_is_confirmed_then_recorded_without_signing_in(hub: App) -> None:
    link = pair_link(hub, Feedback.NOT_RELEVANT)
    assert link.startswith(hub.settings.public_url + "/digest/feedback?t=")
    browser = hub.client()  # no session, no cookies
    ask = browser.get("/digest/feedback", params={"t": token_of(link)})
    assert ask.status_code == 200
    assert ask.headers["cache-control"] == "no-store"
    assert ask.headers["referrer-policy"] == "no-referrer"
    words = text_of(ask.text)
    assert (
        "Mark Vector Foundry for P-1 AAV8 gene therapy for inherited retinal dystrophy as "
        "Not relevant?" in words
    )
    with hub.store() as store:
        assert store.feedback_of(OWNER, "P-1") == {}  # opening the link records nothing
    assert "O-VEC" in partners(hub)

    done = browser.post("/digest/feedback", data={"t": token_of(link)})
    assert done.status_code == 200, done.text
    words = text_of(done.text)
    assert "Vector Foundry is marked as Not relevant for P-1" in words
    assert "no longer suggested to you" in words
    assert 'href="/projects/P-1"' in done.text
    assert not browser.cookies  # no session was made
    with hub.store() as store:
        assert store.feedback_of(OWNER, "P-1") == {"O-VEC": Feedback.NOT_RELEVANT}
    assert "O-VEC" not in partners(hub)
    # The owner's own project page no longer suggests it.
    page = hub.client(OWNER).get("/projects/P-1")
    assert 'id="m-O-VEC"' not in page.text

    again = browser.post("/digest/feedback", data={"t": token_of(link)})
    assert again.status_code == 200  # the same verdict once more changes nothing


def partners(hub: App) -> set[str]:
    """The partners the owner's own View suggests for P-1."""
    view = hub.app.state.gate.view(Principal(OWNER, Role.RESEARCHER))
    return {m.id for m in view.partners_for("P-1", k=10).matches}


def test_a_relevant_verdict_is_recorded_as_relevant(hub: App) -> None:
    link = pair_link(hub, Feedback.RELEVANT, "P-2", "C-ROLLING")
    ask = hub.client().get("/digest/feedback", params={"t": token_of(link)})
    assert "Open innovation: automated CAR-T manufacturing for P-2" in text_of(ask.text)
    done = hub.client().post("/digest/feedback", data={"t": token_of(link)})
    assert "is marked as Relevant" in text_of(done.text)
    with hub.store() as store:
        assert store.feedback_of(OWNER, "P-2") == {"C-ROLLING": Feedback.RELEVANT}


def test_an_expired_feedback_link_is_refused(hub: App, monkeypatch: pytest.MonkeyPatch) -> None:
    # itsdangerous stamps a token with TimestampSigner.get_timestamp: a link signed 29 days ago
    # (feedback links last 28) is made by signing with that clock set back.
    import time

    monkeypatch.setattr(
        TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 29 * 86400
    )
    link = pair_link(hub, Feedback.NOT_RELEVANT)
    monkeypatch.undo()
    for answer in (
        hub.client().get("/digest/feedback", params={"t": token_of(link)}),
        hub.client().post("/digest/feedback", data={"t": token_of(link)}),
    ):
        assert answer.status_code == 400
        words = text_of(answer.text)
        assert "This link does not work" in words and "The link has expired" in words
    with hub.store() as store:
        assert store.feedback_of(OWNER, "P-1") == {}
    fresh = pair_link(hub, Feedback.NOT_RELEVANT)  # the control: signed now, it works
    assert hub.client().get("/digest/feedback", params={"t": token_of(fresh)}).status_code == 200


def test_a_tampered_or_foreign_link_is_refused(hub: App) -> None:
    token = token_of(pair_link(hub, Feedback.NOT_RELEVANT))
    payload, _, signature = token.rpartition(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    unsubscribe = token_of(hub.links().unsubscribe(hub.user_id(OWNER)))
    other_hub = token_of(
        Links(b"another hub's key", "http://x").feedback(
            hub.user_id(OWNER), Item("", "", "", project_id="P-1", candidate_id="O-VEC"),
            Feedback.NOT_RELEVANT,
        )
    )  # fmt: skip
    for bad in (f"{payload}.{flipped}", "x" + token, unsubscribe, other_hub, "not-a-token"):
        for answer in (
            hub.client().get("/digest/feedback", params={"t": bad}),
            hub.client().post("/digest/feedback", data={"t": bad}),
        ):
            assert answer.status_code == 400, bad
            assert "The link is damaged or was not made by this hub." in text_of(answer.text)
    feedback_as_unsubscribe = hub.client().post(
        "/digest/unsubscribe", params={"t": token}, content="List-Unsubscribe=One-Click",
        headers=FORM,
    )  # fmt: skip
    assert feedback_as_unsubscribe.status_code == 400
    with hub.store() as store:
        assert store.feedback_of(OWNER, "P-1") == {}
        assert store.subscription(OWNER).subscribed


def test_a_pair_the_user_may_no_longer_see_records_nothing(hub: App) -> None:
    item = Item("", "", "", project_id="P-1", candidate_id="O-VEC")  # P-1 is internal
    link = hub.links().feedback(hub.user_id(GUEST), item, Feedback.NOT_RELEVANT)
    for answer in (
        hub.client().get("/digest/feedback", params={"t": token_of(link)}),
        hub.client().post("/digest/feedback", data={"t": token_of(link)}),
    ):
        assert answer.status_code == 404
        assert "nothing was recorded" in text_of(answer.text)
        assert "AAV8" not in answer.text  # the project's title is not given away
    with hub.store() as store:
        assert store.feedback_of(GUEST, "P-1") == {}


def test_links_of_an_erased_or_disabled_user_are_refused(hub: App) -> None:
    feedback = token_of(pair_link(hub, Feedback.NOT_RELEVANT))
    unsubscribe = token_of(hub.links().unsubscribe(hub.user_id(OWNER)))
    with hub.store() as store:
        store.update_user(OWNER, Role.RESEARCHER, None, "", disabled=True)
    disabled = hub.client().post("/digest/feedback", data={"t": feedback})
    assert disabled.status_code == 403
    assert "This account is disabled" in text_of(disabled.text)
    with hub.store() as store:
        store.erase("user", OWNER, "u.admin")
    for answer in (
        hub.client().get("/digest/feedback", params={"t": feedback}),
        hub.client().post("/digest/feedback", data={"t": feedback}),
        hub.client().get("/digest/unsubscribe", params={"t": unsubscribe}),
        hub.client().post("/digest/unsubscribe", params={"t": unsubscribe}),
    ):
        assert answer.status_code == 404
        assert "This account no longer exists" in text_of(answer.text)


# ---------------------------------------------------------------------- unsubscribing


def test_one_click_unsubscribe_needs_no_session_and_is_idempotent(hub: App) -> None:
    link = hub.links().unsubscribe(hub.user_id(OWNER))
    path = link[len(hub.settings.public_url) :]
    anonymous = hub.client()
    page = anonymous.get(path)
    assert page.status_code == 200 and "Unsubscribe from the weekly digest" in page.text
    with hub.store() as store:
        assert store.subscription(OWNER).subscribed  # opening the link changes nothing
    for _ in range(2):
        # RFC 8058: the mail client posts this body to the link, with no cookie.
        answer = anonymous.post(path, content="List-Unsubscribe=One-Click", headers=FORM)
        assert answer.status_code == 200, answer.text
        words = text_of(answer.text)
        assert "You are unsubscribed" in words and "re-subscribe" in words
        with hub.store() as store:
            assert not store.subscription(OWNER).subscribed
    assert not anonymous.cookies
    # The page's own button posts the same.
    form = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert form and unescape(form[1]) == path
    # The settings page shows it.
    assert not re.search(
        r'name="subscribed" value="true"\s+checked', hub.client(OWNER).get("/digest").text
    )


def test_a_bad_unsubscribe_link_is_refused(hub: App) -> None:
    token = token_of(hub.links().unsubscribe(hub.user_id(OWNER)))
    for bad in (token[:-3] + "abc", "nonsense"):
        answer = hub.client().post("/digest/unsubscribe", params={"t": bad})
        assert answer.status_code == 400
        assert "damaged" in text_of(answer.text)
    with hub.store() as store:
        assert store.subscription(OWNER).subscribed
