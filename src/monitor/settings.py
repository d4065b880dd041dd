"""Typed settings: defaults, then ``config/monitor.toml``, then ``MONITOR_*`` variables.

One registry (:data:`SETTINGS`) describes every key; the loader, ``monitor config`` and the
documentation (docs/configuration.md, checked by a test) all read it.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time as dt_time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url

from monitor.digest.config import PASSWORD_ENV, DigestSettings, describe_digest, parse_digest
from monitor.errors import ConfigError
from monitor.sources.limits import MIB, FetchLimits
from monitor.store.database import SYNCHRONOUS, sqlite_url
from monitor.store.heads import SIGNING_KEY_ENV


@dataclass(frozen=True, slots=True)
class Setting:
    """One configuration key: its TOML table and name, environment variable and meaning."""

    table: str
    key: str
    default: str
    help: str
    #: the environment variable, when MONITOR_<KEY> would be ambiguous (MONITOR_SMTP_HOST)
    env_var: str = ""

    @property
    def name(self) -> str:
        return f"{self.table}.{self.key}"

    @property
    def env(self) -> str:
        return self.env_var or f"MONITOR_{self.key.upper()}"


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "database",
        "database_url",
        "",
        "SQLAlchemy URL of the store: postgresql://USER@HOST/DB for teams; empty means the "
        "SQLite file monitor.sqlite3 in data_dir.",
    ),
    Setting(
        "database",
        "sqlite_synchronous",
        "full",
        "SQLite only: `full` fsyncs every commit (a recorded decision survives a power cut); "
        "`normal` is faster but may lose the last commits on a power cut or OS crash.",
    ),
    Setting(
        "paths",
        "data_dir",
        "data",
        "Folder for the SQLite file and other local state (relative to the config file's "
        "folder's parent, i.e. the project folder). With no config file: the user's data "
        "folder (e.g. ~/.local/share/monitor), never the folder a command runs from.",
    ),
    Setting(
        "paths",
        "catalogue",
        "config/commitments.toml",
        "The commitment catalogue that `monitor init` and `monitor sync` load (relative to the "
        "project folder). Where that file does not exist, the catalogue that ships with "
        "monitor (the 2023 Economic 2+2 statement).",
    ),
    Setting(
        "paths",
        "sources",
        "config/sources.toml",
        "The feeds and news searches that `monitor init` and `monitor sync` load (relative to "
        "the project folder). Sources added with `monitor sources add` live in the database.",
    ),
    Setting(
        "poll",
        "connect_timeout",
        "10",
        "Seconds to wait for a feed's server to accept the connection.",
    ),
    Setting(
        "poll",
        "read_timeout",
        "30",
        "Seconds a feed's server may stay silent mid-answer before the fetch fails.",
    ),
    Setting(
        "poll",
        "deadline",
        "60",
        "Seconds one whole fetch (redirects included) may take, however it trickles in.",
    ),
    Setting(
        "poll",
        "max_body_mib",
        "10",
        "Largest feed body accepted, in MiB, both as received and after decompression.",
    ),
    Setting("poll", "concurrency", "16", "Fetches in flight at once."),
    Setting("poll", "per_host", "2", "Fetches in flight at once to one host."),
    Setting(
        "poll",
        "allow_private_addresses",
        "false",
        "`true` lets sources be fetched from loopback, private, link-local and other "
        "non-public addresses (a feed on your intranet, a test server); `false` refuses "
        "them, after every redirect and DNS answer.",
    ),
    Setting(
        "display",
        "timezone",
        "UTC",
        "IANA time zone in which dates are shown and bare dates typed by users are read "
        "(for example Asia/Tokyo, America/New_York). Stored times are always UTC.",
    ),
    Setting(
        "digest",
        "sender",
        "monitor@localhost",
        "The From address of digests (and of the default List-Unsubscribe mailto:).",
        "MONITOR_DIGEST_SENDER",
    ),
    Setting(
        "digest",
        "outbox",
        "data/outbox",
        "Folder where digests are written as .eml files when no SMTP server is configured "
        "(smtp.host empty).",
        "MONITOR_DIGEST_OUTBOX",
    ),
    Setting(
        "digest",
        "templates",
        "config/digest-templates",
        "Folder of your own subject.txt, body.txt and body.html templates; each file there "
        "replaces the built-in one of that name.",
        "MONITOR_DIGEST_TEMPLATES",
    ),
    Setting(
        "digest",
        "stale_days",
        "30",
        "Open commitments with no accepted evidence for this many days are listed.",
        "MONITOR_DIGEST_STALE_DAYS",
    ),
    Setting(
        "digest",
        "deadline_days",
        "30",
        "Deadlines this many days ahead count as near (passed ones are always listed).",
        "MONITOR_DIGEST_DEADLINE_DAYS",
    ),
    Setting(
        "digest",
        "when_empty",
        "note",
        "A day with nothing new: `note` sends a short note, `skip` sends nothing.",
        "MONITOR_DIGEST_WHEN_EMPTY",
    ),
    Setting(
        "digest",
        "base_url",
        "",
        "Address of the web UI (https://monitor.example.org) for links in digests; empty: "
        "no links into the review queue.",
        "MONITOR_DIGEST_BASE_URL",
    ),
    Setting(
        "digest",
        "unsubscribe",
        "",
        "The List-Unsubscribe target, mailto: or https:; empty: mailto:SENDER?subject=unsubscribe.",
        "MONITOR_DIGEST_UNSUBSCRIBE",
    ),
    Setting(
        "smtp",
        "host",
        "",
        "SMTP server for digests; empty: no mail is sent, digests go to digest.outbox.",
        "MONITOR_SMTP_HOST",
    ),
    Setting(
        "smtp",
        "port",
        "",
        "SMTP port; empty: 587 for starttls, 465 for tls, 25 for none.",
        "MONITOR_SMTP_PORT",
    ),
    Setting(
        "smtp",
        "security",
        "starttls",
        "`starttls` (upgrade a plain connection), `tls` (TLS from the first byte) or `none` "
        "(only for a relay on the same host).",
        "MONITOR_SMTP_SECURITY",
    ),
    Setting(
        "smtp",
        "user",
        "",
        f"SMTP login name; empty: no login. The password comes only from {PASSWORD_ENV}.",
        "MONITOR_SMTP_USER",
    ),
    Setting(
        "smtp",
        "timeout",
        "30",
        "Seconds to wait for the SMTP server at each step before the attempt counts as failed.",
        "MONITOR_SMTP_TIMEOUT",
    ),
)

SETTINGS += (
    Setting(
        "service",
        "tick_seconds",
        "30",
        "`monitor serve`: seconds between scheduler ticks; each tick polls the sources that "
        "are due (their next check time lives in the store).",
        "MONITOR_SERVICE_TICK_SECONDS",
    ),
    Setting(
        "service",
        "deadline_check",
        "00:15",
        "`monitor serve`: local time (display.timezone), HH:MM, of the daily deadline check; "
        "a check missed while the service was down runs at start-up.",
        "MONITOR_SERVICE_DEADLINE_CHECK",
    ),
    Setting(
        "service",
        "log_level",
        "info",
        "`monitor serve` log level: debug, info, warning or error (logs go to stdout).",
        "MONITOR_LOG_LEVEL",
    ),
    Setting(
        "service",
        "log_format",
        "text",
        "`text` (one readable line per record) or `json` (one JSON object per line).",
        "MONITOR_LOG_FORMAT",
    ),
    Setting(
        "service",
        "standby_retry_seconds",
        "5",
        "PostgreSQL: how often a standby `monitor serve` tries to take the scheduler lease; "
        "a dead leader is replaced within this (plus one tick).",
        "MONITOR_SERVICE_STANDBY_RETRY",
    ),
    Setting(
        "service",
        "ready_events_behind",
        "10",
        "/readyz answers 503 while the read models are more than this many events behind the "
        "journal (pages would show an old state).",
        "MONITOR_SERVICE_READY_EVENTS_BEHIND",
    ),
    Setting(
        "web",
        "host",
        "127.0.0.1",
        "Address the web UI listens on (`monitor serve`, `monitor web`): only this machine "
        "by default; 0.0.0.0 for every interface (put TLS in front).",
        "MONITOR_WEB_HOST",
    ),
    Setting("web", "port", "8080", "Port of the web UI.", "MONITOR_WEB_PORT"),
    Setting(
        "web",
        "https",
        "false",
        "`true` when browsers reach the UI over HTTPS (a TLS proxy in front): Secure cookies "
        "and HSTS.",
        "MONITOR_WEB_HTTPS",
    ),
    Setting(
        "web",
        "allowed_hosts",
        "",
        "Host names the web UI answers for (a TOML array, or names separated by commas); a "
        "request naming another Host gets 400. Empty: web.host, the host of digest.base_url "
        "and localhost, 127.0.0.1, ::1. `*`: any host.",
    ),
    Setting(
        "web",
        "trusted_proxies",
        "",
        "Addresses or networks (10.0.0.0/8) of the proxies in front of the web UI, whose "
        "X-Forwarded-For is believed (a TOML array, or comma-separated). Empty: none; the "
        "client is the address that connects.",
    ),
    Setting(
        "web",
        "session_hours",
        "12",
        "Hours a web login lasts, counted from the login: using the UI does not extend it.",
    ),
)

#: keys whose value is an array of tables, parsed by their own code (not MONITOR_* variables)
LISTS = {("digest", "recipients")}
#: keys whose value is a list of words: a TOML array of strings, or the words separated by
#: commas (as their MONITOR_* variable gives them)
WORD_LISTS = {("web", "allowed_hosts"), ("web", "trusted_proxies")}


@dataclass(frozen=True, slots=True)
class Settings:
    """Resolved settings: absolute paths, a real time zone, a database URL."""

    base_dir: Path
    config_file: Path | None
    database_url: str
    sqlite_synchronous: str
    data_dir: Path
    catalogue: Path
    sources: Path
    timezone: ZoneInfo
    fetch_limits: FetchLimits
    #: poll.allow_private_addresses: the fetcher may connect to non-public addresses
    allow_private_addresses: bool
    digest: DigestSettings
    service: ServiceSettings
    #: the Ed25519 key that signs published journal heads (read only from the environment,
    #: $MONITOR_HEAD_SIGNING_KEY, as the SMTP password is); empty: heads go unsigned
    head_signing_key: str = field(default="", repr=False)


def find_config(explicit: Path | None = None, env: Mapping[str, str] | None = None) -> Path | None:
    """The config file to read: --config, else $MONITOR_CONFIG, else ./config/monitor.toml."""
    env = os.environ if env is None else env
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"config file {explicit} does not exist")
        return explicit
    if env.get("MONITOR_CONFIG"):
        path = Path(env["MONITOR_CONFIG"])
        if not path.is_file():
            raise ConfigError(f"MONITOR_CONFIG={path} does not exist")
        return path
    default = Path("config/monitor.toml")
    return default if default.is_file() else None


def load_settings(config: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read the config file (if any) and the environment; raise ConfigError naming the key."""
    env = os.environ if env is None else env
    path = find_config(config, env)
    # Keyed by table.key: two tables may well both have a "host" or a "timeout".
    named: dict[str, str] = {s.name: s.default for s in SETTINGS}
    lists: dict[str, Any] = {}
    base = Path.cwd()
    scalars_given: set[str] = set()
    if path is not None:
        path = path.resolve()
        # config/monitor.toml lives in the project folder's config/: paths are relative to
        # the project folder, so the same file works from any working directory.
        base = path.parent.parent if path.parent.name == "config" else path.parent
        scalars, lists = _read_file(path)
        named.update(scalars)
        scalars_given = set(scalars)
    #: the settings given in the file or the environment (the rest are defaults)
    explicit = set(scalars_given)
    for setting in SETTINGS:
        if setting.env in env:
            named[setting.name] = env[setting.env]
            explicit.add(setting.name)
    try:
        zone = ZoneInfo(named["display.timezone"])
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"display.timezone: unknown time zone {named['display.timezone']!r} "
            "(use an IANA name such as Asia/Tokyo)"
        ) from exc
    if named["database.sqlite_synchronous"] not in SYNCHRONOUS:
        raise ConfigError(
            f"database.sqlite_synchronous: {named['database.sqlite_synchronous']!r} is not one of "
            f"{', '.join(SYNCHRONOUS)}"
        )
    data_dir = (base / named["paths.data_dir"]).resolve()
    if path is None and "paths.data_dir" not in explicit:
        # no project: the user's own data folder, not wherever the command was run
        data_dir = user_data_dir()
    url = named["database.database_url"] or sqlite_url(data_dir / "monitor.sqlite3")
    return Settings(
        base_dir=base,
        config_file=path,
        database_url=url,
        sqlite_synchronous=named["database.sqlite_synchronous"],
        data_dir=data_dir,
        catalogue=_catalogue(base, named["paths.catalogue"], "paths.catalogue" in explicit),
        sources=(base / named["paths.sources"]).resolve(),
        timezone=zone,
        fetch_limits=_fetch_limits(named),
        allow_private_addresses=_switch(named, "poll.allow_private_addresses"),
        digest=parse_digest(named, lists.get("digest.recipients"), base, env),
        service=parse_service(named),
        head_signing_key=env.get(SIGNING_KEY_ENV, "").strip(),
    )


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    """How `monitor serve` runs: its tick, daily check, logs, lease and web listener."""

    tick_seconds: float
    deadline_check: dt_time
    log_level: str
    log_format: str
    standby_retry_seconds: float
    #: /readyz is not ready while the read models lag the journal by more than this
    ready_events_behind: int
    web_host: str
    web_port: int
    web_https: bool
    #: the Host names the web UI answers for ("*": any), lowercase, without ports
    web_allowed_hosts: tuple[str, ...]
    #: the proxies (networks, "10.0.0.0/8"; one address is a /32 or /128) whose
    #: X-Forwarded-For names the client
    web_trusted_proxies: tuple[str, ...]
    #: how long a login lasts, from the login on
    web_session_hours: float

    def listening_on(self, host: str) -> ServiceSettings:
        """These settings with the web UI listening on ``host`` (`monitor web --host`),
        which it then answers for too."""
        named = _allowed_hosts({"web.allowed_hosts": host, "web.host": "", "digest.base_url": ""})
        hosts = tuple(dict.fromkeys((*self.web_allowed_hosts, *named)))
        return dataclasses.replace(self, web_host=host, web_allowed_hosts=hosts)


