"""Sending the weekly digest (service/digest/send.py) to a real SMTP server on loopback
(tests/smtp.py, with faults injected per address), on SQLite and PostgreSQL, with the real model.

The hub is the access world (tests/conftest.py) with four readers who have an address, in this
order: u.res (a researcher, member of two confidential projects), u.other (a researcher who owns
the others, among them P-OTHER-CONF with CANARY_OTHER in its title), u.bizdev (the whole
portfolio) and u.empty (a researcher with no project: an empty digest). Every assertion is on
what the server received (parsed), on the store's records, or on what the command printed."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner
from sqlalchemy import or_, select, text

from matcher import (
    DocumentEncoder,
    Feedback,
    Gate,
    Recommender,
    Role,
    SentenceTransformerEmbedder,
    Settings,
    Store,
    create_user,
    erase,
    ledger_path,
)
from matcher.digest import SendState, Week
from matcher.store.digest import DIGEST_LOCK
from matcher.store.engine import lock_file
from matcher.store.schema import digest_seen, digest_sends
from service.cli import main
from service.digest import BadToken, Links, Summary, preview, send_week
from service.digest.render import message_id
from tests.conftest import (
    CANARY_OTHER,
    CANARY_TEAM,
    OTHER,
    RESEARCHER,
    ROOT,
    TODAY,
    access_settings,
)
from tests.smtp import FaultyMailbox, no_server

pytestmark = pytest.mark.both_databases

WEEK = Week.of(TODAY)
NEXT_WEEK = Week.of(WEEK.monday + dt.timedelta(days=7))
PUBLIC = "https://hub.example.test/matcher"
BIZDEV = "u.bizdev"
EMPTY = "u.empty"
READERS = (
    (RESEARCHER, "researcher"),
    (OTHER, "researcher"),
    (BIZDEV, "bizdev"),
    (EMPTY, "researcher"),
)
ADDRESS = {name: f"{name.replace('.', '-')}@hub.test" for name, _ in READERS}
WITH_NEWS = (RESEARCHER, OTHER, BIZDEV)
"""The readers whose digest of WEEK is not empty."""
COMMAND_TIMEOUT = 300
TEAM_TITLE = "Allogeneic CAR-T cells with TRAC knock-out for lymphoma"
"""P-TEAM-CONF's title: u.res is in its team, u.other owns it."""


