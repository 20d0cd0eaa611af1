"""The throw-away PostgreSQL server of tests/postgres.py: start, databases, templates, stop."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from tests import postgres
from tests.postgres import Cluster, find_binaries, postgres_or_skip


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with postgres_or_skip() as started:
        yield started


def unique(prefix: str) -> str:
    """A database name no other run uses, for a shared MATCHER_TEST_POSTGRES_URL server."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def databases(cluster: Cluster) -> set[str]:
    engine = create_engine(cluster.url("postgres"))
    try:
        with engine.connect() as connection:
            return set(connection.scalars(text("SELECT datname FROM pg_database")))
    finally:
        engine.dispose()


def test_a_created_database_takes_tables_and_rows(cluster):
    url = cluster.create_database(unique("rows"))
    assert url.startswith("postgresql+psycopg://")
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            assert connection.scalar(text("SELECT 1")) == 1
            connection.execute(text("CREATE TABLE item (id integer PRIMARY KEY, name text)"))
            connection.execute(text("INSERT INTO item VALUES (1, 'vector'), (2, 'capsid')"))
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id, name FROM item ORDER BY id")).all()
        assert [tuple(row) for row in rows] == [(1, "vector"), (2, "capsid")]
    finally:
        engine.dispose()


def test_a_database_made_from_a_template_holds_its_rows(cluster):
    template = unique("template")
    engine = create_engine(cluster.create_database(template))
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE item AS SELECT 'aav8' AS name"))
    finally:
        engine.dispose()
    copy = create_engine(cluster.create_database(unique("copy"), template=template))
    try:
        with copy.connect() as connection:
            assert connection.scalars(text("SELECT name FROM item")).all() == ["aav8"]
    finally:
        copy.dispose()


def test_a_database_is_dropped_while_a_connection_is_open(cluster):
    name = unique("dropped")
    engine = create_engine(cluster.create_database(name))
    try:
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT 1")) == 1
            cluster.drop_database(name)
            assert name not in databases(cluster)
            connection.invalidate()  # the server ended it
    finally:
        engine.dispose()
    cluster.drop_database(name)  # already gone: nothing to do


@pytest.mark.skipif(find_binaries() is None, reason="PostgreSQL is not installed")
def test_a_second_cluster_runs_beside_the_first_and_stop_deletes_it(cluster):
    with Cluster.start() as second:
        assert second.directory is not None
        assert (second.directory / "postgres.log").exists()
        assert second.server.port != cluster.server.port
        engine = create_engine(second.url("postgres"))
        try:
            with engine.connect() as connection:
                assert connection.scalar(text("SELECT current_user")) == "postgres"
        finally:
            engine.dispose()
    assert not second.directory.exists()


def test_the_environment_names_an_existing_server(cluster, monkeypatch):
    monkeypatch.setenv(postgres.URL_VARIABLE, cluster.url("postgres"))
    existing = postgres_or_skip()
    assert existing.directory is None
    kept, left = unique("kept"), unique("left")
    assert existing.create_database(left) == cluster.url(left)
    existing.create_database(kept)
    existing.drop_database(kept)
    assert left in databases(cluster)
    existing.stop()  # drops what it created, leaves the server running
    assert left not in databases(cluster)
    assert "postgres" in databases(cluster)


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail), ("", pytest.skip)])
def test_without_postgresql_tests_skip_but_ci_fails(monkeypatch, ci, outcome):
    monkeypatch.delenv(postgres.URL_VARIABLE, raising=False)
    monkeypatch.setenv("CI", ci)
    monkeypatch.setattr(postgres, "find_binaries", lambda: None)
    with pytest.raises(outcome.Exception, match="apt-get install postgresql"):
        postgres_or_skip()