LOG_LEVELS = ("debug", "info", "warning", "error")


def parse_service(named: dict[str, str]) -> ServiceSettings:
    """The [service] and [web] tables, checked; errors name the key."""

    def number(name: str, low: float, high: float) -> float:
        try:
            value = float(named[name])
        except ValueError:
            value = float("nan")
        if not low <= value <= high:
            raise ConfigError(f"{name}: {named[name]!r} is not a number from {low:g} to {high:g}")
        return value

    try:
        check = dt_time.fromisoformat(named["service.deadline_check"])
    except ValueError as exc:
        raise ConfigError(
            f"service.deadline_check: {named['service.deadline_check']!r} is not a time HH:MM"
        ) from exc
    level = named["service.log_level"].lower()
    if level not in LOG_LEVELS:
        raise ConfigError(f"service.log_level: {level!r} is not one of {', '.join(LOG_LEVELS)}")
    log_format = named["service.log_format"].lower()
    if log_format not in ("text", "json"):
        raise ConfigError(f"service.log_format: {log_format!r} is not one of text, json")
    https = named["web.https"].lower()
    if https not in ("true", "false"):
        raise ConfigError(f"web.https: {named['web.https']!r} is not true or false")
    if not named["web.host"].strip():
        raise ConfigError("web.host: give an address such as 127.0.0.1")
    return ServiceSettings(
        tick_seconds=number("service.tick_seconds", 0.05, 3600),
        deadline_check=check,
        log_level=level,
        log_format=log_format,
        standby_retry_seconds=number("service.standby_retry_seconds", 0.05, 600),
        ready_events_behind=int(number("service.ready_events_behind", 0, 1_000_000_000)),
        web_host=named["web.host"].strip(),
        web_port=int(number("web.port", 1, 65535)),
        web_https=https == "true",
        web_allowed_hosts=_allowed_hosts(named),
        web_trusted_proxies=_trusted_proxies(named["web.trusted_proxies"]),
        web_session_hours=number("web.session_hours", 0.05, 24 * 30),
    )


