"""Who gets a digest, when, about what; and how mail leaves (SMTP or the outbox folder).

Parsed from ``config/monitor.toml`` by :func:`monitor.settings.load_settings`; every error
names the key it is about (``digest.recipients[1].timezone: ...``). No I/O here: the loader
hands in the raw TOML values and the environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.errors import ConfigError

#: where the SMTP password comes from (never from the config file)
PASSWORD_ENV = "MONITOR_SMTP_PASSWORD"  # noqa: S105 (a variable name, not a password)
SECURITY = ("starttls", "tls", "none")
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
WHEN_EMPTY = ("note", "skip")
# One mailbox, no display name, no whitespace or angle brackets (which could smuggle a
# second address or a header into the envelope).
_ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SEND_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_RECIPIENT_KEYS = {"address", "name", "timezone", "send_time", "commitments"}
#: longest address accepted: the recipient's stream is named after it
MAX_ADDRESS = 190


@dataclass(frozen=True, slots=True)
class Recipient:
    """One person who reads the digest: in their time zone, at their hour, on their topics."""

    address: str
    name: str
    timezone: ZoneInfo
    send_time: time
    #: commitment ids or topic tags; empty means every commitment
    commitments: tuple[str, ...] = ()

    @property
    def everything(self) -> bool:
        return not self.commitments


@dataclass(frozen=True, slots=True)
class Smtp:
    """The SMTP server digests are handed to; ``host`` empty means: write to the outbox."""

    host: str
    port: int
    security: Literal["starttls", "tls", "none"]
    user: str
    #: from MONITOR_SMTP_PASSWORD only; kept out of repr() so it never reaches a log
    password: str = field(repr=False)
    timeout: float = 30.0

    @property
    def configured(self) -> bool:
        return bool(self.host)

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class DigestSettings:
    """Everything about digests: recipients, contents, templates, and the way out."""

    recipients: tuple[Recipient, ...]
    smtp: Smtp
    sender: str
    outbox: Path
    templates: Path
    stale_days: int
    deadline_days: int
    when_empty: Literal["note", "skip"]
    base_url: str
    unsubscribe: str

    def recipient(self, address: str) -> Recipient:
        """The configured recipient with this address (case-insensitive)."""
        wanted = address.strip().lower()
        for recipient in self.recipients:
            if recipient.address.lower() == wanted:
                return recipient
        known = ", ".join(r.address for r in self.recipients) or "none configured"
        raise ConfigError(
            f"{address!r} is not a digest recipient (known: {known}); add a "
            "[[digest.recipients]] table to config/monitor.toml"
        )


def valid_address(value: str) -> bool:
    """A plain mailbox (``ana@example.org``) that is short enough to name a stream."""
    return len(value) <= MAX_ADDRESS and _ADDRESS.match(value) is not None


def parse_recipients(raw: object) -> tuple[Recipient, ...]:
    """The ``[[digest.recipients]]`` tables, validated; errors name the entry and the key."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError("digest.recipients: must be an array of tables ([[digest.recipients]])")
    recipients: list[Recipient] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw):
        where = f"digest.recipients[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: must be a table with address, timezone, send_time")
        unknown = sorted(set(entry) - _RECIPIENT_KEYS)
        if unknown:
            raise ConfigError(
                f"{where}.{unknown[0]}: unknown key (known: {', '.join(sorted(_RECIPIENT_KEYS))})"
            )
        recipient = _recipient(where, entry)
        if recipient.address.lower() in seen:
            raise ConfigError(f"{where}.address: {recipient.address} is listed twice")
        seen.add(recipient.address.lower())
        recipients.append(recipient)
    return tuple(recipients)


def _recipient(where: str, entry: Mapping[str, Any]) -> Recipient:
    address = entry.get("address")
    if not isinstance(address, str) or not valid_address(address.strip()):
        raise ConfigError(
            f"{where}.address: {address!r} is not a plain e-mail address such as ana@example.org"
            f" (at most {MAX_ADDRESS} characters)"
        )
    name = entry.get("name", "")
    if not isinstance(name, str) or _CONTROL.search(name) or len(name) > 100:
        raise ConfigError(f"{where}.name: a single line of at most 100 characters")
    zone_name = entry.get("timezone", "UTC")
    if not isinstance(zone_name, str):
        raise ConfigError(f"{where}.timezone: must be a string such as Asia/Tokyo")
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"{where}.timezone: unknown time zone {zone_name!r} (use an IANA name such as "
            "Asia/Tokyo or America/New_York)"
        ) from exc
    send_time = entry.get("send_time", "08:00")
    match = _SEND_TIME.match(send_time) if isinstance(send_time, str) else None
    if match is None:
        raise ConfigError(f"{where}.send_time: {send_time!r} is not a time HH:MM such as 07:30")
    return Recipient(
        address=address.strip(),
        name=name.strip(),
        timezone=zone,
        send_time=time(int(match.group(1)), int(match.group(2))),
        commitments=_scope(where, entry.get("commitments", "all")),
    )


