"""SMTP over STARTTLS and TLS with a login, against aiosmtpd with a certificate made here."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from monitor import FixedClock

from .digestkit import ANA, configure, open_monitor
from .smtpserver import SmtpServer

PASSWORD = "s3cret pass"


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl, as Debian ships it)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: no certificate for the TLS tests")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"monitor",
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535


@pytest.fixture
def starttls_server(certificate: tuple[Path, Path]) -> Iterator[SmtpServer]:
    with SmtpServer(
        tls_context=server_context(certificate),
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    ) as server:
        yield server


def test_starttls_with_login_from_the_environment(
    project: Path, clock: FixedClock, certificate: tuple[Path, Path], starttls_server: SmtpServer
) -> None:
    configure(
        project,
        [ANA],
        smtp_port=starttls_server.port,
        smtp={"security": "starttls", "user": "monitor"},
    )
    env = {"MONITOR_SMTP_PASSWORD": PASSWORD}
    with open_monitor(project, clock, env=env) as monitor:
        monitor.digests.ssl_context = ssl.create_default_context(cafile=str(certificate[0]))
        [result] = monitor.send_due_digests(clock.now())
        assert result.outcome == "sent"
    [received] = starttls_server.received
    assert received.rcpt_tos == ["ana@example.org"]


@pytest.mark.parametrize(
    ("password", "trusted", "error"),
    [
        ("wrong", True, "535"),  # login refused
        (PASSWORD, False, "TLS with 127.0.0.1"),  # a certificate nobody vouches for
    ],
)
def test_refused_login_or_untrusted_certificate_is_permanent(
    project: Path,
    clock: FixedClock,
    certificate: tuple[Path, Path],
    starttls_server: SmtpServer,
    password: str,
    trusted: bool,
    error: str,
) -> None:
    configure(
        project,
        [ANA],
        smtp_port=starttls_server.port,
        smtp={"security": "starttls", "user": "monitor"},
    )
    sleeps: list[float] = []
    with open_monitor(project, clock, sleeps, env={"MONITOR_SMTP_PASSWORD": password}) as m:
        if trusted:
            m.digests.ssl_context = ssl.create_default_context(cafile=str(certificate[0]))
        [result] = m.send_due_digests(clock.now())
    assert result.outcome == "failed"
    assert result.error is not None
    assert error in result.error
    assert sleeps == []
    assert starttls_server.received == []


def test_a_user_without_a_password_in_the_environment_is_refused_before_connecting(
    project: Path, clock: FixedClock, starttls_server: SmtpServer
) -> None:
    configure(project, [ANA], smtp_port=starttls_server.port, smtp={"user": "monitor"})
    with open_monitor(project, clock) as monitor:
        [result] = monitor.send_due_digests(clock.now())
    assert result.outcome == "failed"
    assert result.error is not None
    assert "MONITOR_SMTP_PASSWORD is not set" in result.error
    assert starttls_server.handler.transactions == 0


def test_implicit_tls(project: Path, clock: FixedClock, certificate: tuple[Path, Path]) -> None:
    with SmtpServer(ssl_context=server_context(certificate)) as server:
        configure(project, [ANA], smtp_port=server.port, smtp={"security": "tls"})
        with open_monitor(project, clock) as monitor:
            monitor.digests.ssl_context = ssl.create_default_context(cafile=str(certificate[0]))
            [result] = monitor.send_due_digests(clock.now())
        assert result.outcome == "sent"
        assert len(server.received) == 1


def test_a_server_that_hangs_up_during_the_tls_handshake_is_transient(
    project: Path, clock: FixedClock
) -> None:
    """A busy or restarting server closes the connection mid-handshake (SSLEOFError).

    That says nothing about its certificate: retried like any dropped connection, not
    recorded as a permanent failure that waits for a person.
    """
    import contextlib
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def hang_up() -> None:
        # Accept, read the ClientHello, end the stream cleanly: no TLS reply ever comes.
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn, contextlib.suppress(OSError):
                conn.recv(4096)
                conn.shutdown(socket.SHUT_WR)
                conn.recv(4096)

    server = threading.Thread(target=hang_up, daemon=True)
    server.start()
    try:
        configure(project, [ANA], smtp_port=port, smtp={"security": "tls"})
        sleeps: list[float] = []
        with open_monitor(project, clock, sleeps) as monitor:
            [result] = monitor.send_due_digests(clock.now())
            [status] = monitor.digests.status(clock.now())
    finally:
        stop.set()
        # Wake the accept() so the thread sees the stop.
        socket.create_connection(("127.0.0.1", port)).close()
        server.join(timeout=10)
        listener.close()
    assert result.outcome == "deferred"
    assert result.error is not None
    assert "during the TLS handshake" in result.error
    assert sleeps == [2.0, 10.0]  # tried again right away, twice
    assert not status.last_error_permanent