@dataclass
class Hub:
    """The access world with its readers, a store and gate in this process, and a mail server."""

    world: Path
    settings: Settings
    store: Store
    gate: Gate
    box: FaultyMailbox
    embedder: SentenceTransformerEmbedder
    started: list[subprocess.Popen[str]] = field(default_factory=list)

    def send(self, week: Week = WEEK, **changes: Any) -> Summary:
        return send_week(self.gate, replace(self.settings, **changes), week)

    def state(self, username: str, week: Week = WEEK) -> SendState | None:
        record = self.store.send_record(username, str(week))
        return None if record is None else record.state

    def count(self, username: str) -> int:
        """Messages the server received for the reader's address."""
        return self.box.count(ADDRESS[username])

    def message(self, username: str) -> EmailMessage:
        found = self.box.to(ADDRESS[username])
        assert len(found) == 1, f"{username} got {len(found)} messages"
        return found[0]

    def user_id(self, username: str) -> int:
        return self.store.user(username).id

    # ------------------------------------------------------------------ the `matcher` command

    def env(self, **changes: str) -> dict[str, str]:
        """The environment of a `matcher` process on this hub's database, models and server."""
        s = self.settings
        env = {k: v for k, v in os.environ.items() if not k.startswith("MATCHER_")}
        env.update(
            MATCHER_DB_PATH=str(s.db_path),
            MATCHER_MODELS_DIR=str(s.models_dir),
            MATCHER_TODAY=TODAY.isoformat(),
            MATCHER_PUBLIC_URL=PUBLIC,
            MATCHER_SMTP_HOST="127.0.0.1",
            MATCHER_SMTP_PORT=str(self.box.port),
            MATCHER_SMTP_RETRIES="2",
            MATCHER_SMTP_BACKOFF="0.01",
            MATCHER_DIGEST_PER_SECOND="1000",
            PYTHONPATH=str(ROOT),
        )
        if s.database_url:
            env["MATCHER_DATABASE_URL"] = s.database_url
        env.update(changes)
        return env

    def start(self, name: str, *args: str) -> subprocess.Popen[str]:
        """`matcher ARGS` in a new process; its output goes to a log file named `name`."""
        log = open(self.world / f"{name}.log", "w")  # noqa: SIM115 (the child holds it)
        with log:
            process = subprocess.Popen(
                [sys.executable, "-m", "service.cli", *args],
                cwd=ROOT,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )
        self.started.append(process)
        return process

    def stop(self) -> None:
        """End what a failed test left running (only the processes started here)."""
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=COMMAND_TIMEOUT)

    def finish(self, name: str, process: subprocess.Popen[str]) -> tuple[int, str]:
        """Wait for a process started by `start`: its exit status and output."""
        code = process.wait(timeout=COMMAND_TIMEOUT)
        return code, (self.world / f"{name}.log").read_text(errors="replace")

    def run(self, *args: str) -> tuple[int, str]:
        name = f"run-{len(list(self.world.glob('run-*.log')))}"
        return self.finish(name, self.start(name, *args))

    def cli(self, *args: str) -> tuple[int, str]:
        """A quick `matcher` command (no model, no mail) run in this process."""
        result = CliRunner().invoke(main, list(args), env=self.env())
        return result.exit_code, result.output


@pytest.fixture
def hub(access_world: Path, embedder: SentenceTransformerEmbedder) -> Iterator[Hub]:
    with FaultyMailbox() as box:
        settings = access_settings(
            access_world,
            public_url=PUBLIC,
            smtp_host="127.0.0.1",
            smtp_port=box.port,
            smtp_retries=3,
            smtp_backoff=0.01,
            digest_per_second=1000.0,
        )
        with Store(settings.database) as store:
            for username, role in READERS:
                create_user(store, username, Role(role), display_name=username.title())
                store.set_email(username, ADDRESS[username])
            recommender = Recommender.open(
                store,
                DocumentEncoder(embedder, store),
                settings.models_dir,
                today=lambda: TODAY,
            )
            hub = Hub(access_world, settings, store, Gate(store, recommender), box, embedder)
            try:
                yield hub
            finally:
                hub.stop()


# ---------------------------------------------------------------------- reading what arrived

URL = re.compile(r"https?://[^\s<>\"')\]]+")
CONFIDENTIAL = ("P-OWN-CONF", "P-OTHER-CONF", "P-TEAM-CONF")


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [v for k, v in attrs if k in ("href", "src", "action") and v]


def parts(message: EmailMessage) -> tuple[str, str]:
    """The decoded text and HTML parts."""
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


def links_in(message: EmailMessage) -> tuple[list[str], list[str]]:
    """Every link in the text part, and every href in the HTML part."""
    text, html = parts(message)
    parser = _Hrefs()
    parser.feed(html)
    return URL.findall(text), parser.found


def everything(message: EmailMessage) -> str:
    """The headers, the raw message and its decoded parts: what a reader could see."""
    headers = "\n".join(f"{k}: {v}" for k, v in message.items())
    return "\n".join((headers, message.as_string(), *parts(message)))


def token(url: str) -> str:
    return parse_qs(urlsplit(url).query)["t"][0]


def pairs_of(keys: tuple[str, ...]) -> set[tuple[str, str]]:
    """The (project, candidate) pairs of shown items' keys (kind|project|candidate|detail)."""
    return {(k.split("|")[1], k.split("|")[2]) for k in keys if all(k.split("|")[1:3])}


