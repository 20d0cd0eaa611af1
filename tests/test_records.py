import pytest

from matcher import InvalidRecord, parse_call, parse_organisation, parse_project, to_record
from tests.conftest import make_call, make_organisation, make_project


@pytest.mark.parametrize(
    ("parse", "record"),
    [
        (parse_project, make_project()),
        (parse_organisation, make_organisation()),
        (parse_call, make_call(budget={"total": 1e6, "currency": "EUR"})),
    ],
)
def test_records_round_trip(parse, record):
    entity = parse(record)
    assert parse(to_record(entity)) == entity


@pytest.mark.parametrize(
    ("record", "field", "fragment"),
    [
        (make_project(modality="car-t-ish"), "modality", "is not one of"),
        (make_project(stage=None), "stage", "is required"),
        (make_project(updated_at="yesterday"), "updated_at", "ISO 8601"),
        (make_project(indications=[]), "indications", "at least one"),
        (make_project(colour="blue"), "colour", "unknown field"),
        (make_project(id="has space"), "id", "not a valid id"),
        (make_project(needs=["money"]), "needs", "is not one of"),
    ],
)
def test_bad_project_fields_are_named(record, field, fragment):
    with pytest.raises(InvalidRecord) as caught:
        parse_project(record)
    assert caught.value.field == field
    assert fragment in str(caught.value)


def test_nested_call_errors_name_the_path():
    with pytest.raises(InvalidRecord) as caught:
        parse_call(make_call(deadlines=[{"date": "2027-02-30"}]))
    assert caught.value.field == "deadlines[0].date"
    with pytest.raises(InvalidRecord) as caught:
        parse_call(make_call(eligibility={"countries": ["Europe"]}))
    assert caught.value.field == "eligibility.countries[0]"
    with pytest.raises(InvalidRecord) as caught:
        parse_call(make_call(eligibility={"min_stage": "phase_1", "max_stage": "discovery"}))
    assert caught.value.field == "eligibility.min_stage"


def test_organisation_needs_a_profile_document():
    with pytest.raises(InvalidRecord) as caught:
        parse_organisation(make_organisation(documents=[]))
    assert caught.value.field == "documents"
    with pytest.raises(InvalidRecord) as caught:
        parse_organisation(make_organisation(documents=[{"title": "x"}]))
    assert caught.value.field == "documents[0].text"
