"""The importers' frame (matcher/sources/common.py) on both databases: one transaction per run,
--strict, erased ids, per-record outcomes, idempotency, and records gone from a source's
snapshot marked absent rather than deleted; and the cleaning of real exports' text."""

from __future__ import annotations

from pathlib import Path

import pytest

from matcher import FundingCall, InvalidRecord, InvalidRecords, Store
from matcher.domain import EntityKind
from matcher.records import parse_call
from matcher.sources import SourceItem, clean_text, import_items
from tests.conftest import make_call

pytestmark = pytest.mark.both_databases


def _item(n: int, text: str = "") -> SourceItem:
    record = make_call(id=f"SRC:T-{n}", title=f"Topic {n} on cell therapy manufacturing")
    if text:
        record["text"] = text
    call = parse_call(record)
    assert isinstance(call, FundingCall)
    return SourceItem(call, f"T-{n}", f"line {n}", notes=(f"derived rule {n}",))


def _run(store: Store, items: list[SourceItem | InvalidRecord], **options: object):
    return import_items(store, "test", Path("topics.jsonl"), items, **options)  # type: ignore[arg-type]


def test_an_import_is_idempotent_and_says_what_happened_to_each_record(database):
    with Store(database) as store:
        first = _run(store, [_item(1), _item(2), _item(3)], snapshot=True)
        assert first.counts == {"added": 3}
        assert {(o.source_id, o.entity_id) for o in first.outcomes} == {
            ("T-1", "SRC:T-1"), ("T-2", "SRC:T-2"), ("T-3", "SRC:T-3"),
        }  # fmt: skip
        assert next(o for o in first.outcomes if o.source_id == "T-2").notes == ("derived rule 2",)
        generation = store.generation()
        again = _run(store, [_item(1), _item(2), _item(3)], snapshot=True)
        assert again.counts == {"unchanged": 3}
        assert store.generation() == generation  # nothing to re-index
        changed = _run(store, [_item(1), _item(2, "A new scope."), _item(3)], snapshot=True)
        assert changed.counts == {"unchanged": 2, "updated": 1}
        assert store.get("SRC:T-2", EntityKind.CALL).text == "A new scope."  # type: ignore[union-attr]
        assert {r.source_id: r.entity_id for r in store.source_records("test")} == {
            "T-1": "SRC:T-1", "T-2": "SRC:T-2", "T-3": "SRC:T-3",
        }  # fmt: skip


def test_a_record_gone_from_the_snapshot_is_marked_absent_not_deleted(database):
    with Store(database) as store:
        _run(store, [_item(1), _item(2), _item(3)], snapshot=True)
        gone = _run(store, [_item(1), _item(3)], snapshot=True)
        assert gone.counts == {"unchanged": 2, "absent": 1}
        assert [o.entity_id for o in gone.outcomes if o.action == "absent"] == ["SRC:T-2"]
        assert store.get("SRC:T-2", EntityKind.CALL).id == "SRC:T-2"  # kept
        records = {r.source_id: r for r in store.source_records("test")}
        assert records["T-2"].absent_since is not None
        assert records["T-1"].absent_since is None
        # Marked once: a later snapshot without it reports nothing new.
        assert _run(store, [_item(1), _item(3)], snapshot=True).counts == {"unchanged": 2}
        # A partial file marks nothing absent.
        assert _run(store, [_item(1)], snapshot=False).counts == {"unchanged": 1}
        back = _run(store, [_item(1), _item(2), _item(3)], snapshot=True)
        assert back.counts == {"unchanged": 3}
        assert all(r.absent_since is None for r in store.source_records("test"))


def test_bad_records_are_reported_and_strict_stores_nothing(database):
    bad = InvalidRecord("is not a date", file="topics.jsonl", record="line 4", field="deadline")
    with Store(database) as store:
        with pytest.raises(InvalidRecords) as raised:
            _run(store, [_item(1), bad, _item(2)], strict=True)
        assert "line 4" in str(raised.value.problems[0])
        assert store.count(EntityKind.CALL, None) == 0
        assert store.source_records("test") == []
        report = _run(store, [_item(1), bad, _item(2)])
        assert report.counts == {"added": 2, "invalid": 1}
        invalid = next(o for o in report.outcomes if o.action == "invalid")
        assert "line 4" in invalid.reason and "deadline" in invalid.reason
        assert report.as_json()["counts"] == {"added": 2, "invalid": 1}


def test_erased_ids_stay_out_and_a_repeated_id_keeps_the_later_record(database):
    with Store(database) as store:
        report = import_items(
            store,
            "test",
            Path("topics.jsonl"),
            [_item(1), _item(2), _item(2, "The later text.")],
            erased={"SRC:T-1"},
        )
        assert report.counts == {"skipped": 2, "added": 1}
        assert {o.reason.split(":")[0] for o in report.outcomes if o.action == "skipped"} == {
            "erased",
            "the same id as line 2",
        }
        assert store.get("SRC:T-2", EntityKind.CALL).text == "The later text."  # type: ignore[union-attr]
        with pytest.raises(Exception, match="SRC:T-1"):
            store.get("SRC:T-1", EntityKind.CALL)


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        # ftfy also straightens curly quotes: plain text for the embedding and the reasons.
        ("The â€œexpected outcomeâ€\x9d is clear", 'The "expected outcome" is clear'),
        ("<p>Scope:</p><ul><li>GMP&nbsp;vectors</li><li>QC</li></ul>", "Scope:\nGMP vectors\nQC"),
        ("  many   spaces\there  ", "many spaces here"),
        ("Universit\u00c3\u00a4tsklinikum", "Universit\u00e4tsklinikum"),
        ("", ""),
        (None, ""),
    ],
)
def test_clean_text_repairs_encodings_and_strips_html(raw, clean):
    assert clean_text(raw) == clean


def test_a_call_gone_from_its_source_is_kept_readable_but_no_longer_proposed(
    store: Store, recommender
):
    from matcher import LOCAL_OPERATOR, Gate

    gate = Gate(store, recommender)
    view = gate.view(LOCAL_OPERATOR)
    proposed = [m.id for m in view.calls_for("P-1", k=10).matches]
    assert proposed, "the world's calls fit P-1"
    call = store.get(proposed[0], EntityKind.CALL)
    others = [e for e in store.entities(EntityKind.CALL, None) if e.id != call.id]
    everything = [SourceItem(e, e.id, e.id) for e in [call, *others]]
    _run(store, everything, snapshot=True)
    assert gate.absent(EntityKind.CALL) == frozenset()
    gone = _run(store, everything[1:], snapshot=True)
    assert [o.entity_id for o in gone.outcomes if o.action == "absent"] == [call.id]
    assert gate.absent(EntityKind.CALL) == {call.id}
    view = gate.view(LOCAL_OPERATOR)
    assert call.id not in [m.id for m in view.calls_for("P-1", k=10).matches]
    assert view.call(call.id).call.id == call.id  # kept, and readable
    assert call.id not in [m.id for row in view.portfolio() for m in row.calls]
    _run(store, everything, snapshot=True)  # back in the source: proposed again
    assert call.id in [m.id for m in gate.view(LOCAL_OPERATOR).calls_for("P-1", k=10).matches]