def summary_count(output: str, label: str) -> int:
    found = re.search(rf"Digest {WEEK}: .*?(\d+) {label}", output)
    assert found, output
    return int(found[1])


# ---------------------------------------------------------------------- the message itself


def test_headers_parts_and_signed_links(hub: Hub) -> None:
    summary = hub.send()
    assert summary.counts["sent"] == 3, summary.lines()
    message = hub.message(RESEARCHER)
    user_id = hub.user_id(RESEARCHER)
    record = hub.store.send_record(RESEARCHER, str(WEEK))
    assert record is not None and record.state is SendState.SENT

    # The Message-ID is the same whenever the same digest is rendered again.
    sent_id = message["Message-ID"]
    assert re.fullmatch(rf"<digest\.{WEEK}\.[0-9a-f]{{24}}@hub\.example\.org>", sent_id)
    assert sent_id == record.message_id
    assert sent_id == message_id(hub.store.database_id, user_id, str(WEEK), hub.settings.mail_from)
    assert preview(hub.gate, hub.settings, RESEARCHER, WEEK).message["Message-ID"] == sent_id
    assert hub.message(OTHER)["Message-ID"] != sent_id

    # RFC 8058 one-click unsubscribe, with a signed link to this hub.
    found = re.fullmatch(r"<(https?://[^>\s]+)>", message["List-Unsubscribe"])
    assert found, message["List-Unsubscribe"]
    unsubscribe = found[1]
    assert unsubscribe.startswith(f"{PUBLIC}/digest/unsubscribe?t=")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    links = Links.of(hub.store, hub.settings.public_url)
    assert links.unsubscribe_claim(token(unsubscribe)) == user_id

    # Text first, then HTML with its styles inlined.
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    plain, html = parts(message)
    for name in ("Cell Therapy Partner Ltd", "Clinical translation of CAR-T therapies"):
        assert name in plain and name in html
    assert re.search(r'<a [^>]*class="title"[^>]*style="[^"]+"', html) or re.search(
        r'<a [^>]*style="[^"]+"[^>]*class="title"', html
    ), html[:2000]
    assert len(re.findall(r'style="[^"]+"', html)) >= 10

    # Every link in both parts leads to the hub's public address.
    text_links, html_links = links_in(message)
    assert text_links and html_links
    for link in (*text_links, *html_links):
        assert link.startswith(f"{PUBLIC}/"), link
    assert unsubscribe in html_links

    # Each item about one pair has a signed link per verdict, naming the reader and the pair.
    pairs = pairs_of(record.items)
    assert len(pairs) >= 2, record.items
    verdicts = {Feedback.RELEVANT, Feedback.NOT_RELEVANT, Feedback.ALREADY_KNOWN}
    for found_links in (text_links, html_links):
        feedback = [u for u in found_links if u.startswith(f"{PUBLIC}/digest/feedback?t=")]
        claims = {links.feedback_claim(token(u)) for u in feedback}
        assert {c.user_id for c in claims} == {user_id}
        assert {(c.project_id, c.candidate_id, c.verdict) for c in claims} == {
            (p, c, v) for p, c in pairs for v in verdicts
        }
    good = token(next(u for u in text_links if "/digest/feedback?" in u))
    tampered = good[:5] + ("A" if good[5] != "A" else "B") + good[6:]
    with pytest.raises(BadToken):
        links.feedback_claim(tampered)
    with pytest.raises(BadToken):  # an unsubscribe token is no feedback token, nor the reverse
        links.feedback_claim(token(unsubscribe))
    with pytest.raises(BadToken):
        links.unsubscribe_claim(good)


