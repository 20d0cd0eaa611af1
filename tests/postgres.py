"""A throw-away PostgreSQL server on loopback for tests and benchmarks.

`Cluster.start` runs initdb and pg_ctl from the installed binaries (Debian's postgresql package
puts them in /usr/lib/postgresql/VERSION/bin). PostgreSQL refuses to run as root, so as root the
server runs as the `postgres` system user, in a directory it owns. MATCHER_TEST_POSTGRES_URL
names an existing server to use instead (`Cluster.existing`); its user must be able to create
and drop databases.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import URL, make_url

SERVER_USER = "postgres"
URL_VARIABLE = "MATCHER_TEST_POSTGRES_URL"
# Durability is of no use to a server that is deleted after the tests.
SETTINGS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
START_ATTEMPTS = 3  # another process can take the free port before the server binds it


def find_binaries() -> Path | None:
    """The folder with initdb and pg_ctl: Debian's newest version, else PATH or pg_config."""
    return next((folder for folder in _candidate_folders() if _has_binaries(folder)), None)


def postgres_or_skip() -> Cluster:
    """A running cluster: the server in MATCHER_TEST_POSTGRES_URL, else a throw-away one.

    Without PostgreSQL the test is skipped, but fails where CI is "true": CI runs both databases.
    """
    if url := os.environ.get(URL_VARIABLE):
        return Cluster.existing(url)
    binaries = find_binaries()
    if binaries is None:
        reason = (
            "PostgreSQL is not installed (apt-get install postgresql): no initdb and pg_ctl in "
            f"/usr/lib/postgresql/*/bin, on PATH or in pg_config --bindir, and no {URL_VARIABLE}"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return Cluster.start(binaries=binaries)


class Cluster:
    """A PostgreSQL server reached as a superuser, to create and drop databases on.

    A server this object started is stopped and deleted by `stop`; on an existing server,
    `stop` drops the databases this object created and did not drop.
    """

    def __init__(self, server: URL, local: _LocalServer | None = None) -> None:
        self.server = server
        self._local = local
        self._created: set[str] = set()

    @classmethod
    def start(cls, directory: Path | None = None, binaries: Path | None = None) -> Cluster:
        """Initialise and start a server in `directory` (default: a new folder in /tmp).

        The server user must be able to reach `directory`: a folder under /tmp works, one under
        /root (such as pytest's tmp_path when root) does not.
        """
        binaries = binaries or find_binaries()
        if binaries is None:
            raise RuntimeError("PostgreSQL is not installed: no initdb and pg_ctl found")
        if directory is None:
            directory = Path(tempfile.mkdtemp(prefix="matcher-postgres-"))
        directory.mkdir(parents=True, exist_ok=True)
        local = _LocalServer(binaries, directory)
        try:
            if os.geteuid() == 0:
                _give_to_server_user(directory)
            local.initdb()
            port = local.serve()
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        url = URL.create("postgresql+psycopg", SERVER_USER, host="127.0.0.1", port=port)
        return cls(url, local)

    @classmethod
    def existing(cls, url: str) -> Cluster:
        """A server that is already running, reached through a SQLAlchemy or libpq URL."""
        return cls(make_url(url).set(drivername="postgresql+psycopg"))

    @property
    def directory(self) -> Path | None:
        """The data, log and socket of a server this object started; None for an existing one."""
        return self._local.directory if self._local else None

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of `database`, with its password (if any) written out."""
        return self.server.set(database=database).render_as_string(hide_password=False)

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create `name`, a copy of `template` if given (no one may be connected to it); its URL."""
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with self._connect() as connection:
            connection.execute(statement)
        self._created.add(name)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop `name` if it exists, ending the connections to it first."""
        drop = sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name))
        with self._connect() as connection:
            if connection.info.server_version >= 130000:
                connection.execute(drop + sql.SQL(" WITH (FORCE)"))
            else:
                connection.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (name,),
                )
                connection.execute(drop)
        self._created.discard(name)

    def stop(self) -> None:
        """Stop the server and delete its directory; on an existing server, drop our databases."""
        if self._local is None:
            for name in sorted(self._created):
                self.drop_database(name)
        else:
            self._local.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        url = self.server.set(drivername="postgresql", database="postgres")
        return psycopg.connect(
            url.render_as_string(hide_password=False), autocommit=True, connect_timeout=10
        )


@dataclass(frozen=True)
class _LocalServer:
    """initdb and pg_ctl on `directory`: data/, postgres.log and the socket."""

    binaries: Path
    directory: Path

    def initdb(self) -> None:
        self._run(
            "initdb",
            *("-D", str(self.data), "-A", "trust", "-U", SERVER_USER),
            *("--no-sync", "--encoding", "UTF8", "--locale", "C"),
        )

    def serve(self) -> int:
        """Start the server on a free loopback port, and return the port."""
        for _ in range(START_ATTEMPTS - 1):
            with contextlib.suppress(RuntimeError):
                return self._start(_free_port())
        return self._start(_free_port())

    def stop(self) -> None:
        try:
            self._pg_ctl("stop", "-m", "immediate")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def log(self) -> Path:
        return self.directory / "postgres.log"

    def _start(self, port: int) -> int:
        options = f"-h 127.0.0.1 -p {port} -k {self.directory} {SETTINGS}"
        self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.log), "-o", options)
        return port

    def _pg_ctl(self, *arguments: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), *arguments)

    def _run(self, program: str, *arguments: str) -> None:
        """Run `program` as the server user; its output and the log's end in the error."""
        command = [str(self.binaries / program), *arguments]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        result = subprocess.run(
            command, cwd=self.directory, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{' '.join(command)} exited with {result.returncode}:\n"
                f"{result.stdout}{result.stderr}{log}"
            )


def _candidate_folders() -> Iterator[Path]:
    yield from sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version, reverse=True)
    if initdb := shutil.which("initdb"):
        yield Path(initdb).parent
    if pg_config := shutil.which("pg_config"):
        result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if result.returncode == 0:
            yield Path(result.stdout.strip())


def _version(folder: Path) -> tuple[int, ...]:
    """(15,) for /usr/lib/postgresql/15/bin; () for a name that is not a version."""
    parts = folder.parent.name.split(".")
    return tuple(int(part) for part in parts) if all(p.isdigit() for p in parts) else ()


def _has_binaries(folder: Path) -> bool:
    return all(os.access(folder / program, os.X_OK) for program in ("initdb", "pg_ctl"))


def _give_to_server_user(directory: Path) -> None:
    """Make the server user own `directory`, so it can write its data and log there."""
    try:
        user = pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise RuntimeError(
            f"PostgreSQL refuses to run as root and there is no {SERVER_USER!r} user to run it"
        ) from None
    os.chown(directory, user.pw_uid, user.pw_gid)
    directory.chmod(0o755)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
