"""The digest's part of the store, on SQLite and PostgreSQL: addresses and choices, bounces,
the links' signing key, send records and what they showed, and the week's batch lock."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Table, func, select

from matcher import NotFound, Role, Settings, Store, create_user, update_user
from matcher.digest import SectionKey, SendState, Subscription, Threshold
from matcher.store.schema import digest_seen, digest_sends, subscriptions

pytestmark = pytest.mark.both_databases

WEEK = "2026-W48"
SHOWN = ("partner|P-1|O-EYE|", "call|P-2|C-ROLLING|", "new||O-VEC|", "gap|P-1||vector_supply")
"""Keys of items about the small world's records (conftest)."""


@pytest.fixture
def users(store: Store) -> dict[str, int]:
    """Three users of the small world's store, by name: their ids."""
    made = {
        "u.ann": create_user(store, "u.ann", Role.RESEARCHER),
        "u.bob": create_user(store, "u.bob", Role.BIZDEV),
        "u.cid": create_user(store, "u.cid", Role.ADMIN, display_name="Cid"),
    }
    return {name: user.id for name, user in made.items()}


def rows(store: Store, table: Table, user_id: int) -> int:
    with store.read() as db:
        query = select(func.count()).select_from(table).where(table.c.user_id == user_id)
        return int(db.execute(query).scalar_one())


# ---------------------------------------------------------------------- choices


def test_a_user_without_choices_gets_every_section_strong_matches_only(store, users):
    assert store.subscription("u.ann") == Subscription(
        True, frozenset(SectionKey), Threshold.STRONG
    )
    assert rows(store, subscriptions, users["u.ann"]) == 0  # nothing is written by reading
    with pytest.raises(NotFound):
        store.subscription("u.nobody")
    with pytest.raises(NotFound):
        store.set_subscription("u.nobody", Subscription())


def test_choices_are_kept_and_replaced(store, users):
    chosen = Subscription(False, frozenset({SectionKey.PARTNERS, SectionKey.DUE}), Threshold.GOOD)
    store.set_subscription("u.ann", chosen)
    assert store.subscription("u.ann") == chosen
    store.set_subscription("u.ann", Subscription(True, frozenset(), Threshold.STRONG))
    assert store.subscription("u.ann") == Subscription(True, frozenset(), Threshold.STRONG)
    assert rows(store, subscriptions, users["u.ann"]) == 1
    assert store.subscription("u.bob") == Subscription()  # others are untouched


def test_unsubscribing_keeps_the_choices_twice_is_once_and_an_unknown_id_is_false(store, users):
    chosen = Subscription(True, frozenset({SectionKey.MATCHES}), Threshold.GOOD)
    store.set_subscription("u.bob", chosen)
    assert store.unsubscribe(users["u.bob"]) is True
    assert store.subscription("u.bob") == Subscription(False, chosen.sections, chosen.threshold)
    assert store.unsubscribe(users["u.bob"]) is True
    assert store.subscription("u.bob") == Subscription(False, chosen.sections, chosen.threshold)
    # Without choices made: unsubscribed from the defaults.
    assert store.unsubscribe(users["u.ann"]) is True
    assert store.subscription("u.ann") == Subscription(subscribed=False)
    assert store.unsubscribe(max(users.values()) + 1000) is False
    assert store.subscription("u.cid").subscribed


def test_recipients_are_enabled_users_with_an_address(store, users):
    create_user(store, "u.dan", Role.RESEARCHER)
    store.set_email("u.ann", "ann@example.org")
    store.set_email("u.bob", "")  # no address either
    store.set_email("u.cid", "cid@example.org")
    store.set_email("u.dan", "dan@example.org")
    update_user(store, "u.dan", disabled=True)
    store.set_subscription(
        "u.cid", Subscription(False, frozenset({SectionKey.NEW}), Threshold.GOOD)
    )
    found = store.recipients()
    assert [r.username for r in found] == ["u.ann", "u.cid"]  # in id order
    ann, cid = found
    assert (ann.user_id, ann.email, ann.role) == (
        users["u.ann"],
        "ann@example.org",
        Role.RESEARCHER,
    )
    assert ann.subscription == Subscription()
    assert (cid.display_name, cid.subscription.subscribed, cid.subscription.sections) == (
        "Cid",
        False,
        frozenset({SectionKey.NEW}),
    )  # the unsubscribed are listed: the sender reports them
    assert [r.username for r in store.recipients(["u.cid", "u.bob", "u.dan"])] == ["u.cid"]
    assert store.recipients([]) == []
    store.set_email("u.ann", None)
    assert [r.username for r in store.recipients()] == ["u.cid"]
    with pytest.raises(NotFound):
        store.set_email("u.nobody", "x@example.org")