def test_a_confidential_project_reaches_only_those_who_may_see_it(hub: Hub) -> None:
    hub.send()
    everyone = {name: everything(hub.message(name)) for name in WITH_NEWS}
    assert CANARY_OTHER not in everyone[RESEARCHER]
    assert "P-OTHER-CONF" not in everyone[RESEARCHER]
    # The owner's digest names it, so the check above is one that could fail.
    assert CANARY_OTHER in everyone[OTHER]
    # The audit log records each confidential project handed out by e-mail, to whom.
    audited: dict[str, set[str]] = {name: set() for name in WITH_NEWS}
    for entry in hub.store.audit():
        if entry.action == "digest":
            assert entry.kind == "project" and entry.object_id in CONFIDENTIAL, entry
            audited[entry.actor].add(entry.object_id)
    for name, seen in everyone.items():
        assert audited[name] == {p for p in CONFIDENTIAL if p in seen}, name
    assert audited[RESEARCHER] == {"P-OWN-CONF", "P-TEAM-CONF"}
    assert "P-OTHER-CONF" in audited[OTHER] and "P-OTHER-CONF" in audited[BIZDEV]


# ---------------------------------------------------------------------- exactly once


def test_a_second_run_sends_nothing_again(hub: Hub) -> None:
    first = hub.send()
    assert first.counts == {"sent": 3, "empty": 1}, first.lines()
    second = hub.send()
    assert second.counts == {"done before": 4}, second.lines()
    for name in WITH_NEWS:
        assert hub.count(name) == 1, name
        assert hub.state(name) is SendState.SENT
    assert hub.state(EMPTY) is SendState.EMPTY
    assert len(hub.box.received) == 3


def _waiting_for_the_week(hub: Hub, pids: set[int]) -> bool:
    """Whether one of these processes waits for the week's batch lock (held by another)."""
    if not hub.settings.database_url:
        # /proc/locks lists a waiter as `N: -> FLOCK ADVISORY WRITE PID MAJ:MIN:INODE ...`.
        inode = os.stat(lock_file(hub.settings.db_path, f"digest-{WEEK}")).st_ino
        waiting = [line.split() for line in Path("/proc/locks").read_text().splitlines()]
        return any(
            f[1:3] == ["->", "FLOCK"] and int(f[5]) in pids and f[6].endswith(f":{inode}")
            for f in waiting
        )
    query = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        "AND classid = :key AND objsubid = 2 AND pid <> pg_backend_pid()"
    )
    with hub.store.read() as db:
        return bool(db.execute(query, {"key": DIGEST_LOCK}).scalar())


def test_two_send_commands_at_once_send_each_message_once(hub: Hub) -> None:
    # The first batch to take the week's lock is held inside its first message's DATA until the
    # other one waits for the lock, so that the two do overlap.
    held = hub.box.faults.hold(ADDRESS[RESEARCHER])
    args = ("digest", "send", "--week", str(WEEK), "--quiet")
    a, b = hub.start("a", *args), hub.start("b", *args)
    try:
        assert held.entered.wait(COMMAND_TIMEOUT), (hub.world / "a.log").read_text()
        deadline = time.monotonic() + COMMAND_TIMEOUT
        while not _waiting_for_the_week(hub, {a.pid, b.pid}):
            assert a.poll() is None and b.poll() is None, "a batch ended while the other held DATA"
            assert time.monotonic() < deadline, "the second batch never waited for the lock"
            time.sleep(0.05)
    finally:
        held.release.set()
    results = [hub.finish("a", a), hub.finish("b", b)]
    for code, output in results:
        assert code == 0, output
    assert sorted(summary_count(out, "sent") for _, out in results) == [0, 3]
    assert sorted(summary_count(out, "done before") for _, out in results) == [0, 4]
    for name in WITH_NEWS:
        assert hub.count(name) == 1, name
        assert hub.state(name) is SendState.SENT
    assert len(hub.box.received) == 3


