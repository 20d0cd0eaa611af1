import json

import pytest
from click.testing import CliRunner

from matcher import Store
from matcher.store import HEAD
from service.cli import main
from tests.conftest import TODAY, make_project, write_jsonl, write_world


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("MATCHER_DB_PATH", str(tmp_path / "cli.db"))
    monkeypatch.setenv("MATCHER_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("MATCHER_TODAY", TODAY.isoformat())
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


@pytest.fixture
def built(run, world, monkeypatch):
    """A CLI environment over a copy of the session's built world."""
    monkeypatch.setenv("MATCHER_DB_PATH", str(world / "matcher.db"))
    monkeypatch.setenv("MATCHER_MODELS_DIR", str(world / "models"))
    return run


def test_init_load_build_from_scratch(run, tmp_path):
    data = write_world(tmp_path / "data")
    assert f"schema revision {HEAD}" in run("init").output
    loaded = run("load", str(data))
    assert loaded.exit_code == 0 and "added 9" in loaded.output
    built = run("build")
    assert built.exit_code == 0, built.output
    assert "organisations: 4 documents" in built.output
    again = run("build")
    assert "organisations: 4 documents, 0 texts embedded" in again.output
    listed = run("list", "projects")
    assert listed.output.splitlines()[0].startswith("P-1\t")


def test_recommend_json(built):
    result = built("recommend", "P-1", "--to", "partners", "-k", "2", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    matches = out["matches"]
    assert [m["rank"] for m in matches] == [1, 2]
    assert matches[0]["id"] == "O-EYE"
    assert {"id", "name", "entity", "kind", "score", "strength", "rank", "reasons"} <= set(
        matches[0]
    )
    assert matches[0]["kind"] == "hospital_unit" and 0 <= matches[0]["score"] <= 1
    assert out["direction"] == "project->partners" and "nothing_fits" in out


def test_recommend_calls_kind_filter_reverse_and_search(built):
    calls = json.loads(built("recommend", "P-1", "--to", "calls", "--json").output)["matches"]
    assert "C-CLOSED" not in [c["id"] for c in calls]
    cdmos = json.loads(built("recommend", "P-1", "--kind", "cdmo", "--json").output)["matches"]
    assert {m["id"] for m in cdmos} == {"O-VEC", "O-CELL"}
    reverse = built("reverse", "O-CELL", "-k", "1")
    assert "P-2" in reverse.output and "query:" in reverse.output
    found = json.loads(built("search", "AAV vector supply", "-k", "1", "--json").output)
    assert found["matches"][0]["id"] == "O-VEC"


def test_failures_say_what_to_do_next(run, built, tmp_path):
    missing = built("recommend", "P-404")
    assert missing.exit_code == 1 and "matcher list projects" in missing.output
    bad = tmp_path / "bad"
    bad.mkdir()
    write_jsonl(bad / "projects.jsonl", [make_project(stage="phase_9")])
    result = built("load", str(bad))
    assert result.exit_code == 1
    assert "projects.jsonl" in result.output and "line 1" in result.output
    assert "'stage'" in result.output


def test_default_k_comes_from_matcher_top_k(built, monkeypatch):
    monkeypatch.setenv("MATCHER_TOP_K", "2")
    assert len(json.loads(built("recommend", "P-1", "--json").output)["matches"]) == 2
    assert len(json.loads(built("recommend", "P-1", "-k", "3", "--json").output)["matches"]) == 3


def test_reverse_of_an_unknown_id(built):
    result = built("reverse", "X-404")
    assert result.exit_code == 1
    assert "No organisation or call with id 'X-404'" in result.output
    assert "`matcher list`" in result.output


def test_no_index_says_build(run):
    run("init")
    result = run("recommend", "P-1")
    assert result.exit_code == 1 and "matcher build" in result.output


def test_bad_setting_names_the_variable(run, monkeypatch):
    monkeypatch.setenv("MATCHER_TOP_K", "ten")
    result = run("init")
    assert result.exit_code == 1 and "MATCHER_TOP_K='ten'" in result.output


def test_users_load_creates_the_missing_users_with_a_demo_password(run, tmp_path):
    from tests.conftest import ROOT

    assert run("load", str(ROOT / "data" / "demo")).exit_code == 0
    users = ROOT / "data" / "demo" / "users.jsonl"
    created = run("users", "load", str(users), "--password", "demo-hub-2026")
    assert "Created 5 users" in created.output
    assert "Created 0 users: none (all exist)" in run("users", "load", str(users)).output
    with Store(tmp_path / "cli.db") as store:
        roles = {u.username: u.role.value for u in store.users()}
        assert roles["hub.bizdev"] == "bizdev" and roles["partner.guest"] == "guest"
        assert store.password_hash("u.okonkwo.a")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"username": "x.y", "role": "boss"}\n')
    failed = CliRunner().invoke(main, ["users", "load", str(bad)])
    assert failed.exit_code == 1 and f"file {bad}, line 1" in failed.output