# ---------------------------------------------------------------------- bounces


def test_a_bounce_is_kept_by_address_whatever_its_case_until_cleared(store):
    assert store.bounced("ann@example.org") is None
    store.bounce(" Ann@Example.ORG", "550 no such user")
    assert store.bounced("ann@example.org") == "550 no such user"
    assert store.bounced("ANN@EXAMPLE.ORG ") == "550 no such user"
    assert store.bounced("bob@example.org") is None
    store.bounce("ann@example.org", "552 mailbox full")  # the latest reason
    assert store.bounced("Ann@example.org") == "552 mailbox full"
    assert store.clear_bounce("ANN@example.org") is True
    assert store.bounced("ann@example.org") is None
    assert store.clear_bounce("ann@example.org") is False


# ---------------------------------------------------------------------- signing key


def test_the_signing_key_is_made_once_and_shared_by_every_store_object(store, settings):
    key = store.signing_key("digest-links")
    assert len(key) >= 32 and store.signing_key("digest-links") == key
    with Store(settings.database) as other:  # another process's store on the same database
        assert other.signing_key("digest-links") == key
        another = other.signing_key("another")
    assert another != key and store.signing_key("another") == another


# ---------------------------------------------------------------------- send records


def test_a_send_record_moves_through_its_states_and_counts_attempts(store, users):
    ann = users["u.ann"]
    assert store.send_record("u.ann", WEEK) is None
    store.set_send(ann, WEEK, SendState.COMPOSED, items=SHOWN)
    record = store.send_record("u.ann", WEEK)
    assert record is not None
    assert (record.state, record.attempts, record.items, record.message_id) == (
        SendState.COMPOSED,
        0,
        SHOWN,
        "",
    )
    store.set_send(
        ann, WEEK, SendState.SENDING, message_id="<1@hub>", address="ann@example.org", attempt=True
    )
    store.set_send(ann, WEEK, SendState.FAILED, detail="421 try later")
    record = store.send_record("u.ann", WEEK)
    assert record is not None and (record.state, record.attempts, record.detail) == (
        SendState.FAILED,
        1,
        "421 try later",
    )
    assert (record.message_id, record.address, record.items) == (
        "<1@hub>",
        "ann@example.org",
        SHOWN,
    )
    assert store.seen("u.ann") == frozenset() and store.last_delivered("u.ann") is None
    store.set_send(ann, WEEK, SendState.SENDING, message_id="<2@hub>", attempt=True)
    store.set_send(ann, WEEK, SendState.SENT)
    record = store.send_record("u.ann", WEEK)
    assert record is not None
    assert (record.state, record.attempts, record.message_id, record.detail) == (
        SendState.SENT,
        2,
        "<2@hub>",
        "",
    )
    assert store.seen("u.ann") == frozenset(SHOWN)
    assert store.last_delivered("u.ann") == record.updated_at
    assert store.seen("u.bob") == frozenset()
    # One record per user and week.
    store.set_send(users["u.bob"], WEEK, SendState.EMPTY)
    store.set_send(ann, "2026-W49", SendState.UNSUBSCRIBED)
    assert [(r.username, r.state) for r in store.send_records(WEEK)] == [
        ("u.ann", SendState.SENT),
        ("u.bob", SendState.EMPTY),
    ]
    assert [r.week for r in store.send_records("2026-W49")] == ["2026-W49"]
    assert rows(store, digest_sends, ann) == 2


def test_only_a_delivered_digest_marks_what_it_showed(store, users):
    ann = users["u.ann"]
    for state in SendState:
        if state is not SendState.SENT:
            store.set_send(
                ann, f"2026-W{10 + list(SendState).index(state):02d}", state, items=SHOWN
            )
    assert store.seen("u.ann") == frozenset()
    gone = "partner|P-GONE|O-EYE|"  # a record erased before delivery leaves nothing of it
    store.set_send(ann, WEEK, SendState.SENT, items=[*SHOWN, SHOWN[0], gone])
    assert store.seen("u.ann") == frozenset(SHOWN)
    store.set_send(ann, "2026-W49", SendState.SENT, items=[SHOWN[1], "partner|P-2|O-CELL|"])
    assert store.seen("u.ann") == {*SHOWN, "partner|P-2|O-CELL|"}
    assert rows(store, digest_seen, ann) == len(SHOWN) + 1
    assert {s for s in SendState if not s.final} == {SendState.COMPOSED, SendState.FAILED}