def test_a_batch_killed_mid_send_leaves_that_message_uncertain_until_resolved(hub: Hub) -> None:
    held = hub.box.faults.hold(ADDRESS[OTHER])  # the second recipient
    killed = hub.start("killed", "digest", "send", "--week", str(WEEK))
    try:
        assert held.entered.wait(COMMAND_TIMEOUT), (hub.world / "killed.log").read_text()
        assert killed.poll() is None
        killed.send_signal(signal.SIGKILL)
        assert killed.wait(COMMAND_TIMEOUT) == -signal.SIGKILL
    finally:
        held.release.set()
    assert hub.state(RESEARCHER) is SendState.SENT
    assert hub.state(OTHER) is SendState.SENDING
    assert hub.state(BIZDEV) is None
    # The server may or may not have kept the message (its client died waiting for the answer).
    arrived = hub.count(OTHER)
    hub.box.faults.clear()

    code, output = hub.run("digest", "send", "--week", str(WEEK))
    assert code == 2, output
    assert summary_count(output, "uncertain") == 1
    assert summary_count(output, "sent") == 1
    assert re.search(rf"uncertain: {OTHER}: a batch stopped while handing <digest\.", output)
    assert f"matcher digest resolve USER --week {WEEK}" in output
    assert hub.state(OTHER) is SendState.UNCERTAIN
    assert hub.count(OTHER) == arrived
    assert hub.count(RESEARCHER) == 1 and hub.count(BIZDEV) == 1
    assert hub.state(EMPTY) is SendState.EMPTY

    code, status = hub.cli("digest", "status", "--week", str(WEEK))
    assert code == 0, status
    lines = {line.split()[0]: line for line in status.splitlines() if line.strip()}
    assert lines[OTHER].split()[1] == "uncertain", status
    assert lines[RESEARCHER].split()[1] == "sent" and lines[BIZDEV].split()[1] == "sent"

    # Never sent again by itself.
    again = hub.send()
    assert again.counts == {"done before": 4}, again.lines()
    assert hub.count(OTHER) == arrived

    code, said = hub.cli("digest", "resolve", OTHER, "--week", str(WEEK), "--as", "resend")
    assert code == 0 and f"{OTHER} {WEEK}: composed." in said, said
    code, output = hub.run("digest", "send", "--week", str(WEEK))
    assert code == 0, output
    assert summary_count(output, "sent") == 1 and summary_count(output, "done before") == 3
    assert hub.count(OTHER) == arrived + 1
    record = hub.store.send_record(OTHER, str(WEEK))
    assert record is not None and record.state is SendState.SENT
    assert hub.box.to(ADDRESS[OTHER])[-1]["Message-ID"] == record.message_id
    assert hub.count(RESEARCHER) == 1 and hub.count(BIZDEV) == 1 and hub.count(EMPTY) == 0


def test_a_connection_lost_during_data_is_uncertain_and_not_retried(hub: Hub) -> None:
    address = ADDRESS[OTHER]
    hub.box.faults.drop(address)
    summary = hub.send()
    assert summary.counts == {"sent": 2, "uncertain": 1, "empty": 1}, summary.lines()
    [(user, state, detail)] = summary.problems
    assert (user, state) == (OTHER, "uncertain")
    assert "the connection failed while the message was being handed over" in detail
    assert hub.box.faults.dropped == [address]
    assert hub.box.faults.rcpt_seen[address] == 1  # no retry once DATA was under way
    record = hub.store.send_record(OTHER, str(WEEK))
    assert record is not None and record.state is SendState.UNCERTAIN and record.attempts == 1

    hub.box.faults.clear()
    again = hub.send()
    assert again.counts == {"done before": 4}, again.lines()
    assert hub.box.faults.rcpt_seen[address] == 1 and hub.count(OTHER) == 0

    # A person learns it arrived: `--as sent` marks it sent (what it showed counts as shown).
    code, said = hub.cli("digest", "resolve", OTHER, "--week", str(WEEK), "--as", "sent")
    assert code == 0 and f"{OTHER} {WEEK}: sent." in said, said
    record = hub.store.send_record(OTHER, str(WEEK))
    assert record is not None and record.state is SendState.SENT and record.items
    assert hub.store.seen(OTHER) >= set(record.items)
    third = hub.send()
    assert third.counts == {"done before": 4}, third.lines()
    assert hub.box.faults.rcpt_seen[address] == 1 and hub.count(OTHER) == 0


