"""One digest as an e-mail message, and the two ways it leaves: SMTP or the outbox folder.

The message is multipart/alternative (text, then HTML) with Date, Message-ID and
List-Unsubscribe. Delivery errors are sorted into transient (worth another try: SMTP 4xx,
a refused, dropped or timed-out connection) and permanent (SMTP 5xx, a refused login, a
TLS failure): the sender records the second kind instead of retrying it.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import re
import smtplib
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from pathlib import Path
from typing import Protocol

from monitor.digest.config import PASSWORD_ENV, Recipient, Smtp
from monitor.digest.contents import clean, header_text
from monitor.digest.render import Rendered
from monitor.errors import MonitorError
from monitor.files import private_folder, replaced_atomically

log = logging.getLogger("monitor.digest")


class DeliveryError(MonitorError):
    """A digest could not be handed over; ``code`` is the SMTP reply code, if any."""

    permanent = False

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TransientFailure(DeliveryError):
    """Worth trying again later (4xx, refused or dropped connection, timeout)."""


class PermanentFailure(DeliveryError):
    """Trying again will not help (5xx, login refused, TLS or configuration problem)."""

    permanent = True


class HeaderInjection(PermanentFailure):
    """A header would have been written as two lines: the message is not sent at all."""


#: headers whose value is one URL (or id): never folded into RFC 2047 encoded words
_VERBATIM = frozenset({"list-unsubscribe", "list-unsubscribe-post"})
#: RFC 5322's hard limit of a line, without CRLF
_MAX_LINE = 998
#: a line break in a folded header that is not followed by folding white space: the start of
#: a header line nobody meant to write (the check Python 3.11.10 added for CVE-2024-6923)
_NEW_HEADER_LINE = re.compile(r"\r\n[^ \t]|\r[^ \n\t]|\n[^ \t]")


def _one_header(name: str, folded: str, linesep: str) -> str:
    """``folded`` if it is one header (its continuation lines begin with white space)."""
    if not folded.endswith(linesep) or _NEW_HEADER_LINE.search(folded.removesuffix(linesep)):
        raise HeaderInjection(
            f"refused to send a digest whose {name} header would break into a new header "
            "line; check the digest templates (config/digest-templates/) and recipient names"
        )
    return folded


class _MailPolicy(EmailPolicy):
    """The SMTP policy, except that List-Unsubscribe stays one plain line, and that no
    header is ever written as two.

    The email package folds an unstructured header longer than 78 characters that has no
    space in it by turning it into RFC 2047 encoded words (``=?utf-8?q?=3Chttps...?=``):
    mail clients then see no URL and offer no unsubscribe. An ASCII line up to the
    998-character limit is legal as it is.

    The email package also decodes encoded words in the values it is given, and Python
    3.11.7 writes a decoded CR/LF out as it is (CVE-2024-6923). :func:`header_text` keeps
    such words out of the values; this policy, as 3.11.10's ``verify_generated_headers``
    does, refuses any folded header that would still begin a new header line.
    """

    def fold(self, name: str, value: str) -> str:
        line = f"{name}: {value}"
        if name.lower() in _VERBATIM and line.isascii() and len(line) <= _MAX_LINE:
            return _one_header(name, line + self.linesep, self.linesep)
        folded: str = super().fold(name, value)
        return _one_header(name, folded, self.linesep)

    def fold_binary(self, name: str, value: str) -> bytes:
        line = f"{name}: {value}"
        if name.lower() in _VERBATIM and line.isascii() and len(line) <= _MAX_LINE:
            return _one_header(name, line + self.linesep, self.linesep).encode("ascii")
        folded: bytes = super().fold_binary(name, value)
        _one_header(name, folded.decode("ascii", "surrogateescape"), self.linesep)
        return folded


SMTP_POLICY = _MailPolicy(linesep="\r\n")


def build_message(
    rendered: Rendered,
    *,
    recipient: Recipient,
    sender: str,
    message_id: str,
    date: datetime,
    unsubscribe: str,
) -> EmailMessage:
    """The digest as a multipart/alternative message (text first, then HTML)."""
    message = EmailMessage(policy=SMTP_POLICY)
    local, _, domain = sender.partition("@")
    message["From"] = Address("monitor", local, domain)
    to_local, _, to_domain = recipient.address.partition("@")
    # Every header from a structured value: addresses as Address objects (their parts were
    # validated when the settings were read), the date as a datetime, and free text (the
    # subject, the recipient's name) through header_text: no line break, no encoded word.
    message["To"] = Address(header_text(recipient.name, 100), to_local, to_domain)
    message["Subject"] = header_text(rendered.subject, 200)
    message["Date"] = date.astimezone(recipient.timezone)
    message["Message-ID"] = message_id
    message["List-Unsubscribe"] = f"<{unsubscribe}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message


class Transport(Protocol):
    """Hands one message to its recipient; returns where it went (for the journal)."""

    kind: str

    def deliver(self, message: EmailMessage, sender: str, to: str) -> str: ...


@dataclass
class SmtpTransport:
    """An SMTP server, over STARTTLS, TLS or (for a local relay) plain."""

    smtp: Smtp
    ssl_context: ssl.SSLContext | None = None
    kind: str = "smtp"

    def deliver(self, message: EmailMessage, sender: str, to: str) -> str:
        smtp = self.smtp
        if smtp.user and not smtp.password:
            raise PermanentFailure(
                f"smtp.user is {smtp.user!r} but {PASSWORD_ENV} is not set: the password comes "
                "only from the environment"
            )
        context = self.ssl_context or ssl.create_default_context()
        try:
            client = self._connect(context)
            try:
                if smtp.security == "starttls":
                    client.starttls(context=context)
                    client.ehlo()
                if smtp.user:
                    client.login(smtp.user, smtp.password)
                client.send_message(message, from_addr=sender, to_addrs=[to])
            finally:
                _close(client)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise _by_code(code, f"recipient refused: {code} {_reply(reply)}") from exc
        except smtplib.SMTPNotSupportedError as exc:
            # Raised by starttls() (no STARTTLS), login() (no AUTH) and send_message() (no
            # SMTPUTF8): say which, not always STARTTLS.
            raise PermanentFailure(
                f"{smtp.where} does not support what the settings ask for: {exc} "
                "(check smtp.security and smtp.user)"
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise _by_code(exc.smtp_code, f"{exc.smtp_code} {_reply(exc.smtp_error)}") from exc
        except smtplib.SMTPServerDisconnected as exc:
            raise TransientFailure(f"{smtp.where} closed the connection: {exc}") from exc
        except smtplib.SMTPException as exc:
            # Before OSError, of which smtplib's errors are a kind.
            raise TransientFailure(f"SMTP error with {smtp.where}: {exc}") from exc
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError) as exc:
            # The connection went away mid-handshake (a busy or restarting server): the
            # certificate and protocol may be fine, so try again like any dropped connection.
            raise TransientFailure(
                f"{smtp.where} closed the connection during the TLS handshake: {exc}"
            ) from exc
        except ssl.SSLError as exc:
            # Before OSError: a certificate the server should not have is not transient.
            raise PermanentFailure(f"TLS with {smtp.where} failed: {exc.reason or exc}") from exc
        except TimeoutError as exc:
            raise TransientFailure(f"{smtp.where} did not answer in time") from exc
        except OSError as exc:
            raise TransientFailure(
                f"cannot reach {smtp.where}: {exc.strerror or exc.__class__.__name__}"
            ) from exc
        return smtp.where

    def _connect(self, context: ssl.SSLContext) -> smtplib.SMTP:
        smtp = self.smtp
        if smtp.security == "tls":
            return smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout, context=context)
        return smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)


def _close(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()  # the message is handed over (or not) already: only tidy up


def _by_code(code: int, text: str) -> DeliveryError:
    if 500 <= code < 600:
        return PermanentFailure(text, code)
    return TransientFailure(text, code)


def _reply(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return clean(text, 300)


#: outbox write errors that pass with time (the others, like EACCES, need a person)
_PASSING_DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EAGAIN, errno.EINTR}


@dataclass
class OutboxTransport:
    """No SMTP configured: each message becomes an .eml file in a folder (atomically)."""

    folder: Path
    kind: str = "outbox"

    def deliver(self, message: EmailMessage, sender: str, to: str) -> str:
        path = self.folder / outbox_name(str(message["Message-ID"]), to)
        try:
            private_folder(self.folder)  # mail is the recipient's: 0700, and 0600 files
            # Same name for the same Message-ID: a resend replaces, never duplicates. The
            # rename is made durable: the journal is about to say the file is there.
            with replaced_atomically(path) as handle:
                handle.write(message.as_bytes())
        except OSError as exc:
            problem = f"cannot write to the outbox {self.folder}: {exc.strerror or exc}"
            if exc.errno in _PASSING_DISK_ERRORS:
                # A full disk or a flaky one gets better: try again later, as for a 4xx.
                raise TransientFailure(problem) from exc
            raise PermanentFailure(problem) from exc
        log.info("no SMTP server configured (smtp.host): the digest for %s is in %s", to, path)
        return str(path)


def outbox_name(message_id: str, to: str) -> str:
    """``20240310-ana@example.org.eml``: the day from the Message-ID, a safe address.

    Characters outside ``A-Za-z0-9@._+-`` become ``_`` (no ``/``: no path out of the
    folder); an address that needed that gets a short hash of itself too, so ``a/b@x`` and
    ``a=b@x`` (both valid, both ``a_b@x``) never overwrite each other's file.
    """
    day = re.search(r"\.(\d{8})\.", message_id)
    lowered = to.strip().lower()
    address = re.sub(r"[^A-Za-z0-9@._+-]", "_", lowered)
    if address != lowered:
        address += "-" + hashlib.sha256(lowered.encode("utf-8")).hexdigest()[:8]
    return f"{day.group(1) if day else 'digest'}-{address}.eml"


@dataclass(frozen=True, slots=True)
class Delivery:
    """What came of handing one message over, after any quick retries."""

    destination: str | None
    attempts: int
    error: DeliveryError | None = None


def deliver_with_retries(
    transport: Transport,
    message: EmailMessage,
    *,
    sender: str,
    to: str,
    delays: Sequence[float],
    sleep: Callable[[float], None],
) -> Delivery:
    """Try once, then once more after each of ``delays`` while failures are transient."""
    attempts = 0
    for delay in (None, *delays):
        if delay is not None:
            sleep(delay)
        attempts += 1
        try:
            return Delivery(transport.deliver(message, sender, to), attempts)
        except PermanentFailure as exc:
            return Delivery(None, attempts, exc)
        except TransientFailure as exc:
            log.warning("digest for %s: attempt %d failed: %s", to, attempts, exc)
            error: DeliveryError = exc
    return Delivery(None, attempts, error)
