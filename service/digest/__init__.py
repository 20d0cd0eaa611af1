"""The weekly digest as e-mail: its links (`links`), its message (`render`), handing it to a mail
server (`mailer`), sending a week's batch exactly once (`send`), and a preview."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from matcher import Settings
from matcher.digest import Digest, Recipient, Week
from matcher.digest.compose import Composer
from matcher.roles import Principal
from matcher.view import Gate

from .links import BadToken, FeedbackClaim, Links
from .render import compose_message, html_part
from .send import Summary, send_week


@dataclass(frozen=True)
class Preview:
    digest: Digest
    message: EmailMessage

    @property
    def html(self) -> str:
        return html_part(self.message)

    def write(self, folder: Path) -> tuple[Path, Path]:
        """The message as an .eml file and its HTML part as an .html file, for a look in a mail
        client or a browser."""
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"digest-{self.digest.username}-{self.digest.week}"
        eml, html = folder / f"{stem}.eml", folder / f"{stem}.html"
        eml.write_bytes(self.message.as_bytes())
        html.write_text(self.html, encoding="utf-8")
        return eml, html


def preview(gate: Gate, settings: Settings, username: str, week: Week) -> Preview:
    """The digest a user would get for a week, as it stands now (nothing is sent or marked as
    shown; the audit log records the confidential projects it names, as a read). Raises
    NotFound."""
    store = gate.store
    user = store.user(username)
    recipient = Recipient(
        user.id,
        user.username,
        user.role,
        user.organisation,
        user.display_name,
        user.email or f"{user.username}@invalid",
        store.subscription(username),
    )
    principal = Principal(user.username, user.role, user.organisation)
    digest = Composer(gate, week).compose(principal, recipient.subscription, user.display_name)
    gate.view(principal).handed_out(digest.project_ids, "read")
    links = Links.of(store, settings.public_url)
    message = compose_message(digest, recipient, links, settings.mail_from, store.database_id)
    return Preview(digest, message)


__all__ = [
    "BadToken",
    "FeedbackClaim",
    "Links",
    "Preview",
    "Summary",
    "compose_message",
    "preview",
    "send_week",
]