# ---------------------------------------------------------------------- SMTP faults


def test_no_mail_server_fails_every_message_and_a_later_run_sends_them(hub: Hub) -> None:
    summary = hub.send(smtp_port=no_server(), smtp_retries=1)
    assert summary.counts == {"failed": 3, "empty": 1}, summary.lines()
    assert [user for user, _, _ in summary.problems] == list(WITH_NEWS)
    # The first recipient gets the back-off; while the server stays unreachable, the others
    # get one try each.
    tries = [re.search(r"after (\d+) tries", detail) for _, _, detail in summary.problems]
    assert [int(t[1]) if t else None for t in tries] == [2, 1, 1], summary.problems
    for _, state, detail in summary.problems:
        assert state == "failed" and "cannot reach the mail server" in detail, detail
    for name in WITH_NEWS:
        record = hub.store.send_record(name, str(WEEK))
        assert record is not None and record.state is SendState.FAILED
        assert "cannot reach the mail server" in record.detail and record.attempts == 1
    assert hub.box.received == []

    later = hub.send()
    assert later.counts == {"sent": 3, "done before": 1}, later.lines()
    for name in WITH_NEWS:
        record = hub.store.send_record(name, str(WEEK))
        assert record is not None and record.state is SendState.SENT and record.attempts == 2
        assert hub.count(name) == 1


def test_a_recipient_deferred_twice_is_sent_after_retries(hub: Hub) -> None:
    address = ADDRESS[RESEARCHER]
    hub.box.faults.defer(address, times=2)
    summary = hub.send(smtp_retries=3)
    assert summary.counts == {"sent": 3, "empty": 1}, summary.lines()
    assert hub.box.faults.rcpt_seen[address] == 3
    assert hub.count(RESEARCHER) == 1
    record = hub.store.send_record(RESEARCHER, str(WEEK))
    assert record is not None and record.state is SendState.SENT
    assert record.attempts == 1  # one hand-off, its retries inside it


def test_a_recipient_deferred_for_ever_fails_and_the_others_are_sent(hub: Hub) -> None:
    address = ADDRESS[RESEARCHER]
    hub.box.faults.defer(address)
    summary = hub.send(smtp_retries=2)
    assert summary.counts == {"failed": 1, "sent": 2, "empty": 1}, summary.lines()
    [(user, state, detail)] = summary.problems
    assert (user, state) == (RESEARCHER, "failed")
    assert detail.startswith("451") and "after 3 tries" in detail, detail
    assert hub.box.faults.rcpt_seen[address] == 3
    assert hub.count(RESEARCHER) == 0 and hub.count(OTHER) == 1 and hub.count(BIZDEV) == 1
    record = hub.store.send_record(RESEARCHER, str(WEEK))
    assert record is not None and record.state is SendState.FAILED and record.attempts == 1

    later = hub.send(smtp_retries=2)  # a failed message is tried again by the next run
    assert later.counts == {"failed": 1, "done before": 3}, later.lines()
    assert hub.box.faults.rcpt_seen[address] == 6
    record = hub.store.send_record(RESEARCHER, str(WEEK))
    assert record is not None and record.state is SendState.FAILED and record.attempts == 2


