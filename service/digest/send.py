"""Sending one week's digests, exactly once per recipient and ISO week.

A batch holds the week's lock (on PostgreSQL an advisory lock, so also against other hosts), so
two batches of a week run one after the other and the second finds what the first did. For each
recipient, the store records SENDING (with the message's id and what it shows) before the
message is handed to the mail server and SENT after the server took it. A batch that finds
SENDING left by a batch that died cannot know whether that message went out: it marks it
UNCERTAIN for a person to decide (`matcher digest resolve`), and never sends it again by itself.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from email.utils import getaddresses

from matcher import NotFound, Settings
from matcher.digest import Recipient, SendState, Week
from matcher.digest.compose import Composer
from matcher.roles import Principal
from matcher.view import Gate

from .links import Links
from .mailer import Mailer, Outcome
from .render import compose_message, message_id

log = logging.getLogger(__name__)


@dataclass
class Summary:
    """What a batch did, per recipient state."""

    week: str
    counts: Counter[str] = field(default_factory=Counter)
    problems: list[tuple[str, str, str]] = field(default_factory=list)
    """(username, state, detail) of the failed and uncertain ones."""
    seconds: float = 0.0

    def add(self, username: str, state: str, detail: str = "") -> None:
        self.counts[state] += 1
        if state in (SendState.FAILED, SendState.UNCERTAIN, SendState.BOUNCED):
            self.problems.append((username, state, detail))

    def lines(self) -> list[str]:
        order = ("sent", "empty", "unsubscribed", "bounced", "failed", "uncertain", DONE_BEFORE)
        shown = ", ".join(f"{self.counts.get(k, 0)} {_LABEL.get(k, k)}" for k in order)
        if self.counts.get(GONE):
            shown += f", {self.counts[GONE]} {_LABEL[GONE]}"
        out = [f"Digest {self.week}: {shown} ({self.seconds:.1f} s)."]
        out += [f"  {state}: {user}: {detail}" for user, state, detail in self.problems]
        if self.counts.get(SendState.UNCERTAIN):
            out.append(
                "  An uncertain message may or may not have arrived: ask, then "
                f"`matcher digest resolve USER --week {self.week} --as sent|resend|cancelled`."
            )
        return out


DONE_BEFORE = "done before"
GONE = "left out"
"""Erased, disabled or without an address since the batch began."""
_LABEL = {"empty": "skipped (empty)", GONE: "left out (erased or disabled meanwhile)"}


def sender_address(settings: Settings) -> str:
    found = getaddresses([settings.mail_from])
    return found[0][1] if found and found[0][1] else settings.mail_from


def send_week(
    gate: Gate,
    settings: Settings,
    week: Week,
    usernames: Iterable[str] | None = None,
    mailer: Mailer | None = None,
    progress: Callable[[str], None] | None = None,
) -> Summary:
    """Send the week's digest to every subscribed recipient (or those named) who has not had
    it; returns what happened to each."""
    store = gate.store
    summary = Summary(str(week))
    started = time.monotonic()
    links = Links.of(store, settings.public_url)
    database_id = store.database_id
    sender = sender_address(settings)
    gap = 1.0 / settings.digest_per_second
    own_mailer = mailer is None
    mailer = mailer or Mailer(settings)
    try:
        with store.digest_batch(str(week)):
            composer = Composer(gate, week)
            next_send = time.monotonic()
            for recipient in store.recipients(usernames):
                state, detail = _one(
                    gate, settings, composer, links, mailer, recipient, week, database_id, sender,
                    next_send,
                )  # fmt: skip
                if state is SendState.SENT:
                    next_send = max(next_send + gap, time.monotonic())
                label = state.value if state else (detail or DONE_BEFORE)
                summary.add(recipient.username, label, "" if state is None else detail)
                if progress is not None:
                    progress(f"{recipient.username}: {label}")
    finally:
        if own_mailer:
            mailer.close()
    summary.seconds = time.monotonic() - started
    return summary


def _one(
    gate: Gate,
    settings: Settings,
    composer: Composer,
    links: Links,
    mailer: Mailer,
    recipient: Recipient,
    week: Week,
    database_id: str,
    sender: str,
    not_before: float,
) -> tuple[SendState | None, str]:
    """Decide and do one recipient's digest; None when an earlier batch settled it."""
    store = gate.store
    user, key = recipient.user_id, str(week)
    record = store.send_record(recipient.username, key)
    if record is not None and record.state is SendState.SENDING:
        detail = (
            f"a batch stopped while handing {record.message_id} to the mail server "
            f"({record.updated_at:%Y-%m-%d %H:%M} UTC): it may or may not have arrived"
        )
        store.set_send(user, key, SendState.UNCERTAIN, detail=detail)
        log.warning("digest %s for %s is uncertain: %s", key, recipient.username, detail)
        return SendState.UNCERTAIN, detail
    if record is not None and record.state.final:
        return None, DONE_BEFORE
    try:  # as they are now, not as the batch began: an unsubscribe or erasure meanwhile counts
        user_now = store.user(recipient.username)
        subscription = store.subscription(recipient.username)
    except NotFound:
        return None, GONE
    if user_now.disabled or not user_now.email:
        return None, GONE
    recipient = replace(recipient, email=user_now.email, subscription=subscription)
    if not recipient.subscription.subscribed:
        store.set_send(user, key, SendState.UNSUBSCRIBED)
        return SendState.UNSUBSCRIBED, ""
    reason = store.bounced(recipient.email)
    if reason is not None:
        store.set_send(user, key, SendState.BOUNCED, address=recipient.email, detail=reason)
        return SendState.BOUNCED, reason
    principal = Principal(recipient.username, recipient.role, recipient.organisation)
    digest = composer.compose(principal, recipient.subscription, recipient.display_name)
    if digest.empty:
        store.set_send(user, key, SendState.EMPTY)
        return SendState.EMPTY, ""
    message = compose_message(digest, recipient, links, settings.mail_from, database_id)
    wait = not_before - time.monotonic()
    if wait > 0:
        time.sleep(wait)  # the send rate limit
    store.set_send(
        user, key, SendState.SENDING,
        message_id=str(message["Message-ID"]), address=recipient.email, items=digest.keys,
        attempt=True,
    )  # fmt: skip
    handoff = mailer.send(message, sender, recipient.email)
    if handoff.outcome is Outcome.DELIVERED:
        store.set_send(user, key, SendState.SENT, detail=handoff.detail)
        gate.view(principal).handed_out(digest.project_ids, "digest")
        return SendState.SENT, ""
    if handoff.outcome is Outcome.UNCERTAIN:
        store.set_send(user, key, SendState.UNCERTAIN, detail=handoff.detail)
        return SendState.UNCERTAIN, handoff.detail
    if handoff.outcome is Outcome.PERMANENT and handoff.refused_recipient:
        store.bounce(recipient.email, handoff.detail)
        store.set_send(user, key, SendState.BOUNCED, detail=handoff.detail)
        return SendState.BOUNCED, handoff.detail
    if handoff.outcome is Outcome.PERMANENT:
        detail = f"refused: {handoff.detail} (the next run tries again)"
    else:
        detail = f"{handoff.detail} (after {handoff.tries} tries; the next run tries again)"
    store.set_send(user, key, SendState.FAILED, detail=detail)
    return SendState.FAILED, detail


__all__ = ["Summary", "message_id", "send_week", "sender_address"]
