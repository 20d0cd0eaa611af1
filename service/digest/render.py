"""A digest as an e-mail: multipart, plain text and HTML (Jinja2, styles inlined by css-inline
for mail clients that drop <style>), with the headers mail clients and RFC 8058 expect."""

from __future__ import annotations

import datetime as dt
import hashlib
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from functools import cache
from pathlib import Path

import css_inline
import jinja2

from matcher import Feedback
from matcher.digest import Digest, Recipient, SectionKey

from ..web.render import percent
from .links import Links

TEMPLATES = Path(__file__).parent / "templates"
VERDICTS = (
    (Feedback.RELEVANT, "Relevant"),
    (Feedback.NOT_RELEVANT, "Not relevant"),
    (Feedback.ALREADY_KNOWN, "Already known"),
)


def message_id(database_id: str, user_id: int, week: str, sender: str) -> str:
    """The same for the same hub, recipient and week, whoever sends it and however often: a
    copy sent again is recognisable as the same message."""
    digest = hashlib.sha256(f"{database_id}:{user_id}:{week}".encode()).hexdigest()[:24]
    return f"<digest.{week}.{digest}@{_domain(sender)}>"


def subject(digest: Digest) -> str:
    counts = []
    for section in digest.sections:
        n = len(section.items)
        noun = _NOUNS[section.key]
        counts.append(f"{n} {noun[0] if n == 1 else noun[1]}")
    return f"Hub digest, week {digest.week.number}: " + ", ".join(counts)


_NOUNS = {
    SectionKey.PARTNERS: ("new partner", "new partners"),
    SectionKey.CALLS: ("new call", "new calls"),
    SectionKey.DUE: ("date due soon", "dates due soon"),
    SectionKey.NEW: ("new organisation or call", "new organisations and calls"),
    SectionKey.MATCHES: ("new match", "new matches"),
    SectionKey.CHOKEPOINTS: ("chokepoint", "chokepoints"),
    SectionKey.PIPELINE: ("stalled entry", "stalled entries"),
}


def compose_message(
    digest: Digest,
    recipient: Recipient,
    links: Links,
    sender: str,
    database_id: str,
    now: dt.datetime | None = None,
) -> EmailMessage:
    """The message for one reader: text first, then HTML (clients show the last part they can)."""
    context = {
        "digest": digest,
        "recipient": recipient,
        "links": links,
        "verdicts": VERDICTS,
        "subject": subject(digest),
        "unsubscribe": links.unsubscribe(recipient.user_id),
    }
    message = EmailMessage()
    message["Subject"] = context["subject"]
    message["From"] = sender
    message["To"] = Address(recipient.display_name or "", addr_spec=recipient.email)
    message["Date"] = format_datetime(now or dt.datetime.now(dt.UTC))
    message["Message-ID"] = message_id(database_id, recipient.user_id, str(digest.week), sender)
    # RFC 8058: a mail client may unsubscribe with one POST, and no login.
    message["List-Unsubscribe"] = f"<{context['unsubscribe']}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["List-Id"] = f"Weekly digest <digest.{_domain(sender)}>"
    message["Auto-Submitted"] = "auto-generated"
    # Quoted-printable keeps every line short (SMTP refuses lines over 1,000 octets, and the
    # inlined HTML has long ones) and the text readable in the raw message.
    text = _environment(False).get_template("digest.txt").render(context)
    message.set_content(text, cte="quoted-printable")
    html = _environment(True).get_template("digest.html").render(context)
    message.add_alternative(css_inline.inline(html), subtype="html", cte="quoted-printable")
    return message


def html_part(message: EmailMessage) -> str:
    """The message's HTML part ("" for a message without one)."""
    part = message.get_body(("html",))
    return "" if part is None else str(part.get_content())


@cache
def _environment(html: bool) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["score"] = percent  # as the pages show it
    environment.filters["day"] = lambda d: d.strftime("%a %-d %b %Y") if d else ""
    return environment


def _domain(sender: str) -> str:
    found = getaddresses([sender])
    address = found[0][1] if found else sender
    return address.rpartition("@")[2] or "localhost"
