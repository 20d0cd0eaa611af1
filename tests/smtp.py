"""The tests' mail server: the product's loopback SMTP server (`service.digest.mailbox`) with
faults to inject per recipient address, so that a test can make a real SMTP client meet each
answer a relay may give.

    with FaultyMailbox() as box:
        box.faults.defer("a@hub.test", times=2)  # 451 to RCPT twice, then accept
        box.faults.refuse("b@hub.test")          # 550 to RCPT: the address bounces
        box.faults.drop("c@hub.test")            # the connection closes while DATA is answered
        held = box.faults.hold("d@hub.test")     # DATA waits until held.release is set
        ...
        box.to("a@hub.test")                     # the messages received for an address

`no_server()` gives a loopback port nobody listens on (a refused connection)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Self

from aiosmtpd.smtp import SMTP, Envelope, Session

from service.digest.mailbox import Keeper, Mailbox

FOREVER = 1_000_000


@dataclass
class Hold:
    """A DATA held by the server: `entered` is set once the client waits for the answer, and
    the server answers (250) once `release` is set; if the client is gone by then, nothing is
    kept."""

    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


class FaultyKeeper(Keeper):
    """Keeps messages like the product's Keeper, but answers some addresses with a fault."""

    def __init__(self) -> None:
        super().__init__(None)
        self.rcpt_seen: Counter[str] = Counter()
        """RCPT commands received, by address (every try, accepted or not)."""
        self.dropped: list[str] = []
        """Addresses whose DATA ended with the connection closed instead of an answer."""
        self._deferred: dict[str, int] = {}
        self._refused: set[str] = set()
        self._drops: set[str] = set()
        self._holds: dict[str, Hold] = {}

    # ------------------------------------------------------------------ faults to inject

    def defer(self, address: str, times: int = FOREVER) -> None:
        """Answer `451` to RCPT for the address `times` times, then accept it."""
        self._deferred[address.lower()] = times

    def refuse(self, address: str) -> None:
        """Answer `550` to RCPT for the address: a permanent refusal (it bounces)."""
        self._refused.add(address.lower())

    def drop(self, address: str) -> None:
        """Close the connection, with no answer, once the message's data for the address is
        in: the client cannot know whether the message was taken."""
        self._drops.add(address.lower())

    def hold(self, address: str) -> Hold:
        """Hold the answer to the data for the address until `release` is set."""
        found = self._holds[address.lower()] = Hold()
        return found

    def release_all(self) -> None:
        for held in self._holds.values():
            held.release.set()

    def clear(self) -> None:
        """No more faults (what was received stays)."""
        self.release_all()
        self._deferred.clear()
        self._refused.clear()
        self._drops.clear()
        self._holds.clear()

    # ------------------------------------------------------------------ aiosmtpd hooks

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        key = address.lower()
        self.rcpt_seen[key] += 1
        if key in self._refused:
            return "550 5.1.1 No such user here"
        if self._deferred.get(key, 0) > 0:
            self._deferred[key] -= 1
            return "451 4.3.2 Try again later"
        return await super().handle_RCPT(server, session, envelope, address, options)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        addresses = [a.lower() for a in envelope.rcpt_tos]
        if any(a in self._drops for a in addresses):
            self.dropped += addresses
            assert server.transport is not None
            server.transport.close()  # what is answered below goes nowhere
            return "451 4.3.0 never written"
        held = next((self._holds[a] for a in addresses if a in self._holds), None)
        if held is not None:
            held.entered.set()
            # Wait off the loop, so that other connections are served meanwhile; a client that
            # dies while waiting cancels this coroutine (aiosmtpd), and nothing is kept.
            await asyncio.get_running_loop().run_in_executor(None, held.release.wait)
        return await super().handle_DATA(server, session, envelope)


class FaultyMailbox(Mailbox):
    """A running loopback SMTP server with a FaultyKeeper (see `keeper`)."""

    def __init__(self) -> None:
        self.faults = FaultyKeeper()
        super().__init__(handler=self.faults)

    def __enter__(self) -> Self:
        super().__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.faults.release_all()  # no executor thread may wait past the server
        super().__exit__(*exc)

    def to(self, address: str) -> list[EmailMessage]:
        """The messages received for an address, in order."""
        key = address.lower()
        return [m for rcpt, m in self.received if key in (r.lower() for r in rcpt)]

    def count(self, address: str) -> int:
        return len(self.to(address))


def no_server(host: str = "127.0.0.1") -> int:
    """A loopback port nobody listens on: connecting to it is refused."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port
