"""The View hands out typed read models, never bare dictionaries."""

import inspect
import typing

from matcher import Organisation, Page, ProjectRecord, View


def test_no_public_method_of_the_view_returns_a_dict():
    for name, method in inspect.getmembers(View, inspect.isfunction):
        if name.startswith("_"):
            continue
        returned = typing.get_type_hints(method).get("return")
        assert "dict" not in repr(returned), f"View.{name} returns {returned!r}"


def test_projects_and_organisations_are_typed_records(settings, embedder):
    from matcher import LOCAL_OPERATOR, Gate, Store

    with Store(settings.database) as store:
        view = Gate(store, None).view(LOCAL_OPERATOR)
        projects = view.projects()
        assert isinstance(projects, Page) and projects.total == len(projects.items) == 2
        assert all(isinstance(p, ProjectRecord) for p in projects.items)
        assert projects.items[0].owner is not None  # the operator reads the full record
        assert isinstance(view.organisation("O-EYE"), Organisation)
