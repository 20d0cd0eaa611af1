"""The weekly digest end to end, in a real browser (Debian's chromium through Playwright) against
a real server (`matcher serve`) and a real SMTP server on loopback (service.digest.mailbox): a
new researcher chooses their digest and previews it, the week's digest is sent, the e-mail's
"Not relevant" link is confirmed in a browser that never signed in, the partner leaves the
project's page, and the List-Unsubscribe address unsubscribes with one POST. Every page visited
logs no console error, fails no request and has no serious or critical axe-core violation.
SCREENSHOTS=1 also writes docs/screenshots/digest-*.png."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from matcher import Embedder, Gate, Settings, Store
from matcher.digest import Week
from service.digest import send_week
from service.digest.mailbox import Mailbox
from service.wiring import open_recommender
from tests import browser as harness
from tests.browser import BLOCKING, ROOT, Site, Watched, new_context, require_browser, sign_in
from tests.conftest import world_settings

require_browser()

from playwright.sync_api import Browser, Page, ViewportSize, expect  # noqa: E402

PHONE: ViewportSize = {"width": 390, "height": 844}

pytestmark = pytest.mark.slow

SCREENSHOTS = ROOT / "docs" / "screenshots"
RESEARCHER = "u.test.owner"
"""New to the hub: owns both projects of the small world (P-1 internal, P-2 public)."""
ADDRESS = "owner@hub.example.org"


@pytest.fixture
def site(built_world: Path, tmp_path: Path) -> Iterator[Site]:
    """The small world served, with the researcher (a password; an address set by an admin)."""
    with harness.site(built_world, tmp_path, {"researcher": (RESEARCHER, None)}) as served:
        with Store(served.world / "matcher.db") as store:
            store.set_email(RESEARCHER, ADDRESS)
        yield served


def shoot(page: Page, name: str) -> None:
    """With SCREENSHOTS=1, the whole page as shown now into docs/screenshots/NAME.png."""
    if os.environ.get("SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def send(site: Site, embedder: Embedder, mailbox: Mailbox) -> EmailMessage:
    """The week's digests sent as `matcher digest send` does, with links to the served site;
    the one message the mailbox received."""
    settings: Settings = world_settings(
        site.world,
        today=dt.date.fromisoformat(harness.TODAY),
        public_url=site.base,
        smtp_port=mailbox.port,
        smtp_retries=0,
    )
    with Store(settings.database) as store:
        gate = Gate(store, open_recommender(settings, store, embedder), settings.current_date)
        summary = send_week(gate, settings, Week.of(settings.current_date()))
    assert summary.counts["sent"] == 1, summary.lines()
    assert len(mailbox.received) == 1
    recipients, message = mailbox.received[0]
    assert recipients == (ADDRESS,)
    return message


def test_a_researcher_chooses_previews_gets_and_answers_the_digest(
    browser: Browser, site: Site, embedder: Embedder
) -> None:
    context = new_context(browser, site)
    watched = Watched(context.new_page(), site)
    page = watched.page
    sign_in(watched, RESEARCHER)

    # Their choices: good and strong matches, partners and calls (not the due dates).
    page.get_by_role("link", name="Digest").click()
    page.wait_for_load_state("load")
    watched.audit()
    expect(page.get_by_text(ADDRESS)).to_be_visible()
    page.get_by_label("Good and strong matches").check()
    page.get_by_label("Due in the next six weeks").uncheck()
    expect(page.get_by_label("Send me the weekly digest")).to_be_checked()
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Your choices are saved.")
    expect(page.get_by_label("Good and strong matches")).to_be_checked()
    expect(page.get_by_label("Due in the next six weeks")).not_to_be_checked()
    watched.audit()
    shoot(page, "digest-settings")

    # The preview: the message itself, in its sandboxed frame.
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("link", name="Preview this week's digest").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your digest for 2026-W49")
    frame = page.frame_locator("iframe")
    expect(frame.get_by_role("heading", name="New partner suggestions")).to_be_visible()
    expect(frame.get_by_role("heading", name="Due in the next six weeks")).to_have_count(0)
    previewed_partners = (
        frame.locator(".card", has_text="New partner suggestions")
        .locator(".item .title")
        .all_inner_texts()
    )
    assert previewed_partners
    watched.audit()
    shoot(page, "digest-preview")

    # The week's digest, sent to the mail server on loopback.
    with Mailbox() as mailbox:
        message = send(site, embedder, mailbox)
    assert message["To"].addresses[0].addr_spec == ADDRESS
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and html is not None
    text, markup = str(plain.get_content()), str(html.get_content())
    unsubscribe = re.fullmatch(r"<(.+)>", str(message["List-Unsubscribe"]))
    assert unsubscribe and unsubscribe[1].startswith(site.base + "/digest/unsubscribe?t=")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "== New partner suggestions ==" in text
    assert unsubscribe[1] in text

    # The e-mail as a phone shows it.
    phone = browser.new_context(viewport=PHONE)
    mail = Watched(phone.new_page(), site)
    mail.page.set_content(markup, wait_until="load")
    blocking = [v for v in mail.violations() if v["impact"] in BLOCKING]
    assert not blocking, blocking
    assert mail.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shoot(mail.page, "digest-email-phone")
    first = mail.page.locator(".item").first
    partner = first.locator(".title").inner_text()
    assert partner in previewed_partners
    not_relevant = first.get_by_role("link", name="Not relevant").get_attribute("href")
    assert not_relevant and not_relevant in text  # the same link in both parts
    assert not_relevant.startswith(site.base + "/digest/feedback?t=")
    phone.close()

    # Opened in a browser that never signed in: a button confirms it.
    stranger_context = new_context(browser, site)
    stranger = Watched(stranger_context.new_page(), site)
    stranger.goto(urlsplit(not_relevant)._replace(scheme="", netloc="").geturl())
    question = stranger.page.get_by_role("main").inner_text()
    assert f"Mark {partner} for P-" in question and "as Not relevant?" in question
    with stranger.page.expect_navigation(wait_until="load"):
        stranger.page.get_by_role("button", name="Mark as not relevant").click()
    expect(stranger.page.get_by_role("heading", level=1)).to_have_text("Feedback recorded")
    expect(stranger.page.get_by_role("status")).to_contain_text(f"{partner} is marked as")
    stranger.audit()
    assert not stranger_context.cookies()
    stranger.check()
    stranger_context.close()

    # Signed in, the project's page no longer suggests that partner.
    project = re.search(r"for (P-\d+) ", question)
    assert project
    watched.goto(f"/projects/{project[1]}")
    partners = page.get_by_role("region", name="Partners")
    expect(partners.get_by_role("heading", level=3).first).to_be_visible()
    assert partner not in partners.inner_text()

    # The mail client's one-click unsubscribe: one POST, no cookie, no token but the link's.
    answer = httpx.post(
        unsubscribe[1],
        content="List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
        timeout=60,
    )
    assert answer.status_code == 200 and "You are unsubscribed" in answer.text
    watched.goto("/digest")
    expect(page.get_by_label("Send me the weekly digest")).not_to_be_checked()
    watched.check()
    context.close()


def test_the_unsubscribe_and_error_pages_in_the_browser(browser: Browser, site: Site) -> None:
    """The unsubscribe page's button, and a damaged link's page, as a person sees them."""
    from service.digest import Links

    with Store(site.world / "matcher.db") as store:
        link = Links.of(store, site.base).unsubscribe(store.user(RESEARCHER).id)
    context = new_context(browser, site)
    watched = Watched(context.new_page(), site)
    page = watched.page
    path = link[len(site.base) :]
    watched.goto(path)
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You are unsubscribed")
    watched.audit()
    watched.goto(path[:-4] + "abcd", status=400)
    expect(page.get_by_role("heading", level=1)).to_have_text("This link does not work")
    watched.check()
    context.close()