def _scope(where: str, value: object) -> tuple[str, ...]:
    if value == "all":
        return ()
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, str) and v.strip() for v in value)
    ):
        raise ConfigError(
            f'{where}.commitments: "all" or a non-empty list of commitment ids and topic tags '
            '(["EPCC23-SEMI-03", "ai"])'
        )
    return tuple(dict.fromkeys(v.strip() for v in value))


#: hosts on this machine: the only ones a password may be sent to over plain SMTP
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def parse_digest(
    values: Mapping[str, str],
    recipients: object,
    base: Path,
    env: Mapping[str, str],
) -> DigestSettings:
    """Digest and SMTP settings from the loader's values (keyed ``table.key``)."""
    security = values["smtp.security"].strip().lower()
    if security not in SECURITY:
        raise ConfigError(f"smtp.security: {security!r} is not one of {', '.join(SECURITY)}")
    port_text = values["smtp.port"].strip()
    port = (
        DEFAULT_PORTS[security]
        if port_text in ("", "0")
        else _integer("smtp.port", port_text, 1, 65535)
    )
    host = values["smtp.host"].strip()
    if _CONTROL.search(host) or " " in host:
        raise ConfigError(f"smtp.host: {host!r} is not a host name")
    if security == "none" and values["smtp.user"].strip() and host not in LOOPBACK:
        # A login over a plain connection sends the password in clear across the network.
        raise ConfigError(
            "smtp.user: a login needs smtp.security = starttls or tls (with security = none "
            "the password would cross the network in clear; only a relay on this machine, "
            "localhost, may take it plain)"
        )
    smtp = Smtp(
        host=host,
        port=port,
        security=security,  # type: ignore[arg-type]
        user=values["smtp.user"].strip(),
        password=env.get(PASSWORD_ENV, ""),
        timeout=float(_integer("smtp.timeout", values["smtp.timeout"], 1, 600)),
    )
    sender = values["digest.sender"].strip()
    if not valid_address(sender):
        raise ConfigError(f"digest.sender: {sender!r} is not a plain e-mail address")
    when_empty = values["digest.when_empty"].strip().lower()
    if when_empty not in WHEN_EMPTY:
        raise ConfigError(f"digest.when_empty: {when_empty!r} is not one of note, skip")
    base_url = values["digest.base_url"].strip().rstrip("/")
    if base_url and not re.match(r"^https?://[^\s<>\"]+$", base_url):
        raise ConfigError(f"digest.base_url: {base_url!r} is not an http(s) URL")
    unsubscribe = values["digest.unsubscribe"].strip()
    if unsubscribe and not re.match(r"^(mailto:|https?://)[^\s<>\"]+$", unsubscribe):
        raise ConfigError(f"digest.unsubscribe: {unsubscribe!r} must be a mailto: or http(s) URL")
    return DigestSettings(
        recipients=parse_recipients(recipients),
        smtp=smtp,
        sender=sender,
        outbox=(base / values["digest.outbox"]).resolve(),
        templates=(base / values["digest.templates"]).resolve(),
        stale_days=_integer("digest.stale_days", values["digest.stale_days"], 1, 3650),
        deadline_days=_integer("digest.deadline_days", values["digest.deadline_days"], 0, 3650),
        when_empty=when_empty,  # type: ignore[arg-type]
        base_url=base_url,
        unsubscribe=unsubscribe or f"mailto:{sender}?subject=unsubscribe",
    )


def _integer(name: str, value: str, low: int, high: int) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise ConfigError(f"{name}: {value!r} is not a whole number from {low} to {high}")
    return number


def describe_digest(digest: DigestSettings) -> dict[str, Any]:
    """For ``monitor config``: the way out and the recipients (never the password)."""
    smtp = digest.smtp
    return {
        "digest_delivery": (
            f"smtp {smtp.where} ({smtp.security})"
            + (f" as {smtp.user}" if smtp.user else "")
            + (" [password from the environment]" if smtp.password else "")
            if smtp.configured
            else f"outbox {digest.outbox} (no smtp.host)"
        ),
        "digest_recipients": [
            f"{r.address} {r.send_time:%H:%M} {r.timezone.key}"
            + ("" if r.everything else f" ({', '.join(r.commitments)})")
            for r in digest.recipients
        ],
    }


def scope_matches(recipient: Recipient, commitment_id: str, topics: Sequence[str]) -> bool:
    """Whether a commitment is one this recipient follows (by id or by topic tag)."""
    if recipient.everything:
        return True
    wanted = {c.casefold() for c in recipient.commitments}
    return commitment_id.casefold() in wanted or any(t.casefold() in wanted for t in topics)