def test_a_person_resolves_an_uncertain_send(store, users):
    ann, bob = users["u.ann"], users["u.bob"]
    store.set_send(ann, WEEK, SendState.SENDING, items=SHOWN, attempt=True)
    store.set_send(ann, WEEK, SendState.UNCERTAIN, detail="stopped while handing it over")
    record = store.resolve("u.ann", WEEK, SendState.SENT, "ops")
    assert (record.state, record.detail, record.attempts) == (
        SendState.SENT,
        "decided sent by ops",
        1,
    )
    assert store.seen("u.ann") == frozenset(SHOWN)
    store.set_send(bob, WEEK, SendState.UNCERTAIN, items=SHOWN)
    assert store.resolve("u.bob", WEEK, SendState.COMPOSED, "ops").state is SendState.COMPOSED
    assert store.resolve("u.bob", WEEK, SendState.CANCELLED, "ops").state is SendState.CANCELLED
    assert store.seen("u.bob") == frozenset()
    with pytest.raises(NotFound):
        store.resolve("u.bob", "2026-W49", SendState.SENT, "ops")
    with pytest.raises(NotFound):
        store.resolve("u.nobody", WEEK, SendState.SENT, "ops")


def test_erasing_a_user_takes_their_digest_records_and_bounced_address(store, users):
    for name in ("u.ann", "u.bob"):
        user_id = users[name]
        store.set_email(name, f"{name}@example.org")
        store.set_subscription(name, Subscription(threshold=Threshold.GOOD))
        store.set_send(user_id, WEEK, SendState.SENT, items=SHOWN)
        store.bounce(f"{name.upper()}@example.org", "550")
    ann = users["u.ann"]
    assert rows(store, digest_seen, ann) == len(SHOWN)
    store.erase("user", "u.ann", "dpo")
    for table in (subscriptions, digest_sends, digest_seen):
        assert rows(store, table, ann) == 0, table.name
    assert store.bounced("u.ann@example.org") is None
    assert [r.username for r in store.send_records(WEEK)] == ["u.bob"]
    assert store.seen("u.bob") == frozenset(SHOWN)
    assert store.bounced("u.bob@example.org") == "550"
    assert store.subscription("u.bob").threshold is Threshold.GOOD


# ---------------------------------------------------------------------- the week's batch lock


def _hold(
    settings: Settings,
    week: str,
    log: list[str],
    name: str,
    entered: threading.Event,
    leave: threading.Event | None = None,
) -> None:
    """A batch of a week in its own store (as another process would): it logs when it gets the
    week and, when given `leave`, holds it until that is set."""
    with Store(settings.database) as store, store.digest_batch(week):
        log.append(f"{name} in")
        entered.set()
        if leave is not None:
            leave.wait(timeout=10)
        log.append(f"{name} out")


def test_two_batches_of_one_week_run_one_after_the_other(settings):
    log: list[str] = []
    first_in, second_in = threading.Event(), threading.Event()
    release = threading.Event()
    first = threading.Thread(target=_hold, args=(settings, WEEK, log, "first", first_in, release))
    first.start()
    assert first_in.wait(timeout=30)
    second = threading.Thread(target=_hold, args=(settings, WEEK, log, "second", second_in))
    second.start()
    # While the first holds the week, the second does not get in (it would within this wait).
    assert not second_in.wait(timeout=1.0)
    release.set()
    first.join(timeout=30)
    second.join(timeout=30)
    assert log == ["first in", "first out", "second in", "second out"]


def test_batches_of_different_weeks_do_not_wait_for_each_other(settings):
    log: list[str] = []
    first_in, second_in = threading.Event(), threading.Event()
    # The first leaves only once the second is in: were they serialised, this would time out.
    first = threading.Thread(target=_hold, args=(settings, WEEK, log, "first", first_in, second_in))
    first.start()
    assert first_in.wait(timeout=30)
    second = threading.Thread(target=_hold, args=(settings, "2026-W49", log, "second", second_in))
    second.start()
    first.join(timeout=30)
    second.join(timeout=30)
    assert log[:2] == ["first in", "second in"] and sorted(log[2:]) == ["first out", "second out"]
