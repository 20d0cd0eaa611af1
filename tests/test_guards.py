"""Guards: layering, the public API, the single error shape, documented CLI commands."""

import ast
from pathlib import Path

import click

import matcher
from service.cli import main

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN_IN_MATCHER = {"service", "fastapi", "starlette", "click", "jinja2", "uvicorn", "pydantic"}
ONLY_IN = {"faiss": "index.py", "sentence_transformers": "embedding.py", "sqlite3": "store.py"}


def imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]


def test_matcher_never_imports_the_outer_ring():
    for path in (ROOT / "matcher").glob("*.py"):
        bad = FORBIDDEN_IN_MATCHER & set(imports(path))
        assert not bad, f"{path.name} imports {bad}"


def test_heavy_dependencies_stay_in_their_module():
    for path in (ROOT / "matcher").glob("*.py"):
        for module, home in ONLY_IN.items():
            if module in set(imports(path)):
                assert path.name == home, f"{module} imported in {path.name}"


def test_sql_only_in_store():
    for path in [*(ROOT / "matcher").glob("*.py"), *(ROOT / "service").glob("*.py")]:
        if path.name != "store.py":
            assert "SELECT " not in path.read_text(), path


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
    for path in (ROOT / "service").glob("*.py"):
        if path.name != "errors.py":
            assert "JSONResponse(" not in path.read_text(), path
