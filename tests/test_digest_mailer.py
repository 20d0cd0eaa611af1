"""The digest's SMTP hand-off: over STARTTLS and implicit TLS, with a login, against a real
aiosmtpd server on loopback with a certificate made here (its own CA, given through
MATCHER_SMTP_CA_FILE as a hospital's internal CA would be); and back-off that does not make a
whole batch wait on a server that is down."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from matcher import Settings
from service.digest.mailbox import Mailbox, free_port
from service.digest.mailer import Mailer, Outcome

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl here")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (it is its own CA)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))
    return context


def _message() -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = "Hub digest, week 50: 1 new partner"
    message["From"] = "digest@hub.example.org"
    message["To"] = "reader@example.org"
    message.set_content("One new partner.")
    return message


def _authenticate(server: object, session: object, envelope: object, mechanism: str,
                  data: object) -> AuthResult:  # fmt: skip
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"hub", b"s3cret")
    return AuthResult(success=ok, handled=False)


def _settings(port: int, security: str, ca: Path | None, **fields: object) -> Settings:
    return Settings(
        smtp_port=port, smtp_security=security, smtp_ca_file=ca, smtp_retries=0, **fields
    )  # type: ignore[arg-type]


@needs_openssl
def test_starttls_with_a_login_delivers(certificate):
    context = _server_context(certificate)
    with Mailbox(
        tls_context=context,
        require_starttls=True,
        authenticator=_authenticate,
        auth_required=True,
    ) as box:
        settings = _settings(
            box.port, "starttls", certificate[0], smtp_user="hub", smtp_password="s3cret"
        )
        with Mailer(settings) as mailer:
            handoff = mailer.send(_message(), "digest@hub.example.org", "reader@example.org")
    assert handoff.outcome is Outcome.DELIVERED, handoff.detail
    assert [to for to, _ in box.received] == [("reader@example.org",)]
    assert box.received[0][1]["Subject"] == "Hub digest, week 50: 1 new partner"


@needs_openssl
def test_implicit_tls_delivers(certificate):
    with Mailbox(ssl_context=_server_context(certificate)) as box:
        settings = _settings(box.port, "tls", certificate[0])
        with Mailer(settings) as mailer:
            handoff = mailer.send(_message(), "digest@hub.example.org", "reader@example.org")
    assert handoff.outcome is Outcome.DELIVERED, handoff.detail
    assert len(box.received) == 1


@needs_openssl
def test_a_server_whose_certificate_is_not_trusted_gets_nothing(certificate):
    """Without the CA, the certificate is refused before any data: certain, not uncertain."""
    with Mailbox(tls_context=_server_context(certificate), require_starttls=True) as box:
        settings = _settings(box.port, "starttls", None)
        with Mailer(settings) as mailer:
            handoff = mailer.send(_message(), "digest@hub.example.org", "reader@example.org")
    assert handoff.outcome is Outcome.TEMPORARY
    assert "certificate" in handoff.detail.lower()
    assert box.received == []


@needs_openssl
def test_a_wrong_password_is_refused_and_nothing_is_sent(certificate):
    with Mailbox(
        tls_context=_server_context(certificate),
        require_starttls=True,
        authenticator=_authenticate,
        auth_required=True,
    ) as box:
        settings = _settings(
            box.port, "starttls", certificate[0], smtp_user="hub", smtp_password="wrong"
        )
        with Mailer(settings) as mailer:
            handoff = mailer.send(_message(), "digest@hub.example.org", "reader@example.org")
    assert handoff.outcome is Outcome.TEMPORARY
    assert "535" in handoff.detail or "auth" in handoff.detail.lower()
    assert box.received == []


def test_a_server_that_is_down_costs_one_back_off_per_batch_not_per_recipient():
    port = free_port("127.0.0.1")  # nobody listens there yet
    waits: list[float] = []
    settings = Settings(smtp_port=port, smtp_retries=2, smtp_backoff=0.5)
    with Mailer(settings, sleep=waits.append) as mailer:
        first = mailer.send(_message(), "digest@hub.example.org", "a@example.org")
        assert (first.outcome, first.tries, first.unreachable) == (Outcome.TEMPORARY, 3, True)
        assert waits == [0.5, 1.0]  # back-off, doubling
        second = mailer.send(_message(), "digest@hub.example.org", "b@example.org")
        assert (second.outcome, second.tries) == (Outcome.TEMPORARY, 1)
        assert waits == [0.5, 1.0]  # no second back-off while it stays down
        with Mailbox(port=port) as box:
            third = mailer.send(_message(), "digest@hub.example.org", "c@example.org")
            assert third.outcome is Outcome.DELIVERED
            fourth = mailer.send(_message(), "digest@hub.example.org", "d@example.org")
            assert fourth.outcome is Outcome.DELIVERED
    assert [to for to, _ in box.received] == [("c@example.org",), ("d@example.org",)]
