import json
from pathlib import Path

import pytest

from matcher import EntityKind, InvalidRecord, InvalidRecords, Store, load_directory
from tests.conftest import make_organisation, make_project, write_jsonl, write_world


@pytest.fixture
def empty_store(tmp_path):
    with Store(tmp_path / "m.db") as store:
        yield store


def test_load_stores_every_file(tmp_path, empty_store):
    report = load_directory(empty_store, write_world(tmp_path / "d"))
    assert report.files == {"projects.jsonl": 2, "organisations.jsonl": 3, "calls.jsonl": 4}
    assert report.upsert.added == 9
    again = load_directory(empty_store, tmp_path / "d")
    assert (again.upsert.added, again.upsert.unchanged) == (0, 9)


@pytest.mark.parametrize(
    ("line", "field", "fragment"),
    [
        ("{not json", "", "not valid JSON"),
        (json.dumps(make_project(id="P-9", title=None)), "title", "is required"),
        (json.dumps(make_project(id="P-9", visibility="secret")), "visibility", "is not one of"),
        (json.dumps(make_project(id="P-9", updated_at="13/13/2026")), "updated_at", "ISO 8601"),
        (json.dumps(make_project(id="P-1")), "id", "duplicate id"),
    ],
)
def test_a_bad_record_names_file_line_and_field_and_stores_nothing(
    tmp_path, empty_store, line, field, fragment
):
    data = write_world(tmp_path / "d")
    good = (data / "projects.jsonl").read_text()
    (data / "projects.jsonl").write_text(good + line + "\n")
    with pytest.raises(InvalidRecord) as caught:
        load_directory(empty_store, data)
    message = str(caught.value)
    assert "projects.jsonl" in message
    assert "line 3" in message
    assert fragment in message
    assert caught.value.field == field
    for kind in EntityKind:
        assert empty_store.count(kind) == 0


def test_a_failed_reload_keeps_what_was_stored(tmp_path, empty_store):
    data = write_world(tmp_path / "d")
    load_directory(empty_store, data)
    changed = make_organisation(id="O-VEC", name="Renamed")
    write_jsonl(data / "organisations.jsonl", [changed, make_organisation(id="O-X", kind="bank")])
    with pytest.raises(InvalidRecord, match="kind"):
        load_directory(empty_store, data)
    assert empty_store.get("O-VEC").name == "Vector Foundry"
    assert "O-X" not in empty_store.rowids(EntityKind.ORGANISATION)


def test_ids_are_unique_across_files(tmp_path, empty_store):
    data = write_world(tmp_path / "d")
    write_jsonl(data / "organisations.jsonl", [make_organisation(id="P-1")])
    with pytest.raises(InvalidRecord, match=r"also used in projects\.jsonl"):
        load_directory(empty_store, data)


def test_an_empty_directory_says_what_is_expected(tmp_path, empty_store):
    (tmp_path / "nothing").mkdir()
    with pytest.raises(InvalidRecord, match=r"projects\.jsonl"):
        load_directory(empty_store, tmp_path / "nothing")


def test_every_bad_record_of_a_file_is_reported_and_nothing_stored(tmp_path, empty_store):
    data = write_world(tmp_path / "d")
    write_jsonl(
        data / "projects.jsonl",
        [
            make_project(id="P-1"),
            make_project(id="P-2", stage="phase_9"),
            make_project(id="P-3"),
            make_project(id="P-4", title=None),
            make_project(id="P-5", colour="blue"),
        ],
    )
    with pytest.raises(InvalidRecords) as caught:
        load_directory(empty_store, data)
    problems = caught.value.problems
    assert [(p.record, p.field) for p in problems] == [
        ("line 2 (id 'P-2')", "stage"),
        ("line 4 (id 'P-4')", "title"),
        ("line 5 (id 'P-5')", "colour"),
    ]
    assert all(p.file == str(data / "projects.jsonl") for p in problems)
    message = str(caught.value)
    assert message.startswith("3 bad records:")
    assert all(str(p) in message for p in problems)
    for kind in EntityKind:
        assert empty_store.count(kind) == 0


def test_bad_records_of_every_file_are_reported_together(tmp_path, empty_store):
    data = write_world(tmp_path / "d")
    (data / "calls.jsonl").write_text("{not json\n")
    write_jsonl(data / "organisations.jsonl", [make_organisation(id="O-1", kind="bank")])
    with pytest.raises(InvalidRecords) as caught:
        load_directory(empty_store, data)
    assert sorted(Path(p.file).name for p in caught.value.problems) == [
        "calls.jsonl",
        "organisations.jsonl",
    ]


def test_at_most_fifty_bad_records_per_file_are_listed(tmp_path, empty_store):
    data = write_world(tmp_path / "d")
    write_jsonl(data / "projects.jsonl", [make_project(id=f"P-{i}", stage="x") for i in range(60)])
    with pytest.raises(InvalidRecords) as caught:
        load_directory(empty_store, data)
    assert (len(caught.value.problems), caught.value.omitted) == (50, 10)
    assert str(caught.value).startswith("60 bad records:")
    assert str(caught.value).endswith("... and 10 more")