def _words(value: str) -> list[str]:
    return [word.strip() for word in value.split(",") if word.strip()]


#: the names of this machine, always answered for when web.allowed_hosts is not set
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def _allowed_hosts(named: dict[str, str]) -> tuple[str, ...]:
    """web.allowed_hosts, each a bare host name or address; by default the names this
    configuration says the UI is reached by (web.host, digest.base_url's host) and this
    machine's."""
    given = _words(named["web.allowed_hosts"])
    if not given:
        given = [*LOCAL_HOSTS, named["web.host"].strip()]
        base = named["digest.base_url"].strip()
        if base:
            given.append(urlsplit(base).hostname or "")
    hosts = []
    for word in given:
        host = word.lower().removeprefix("[").removesuffix("]").rstrip(".")
        if host in ("", "0.0.0.0", "::"):  # noqa: S104 (listening everywhere names no host)
            continue
        try:
            host = ipaddress.ip_address(host).compressed
        except ValueError:
            if any(c in host for c in ":/ "):
                raise ConfigError(
                    f"web.allowed_hosts: {word!r} is not a host name (give names such as "
                    "monitor.example.org, without a scheme or a port)"
                ) from None
        hosts.append(host)
    return tuple(dict.fromkeys(hosts))


def _trusted_proxies(value: str) -> tuple[str, ...]:
    """web.trusted_proxies as networks (an address alone is a network of one)."""
    networks = []
    for word in _words(value):
        try:
            networks.append(str(ipaddress.ip_network(word, strict=False)))
        except ValueError as exc:
            raise ConfigError(
                f"web.trusted_proxies: {word!r} is not an IP address or network (give the "
                "proxy's address, such as 127.0.0.1, or a network such as 10.0.0.0/8)"
            ) from exc
    return tuple(networks)


