"""Handing messages to an SMTP server (settings: host, port, none / STARTTLS / implicit TLS,
user, password), telling what is known about each hand-off: delivered, refused for now (4xx, no
connection: try again), refused for good (5xx), or uncertain (the connection died while the
message itself was on its way, so nobody knows whether the server took it)."""

from __future__ import annotations

import email.policy
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from enum import StrEnum

from matcher import Settings


class Outcome(StrEnum):
    DELIVERED = "delivered"
    TEMPORARY = "temporary"
    PERMANENT = "permanent"
    UNCERTAIN = "uncertain"


@dataclass(frozen=True)
class Handoff:
    outcome: Outcome
    detail: str = ""
    tries: int = 1
    refused_recipient: bool = False
    """A permanent refusal of the recipient's address itself (RCPT): the address bounces."""
    unreachable: bool = False
    """No session with the server (no connection, TLS or login failed): no message can go."""


class Mailer:
    """One SMTP connection, opened on first use and again after a failure."""

    def __init__(
        self,
        settings: Settings,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._smtp: smtplib.SMTP | None = None
        self._unreachable = False

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    def send(self, message: EmailMessage, sender: str, recipient: str) -> Handoff:
        """Hand one message over, retrying a refused connection or a temporary answer with
        back-off; never retrying once the message's data may have reached the server."""
        tries = 0
        wait = self.settings.smtp_backoff
        # While the server stays unreachable, each further recipient gets one try, not the
        # whole back-off: a batch of a thousand must not wait for each of them in turn.
        retries = 0 if self._unreachable else self.settings.smtp_retries
        while True:
            tries += 1
            handoff = self._send_once(message, sender, recipient)
            if handoff.outcome is not Outcome.TEMPORARY or tries > retries:
                self._unreachable = handoff.unreachable
                return Handoff(
                    handoff.outcome, handoff.detail, tries, handoff.refused_recipient,
                    handoff.unreachable,
                )  # fmt: skip
            self._sleep(wait)
            wait *= 2

    def _send_once(self, message: EmailMessage, sender: str, recipient: str) -> Handoff:
        try:
            smtp = self._connection()
        except (OSError, smtplib.SMTPException) as error:
            self.close()
            return Handoff(
                Outcome.TEMPORARY, f"cannot reach the mail server: {_said(error)}", unreachable=True
            )
        try:
            # Before DATA nothing can have been delivered: every failure here is certain.
            code, reply = smtp.mail(sender)
            if code != 250:
                smtp.rset()
                return _refused(code, reply)
            code, reply = smtp.rcpt(recipient)
            if code not in (250, 251):
                smtp.rset()
                return _refused(code, reply, recipient=True)
        except (OSError, smtplib.SMTPException) as error:
            self.close()
            return Handoff(Outcome.TEMPORARY, f"the mail server dropped us: {_said(error)}")
        try:
            code, reply = smtp.data(message.as_bytes(policy=email.policy.SMTP))
        except smtplib.SMTPDataError as error:  # the server answered the data with a refusal
            return _refused(error.smtp_code, error.smtp_error)
        except (TimeoutError, OSError, smtplib.SMTPException) as error:
            self.close()
            return Handoff(
                Outcome.UNCERTAIN,
                f"the connection failed while the message was being handed over: {_said(error)}",
            )
        if code != 250:
            return _refused(code, reply)
        return Handoff(Outcome.DELIVERED, f"{code} {reply.decode(errors='replace')}")

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None:
            try:
                if self._smtp.noop()[0] == 250:
                    return self._smtp
            except (OSError, smtplib.SMTPException):
                pass
            self.close()
        s = self.settings
        context = ssl.create_default_context(cafile=str(s.smtp_ca_file) if s.smtp_ca_file else None)
        smtp: smtplib.SMTP
        if s.smtp_security == "tls":
            smtp = smtplib.SMTP_SSL(
                s.smtp_host, s.smtp_port, timeout=s.smtp_timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
        try:
            smtp.ehlo()
            if s.smtp_security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password)
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp
        return smtp


def _refused(code: int, reply: bytes | str, recipient: bool = False) -> Handoff:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    detail = f"{code} {text}".strip()
    if 400 <= code < 500:
        return Handoff(Outcome.TEMPORARY, detail)
    return Handoff(Outcome.PERMANENT, detail, refused_recipient=recipient)


def _said(error: BaseException) -> str:
    return str(error).strip() or type(error).__name__
