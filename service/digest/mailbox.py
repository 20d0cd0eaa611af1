"""A loopback SMTP server (aiosmtpd) that keeps each message it receives as an .eml file, with
its HTML part beside it as .html: `matcher mailbox` for the demo, and the tests' mail server."""

from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from matcher.atomic import write_atomically


class Keeper:
    """The aiosmtpd handler: keeps every message (in memory and, with a folder, on disk)."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.received: list[tuple[tuple[str, ...], EmailMessage]] = []
        self._lock = threading.Lock()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        with self._lock:
            self.received.append((tuple(envelope.rcpt_tos), message))
            number = len(self.received)
        if self.folder is not None:
            self._keep(self.folder, number, raw, message, envelope.rcpt_tos)
        return "250 Message accepted for delivery"

    @staticmethod
    def _keep(folder: Path, number: int, raw: bytes, message: EmailMessage, to: list[str]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9.@_-]", "_", ",".join(to))[:80]
        stem = f"{number:05d}-{name}"
        write_atomically(folder / f"{stem}.eml", raw)
        html = message.get_body(("html",))
        if html is not None:
            write_atomically(folder / f"{stem}.html", str(html.get_content()).encode())


class Mailbox:
    """A running loopback SMTP server; port 0 picks a free port (see `port`)."""

    def __init__(
        self,
        folder: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        handler: Keeper | None = None,
        **server: Any,
    ) -> None:
        """`server` goes to aiosmtpd's server (e.g. tls_context and require_starttls for
        STARTTLS, ssl_context for implicit TLS, authenticator and auth_required for a login)."""
        self.keeper = handler or Keeper(folder)
        self.host = host
        self.port = port or free_port(host)
        self._controller = Controller(self.keeper, hostname=host, port=self.port, **server)

    @property
    def received(self) -> list[tuple[tuple[str, ...], EmailMessage]]:
        return self.keeper.received

    def __enter__(self) -> Mailbox:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


def free_port(host: str) -> int:
    """A port nobody listens on now (aiosmtpd's controller needs the port before it starts)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