def test_a_refused_recipient_bounces_and_is_skipped_next_week(hub: Hub) -> None:
    address = ADDRESS[OTHER]
    hub.box.faults.refuse(address)
    summary = hub.send()
    assert summary.counts == {"bounced": 1, "sent": 2, "empty": 1}, summary.lines()
    [(user, state, detail)] = summary.problems
    assert (user, state) == (OTHER, "bounced") and detail.startswith("550"), detail
    reason = hub.store.bounced(address)
    assert reason is not None and reason.startswith("550")
    assert hub.state(OTHER) is SendState.BOUNCED
    assert hub.box.faults.rcpt_seen[address] == 1 and hub.count(OTHER) == 0
    assert hub.count(RESEARCHER) == 1 and hub.count(BIZDEV) == 1

    following = hub.send(NEXT_WEEK)
    assert following.counts["bounced"] == 1, following.lines()
    assert hub.state(OTHER, NEXT_WEEK) is SendState.BOUNCED
    assert hub.box.faults.rcpt_seen[address] == 1  # not even tried


# ---------------------------------------------------------------------- who gets nothing


def test_an_unsubscribed_reader_gets_nothing(hub: Hub) -> None:
    hub.send()
    # The reader follows the message's one-click link (what the link's route does).
    header = hub.message(RESEARCHER)["List-Unsubscribe"]
    claimed = Links.of(hub.store, hub.settings.public_url).unsubscribe_claim(token(header[1:-1]))
    assert hub.store.unsubscribe(claimed)
    following = hub.send(NEXT_WEEK)
    assert following.counts["unsubscribed"] == 1, following.lines()
    assert hub.state(RESEARCHER, NEXT_WEEK) is SendState.UNSUBSCRIBED
    assert hub.count(RESEARCHER) == 1  # last week's only
    assert hub.box.faults.rcpt_seen[ADDRESS[RESEARCHER]] == 1


def test_an_empty_digest_is_not_sent(hub: Hub) -> None:
    assert preview(hub.gate, hub.settings, EMPTY, WEEK).digest.empty
    summary = hub.send()
    assert summary.counts["empty"] == 1 and summary.counts["sent"] == 3, summary.lines()
    assert hub.state(EMPTY) is SendState.EMPTY
    assert hub.box.faults.rcpt_seen[ADDRESS[EMPTY]] == 0


def test_an_erased_user_gets_nothing_and_leaves_no_record(hub: Hub) -> None:
    hub.send()
    assert hub.state(OTHER) is SendState.SENT
    other = hub.user_id(OTHER)
    encoder = DocumentEncoder(hub.embedder, hub.store)
    ledger = ledger_path(hub.settings.db_path)
    erase(hub.store, encoder, hub.settings.models_dir, "user", OTHER, "dpo", ledger)

    following = hub.send(NEXT_WEEK)
    assert sum(following.counts.values()) == 3, following.lines()
    assert hub.box.faults.rcpt_seen[ADDRESS[OTHER]] == 1  # last week's only
    assert hub.count(OTHER) == 1
    d, s = digest_sends.c, digest_seen.c
    with hub.store.read() as db:
        sends = db.execute(
            select(d.id).where(or_(d.user_id == other, d.address == ADDRESS[OTHER]))
        ).all()
        seen = db.execute(select(s.key).where(s.user_id == other)).all()
    assert sends == [] and seen == []
    assert hub.store.bounced(ADDRESS[OTHER]) is None


def test_an_erased_project_is_in_nobody_s_message(hub: Hub) -> None:
    erased = "P-TEAM-CONF"
    assert TEAM_TITLE in preview(hub.gate, hub.settings, RESEARCHER, WEEK).html
    encoder = DocumentEncoder(hub.embedder, hub.store)
    ledger = ledger_path(hub.settings.db_path)
    erase(hub.store, encoder, hub.settings.models_dir, "project", erased, "dpo", ledger)

    summary = hub.send()
    assert summary.counts == {"sent": 3, "empty": 1}, summary.lines()
    for name in WITH_NEWS:
        seen = everything(hub.message(name))
        for trace in (erased, TEAM_TITLE, CANARY_TEAM):
            assert trace not in seen, (name, trace)
        record = hub.store.send_record(name, str(WEEK))
        assert record is not None and not any(erased in key for key in record.items)