def _number(values: dict[str, str], key: str, low: float, high: float) -> float:
    try:
        number = float(values[f"poll.{key}"])
    except ValueError:
        number = float("nan")
    if not low <= number <= high:
        raise ConfigError(
            f"poll.{key}: {values[f'poll.{key}']!r} is not a number from {low:g} to {high:g}"
        )
    return number


def _fetch_limits(values: dict[str, str]) -> FetchLimits:
    body = int(_number(values, "max_body_mib", 0.001, 1024) * MIB)
    return FetchLimits(
        connect_timeout=_number(values, "connect_timeout", 0.01, 600),
        read_timeout=_number(values, "read_timeout", 0.01, 600),
        deadline=_number(values, "deadline", 0.01, 3600),
        max_body=body,
        max_decoded=body,
        concurrency=int(_number(values, "concurrency", 1, 512)),
        per_host=int(_number(values, "per_host", 1, 64)),
    )


def _switch(values: dict[str, str], name: str) -> bool:
    value = values[name].strip().lower()
    if value not in ("true", "false"):
        raise ConfigError(f"{name}: {values[name]!r} is not true or false")
    return value == "true"


def _read_file(path: Path) -> tuple[dict[str, str], dict[str, Any]]:
    """(scalar values by ``table.key``, raw arrays of tables by ``table.key``)."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    known = {(s.table, s.key) for s in SETTINGS}
    switches = {s.name for s in SETTINGS if s.default in ("true", "false")}
    tables = {s.table for s in SETTINGS}
    out: dict[str, str] = {}
    lists: dict[str, Any] = {}
    for table, body in raw.items():
        if table not in tables:
            raise ConfigError(
                f"{path}: unknown table [{table}] (known: {', '.join(sorted(tables))})"
            )
        if not isinstance(body, dict):
            raise ConfigError(f"{path}: [{table}] must be a table")
        for key, value in body.items():
            if (table, key) == ("smtp", "password"):
                raise ConfigError(
                    f"{path}: smtp.password is never read from a file: set {PASSWORD_ENV} in "
                    "the environment instead, and remove it from the file"
                )
            if (table, key) in LISTS:
                lists[f"{table}.{key}"] = value
                continue
            if (table, key) in WORD_LISTS and isinstance(value, list):
                if not all(isinstance(word, str) for word in value):
                    raise ConfigError(f"{path}: {table}.{key} must be a list of strings")
                out[f"{table}.{key}"] = ",".join(value)
                continue
            if (table, key) not in known:
                raise ConfigError(f"{path}: unknown key {table}.{key}")
            if isinstance(value, bool) and f"{table}.{key}" in switches:
                out[f"{table}.{key}"] = "true" if value else "false"
                continue
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise ConfigError(f"{path}: {table}.{key} must be a string or a number")
            out[f"{table}.{key}"] = str(value)
    return out, lists


def describe(settings: Settings) -> dict[str, Any]:
    """The resolved settings for display (no secrets are ever kept here)."""
    return {
        "config_file": str(settings.config_file) if settings.config_file else None,
        "database_url": make_url(settings.database_url).render_as_string(hide_password=True),
        "sqlite_synchronous": settings.sqlite_synchronous,
        "data_dir": str(settings.data_dir),
        "catalogue": str(settings.catalogue),
        "sources": str(settings.sources),
        "timezone": settings.timezone.key,
        **describe_digest(settings.digest),
        "service": {
            "tick_seconds": settings.service.tick_seconds,
            "deadline_check": settings.service.deadline_check.strftime("%H:%M"),
            "log_level": settings.service.log_level,
            "log_format": settings.service.log_format,
            "standby_retry_seconds": settings.service.standby_retry_seconds,
        },
        "web": {
            "host": settings.service.web_host,
            "port": settings.service.web_port,
            "https": settings.service.web_https,
            "allowed_hosts": list(settings.service.web_allowed_hosts),
            "trusted_proxies": list(settings.service.web_trusted_proxies),
            "session_hours": settings.service.web_session_hours,
        },
    }


def user_data_dir() -> Path:
    """The per-user folder for monitor's data (platformdirs: the platform's convention,
    e.g. ~/.local/share/monitor on Linux, ~/Library/Application Support/monitor on macOS)."""
    from platformdirs import user_data_path

    return user_data_path("monitor", appauthor=False)


def bundled_catalogue() -> Path:
    """The catalogue that ships with monitor: inside the installed package (a wheel carries
    config/commitments.toml as monitor/data/commitments.toml), or the repository's own file
    in a development install."""
    packaged = Path(__file__).parent / "data" / "commitments.toml"
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parents[2] / "config" / "commitments.toml"


def _catalogue(base: Path, configured: str, explicit: bool) -> Path:
    path = (base / configured).resolve()
    return path if explicit or path.is_file() else bundled_catalogue()


@dataclass(frozen=True, slots=True)
class SettingSource:
    """One setting as `monitor config` shows it: its value and where the value came from."""

    name: str
    value: str
    #: "file", "environment" or "default"
    source: str
    env: str


def _masked(name: str, value: str) -> str:
    if name == "database.database_url" and value:
        return make_url(value).render_as_string(hide_password=True)
    return value


def sources_of(
    config: Path | None = None, env: Mapping[str, str] | None = None
) -> list[SettingSource]:
    """Every setting with its value and its source (file, environment or default), secrets
    masked; the SMTP password, read only from the environment, shows whether it is set."""
    env = os.environ if env is None else env
    path = find_config(config, env)
    scalars: dict[str, str] = {}
    if path is not None:
        scalars, _ = _read_file(path.resolve())
    shown = []
    for setting in SETTINGS:
        if setting.env in env:
            value, source = env[setting.env], "environment"
        elif setting.name in scalars:
            value, source = scalars[setting.name], "file"
        else:
            value, source = setting.default, "default"
        shown.append(SettingSource(setting.name, _masked(setting.name, value), source, setting.env))
    password_set = bool(env.get(PASSWORD_ENV))
    shown.append(
        SettingSource(
            "smtp.password",
            "(set)" if password_set else "(not set)",
            "environment" if password_set else "default",
            PASSWORD_ENV,
        )
    )
    return shown
