"""Issue 14, the web's part: bodies counted as they come, writes refused before their body
is read, logins throttled atomically per name and per address, X-Forwarded-For believed
from configured proxies only, the Host checked, sessions that end hours after the login,
Secure cookies with web.https. Every test talks to a real uvicorn server (LiveServer)."""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher

from monitor import ConfigError, FixedClock, Monitor, load_settings
from monitor.application.accounts import Accounts
from monitor.application.logins import LoginGuard, LoginLimits, LoginThrottled
from monitor.web import create_app
from monitor.web.gates import MAX_BODY, client_address, host_name

from .test_settings import write
from .webserver import PASSWORD, LiveServer

#: Argon2 parameters cheap enough for many logins, dear enough that a check takes a while
HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
NOTES = "/api/commitments/EPCC23-SEMI-03/notes"


@pytest.fixture
def users(monitor: Monitor) -> Monitor:
    """The monitor with a reviewer, rita, and an admin, adam."""
    monitor.accounts = Accounts(monitor, HASHER)
    monitor.accounts.add("rita", "reviewer", PASSWORD)
    monitor.accounts.add("adam", "admin", PASSWORD)
    return monitor


@contextmanager
def serving(monitor: Monitor) -> Iterator[LiveServer]:
    with LiveServer(create_app(monitor, secret_key="test-key")) as server:
        yield server


@contextmanager
def configured(
    users: Monitor, project: Path, clock: FixedClock, **env: str
) -> Iterator[LiveServer]:
    """The web app of a second Monitor on the same database, its settings from the project's
    file and ``env`` (MONITOR_TRUSTED_PROXIES, ...): what `monitor web` would serve."""
    settings = load_settings(project / "config" / "monitor.toml", env=env)
    with Monitor.open(settings, clock) as other:
        other.accounts = Accounts(other, HASHER)
        with serving(other) as server:
            yield server


def client(server: LiveServer, source: str = "127.0.0.1") -> httpx.Client:
    """A client whose connections come from ``source`` (any 127.x address is this machine)."""
    return httpx.Client(
        base_url=server.url(""),
        transport=httpx.HTTPTransport(local_address=source),
        follow_redirects=False,
    )


def csrf_of(browser: httpx.Client) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', browser.get("/login").text)
    assert match
    return match.group(1)


def log_in(browser: httpx.Client, name: str, password: str = PASSWORD, **headers: str) -> int:
    answer = browser.post(
        "/login",
        data={"name": name, "password": password, "csrf": csrf_of(browser)},
        headers=headers,
    )
    return answer.status_code


# -- bodies -----------------------------------------------------------------------------


def post_chunked(server: LiveServer, path: str, total: int, *headers: str) -> tuple[str, int]:
    """POST ``total`` bytes, chunked, the request also claiming ``Content-Length: 10``.

    Returns the answer's status line and how many bytes went out before the server stopped
    taking them (it closes the connection when it refuses the rest)."""
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{server.port}",
        "Content-Type: application/x-www-form-urlencoded",
        "Content-Length: 10",
        "Transfer-Encoding: chunked",
        *headers,
    ]
    chunk = b"name=" + b"a" * (64 * 1024 - 5)
    answer: list[bytes] = []
    with socket.create_connection(("127.0.0.1", server.port)) as sock:

        def read_status() -> None:
            received = b""
            try:
                while b"\r\n" not in received and (part := sock.recv(4096)):
                    received += part
            except OSError:
                pass
            answer.append(received.partition(b"\r\n")[0])

        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        reader = threading.Thread(target=read_status)
        reader.start()
        sent = 0
        try:
            while sent < total:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            sock.sendall(b"0\r\n\r\n")
        except OSError:  # the server closed the connection: what it refused to read
            pass
        reader.join()
    return answer[0].decode(), sent


THIRTY_MB = 30 * 1024 * 1024


def test_a_chunked_body_is_counted_whatever_its_content_length_says(users: Monitor) -> None:
    """Content-Length: 10 with Transfer-Encoding: chunked and 30 MB behind: the server
    stops at 64 KiB with 413, for the login form and for a logged-in API write alike, and
    closes the connection rather than read the rest."""
    token = users.accounts.create_token("rita", "script")
    with serving(users) as server:
        status, sent = post_chunked(server, "/login", THIRTY_MB)
        assert status == "HTTP/1.1 413 Request Entity Too Large"
        assert sent < THIRTY_MB
        status, sent = post_chunked(server, NOTES, THIRTY_MB, f"Authorization: Bearer {token}")
        assert status == "HTTP/1.1 413 Request Entity Too Large"
        assert sent < THIRTY_MB
        # the server serves on, and a small body still goes through
        with client(server) as browser:
            answer = browser.post(
                NOTES, json={"text": "a note"}, headers={"Authorization": f"Bearer {token}"}
            )
            assert answer.status_code == 200, answer.text
            assert browser.post(NOTES, content=b"x" * (MAX_BODY + 1)).status_code == 413


def test_a_write_without_an_account_is_refused_before_its_body_is_read(users: Monitor) -> None:
    """No login, or a made-up token: 401 (the login page for a form), never the 422 that
    would mean the body was parsed; a big chunked body is not read either."""
    with serving(users) as server, client(server) as browser:
        for headers in ({}, {"Authorization": "Bearer mon_made-up"}):
            answer = browser.post(NOTES, json={"no such field": 1}, headers=headers)
            assert (answer.status_code, answer.json()["error"]) == (401, "log in first")
            assert answer.json()["status"] == 401  # problem details, like every API error
            assert "content-security-policy" in answer.headers
        form = browser.post("/commitments/EPCC23-SEMI-03/notes", data={"note": "x", "csrf": "y"})
        assert (form.status_code, form.headers["location"]) == (303, "/login")
        status, sent = post_chunked(server, NOTES, THIRTY_MB)
        assert status == "HTTP/1.1 401 Unauthorized"
        assert sent < THIRTY_MB
        # logged in with a session, the same post reaches the route (which says what works)
        assert log_in(browser, "rita") == 303
        answer = browser.post(NOTES, json={"text": "n"})
        assert answer.status_code == 401
        assert "takes an API token" in answer.json()["error"]


# -- logins -----------------------------------------------------------------------------


def test_wrong_passwords_sent_at_once_are_all_counted(users: Monitor) -> None:
    """25 wrong passwords for one name at the same moment: five are checked, twenty
    refused (the count is taken before the password is checked, not after). Her hash is
    made with dearer parameters, as a real one is: each check takes a while."""
    Accounts(users, PasswordHasher(time_cost=2, memory_cost=32 * 1024)).add(
        "dora", "admin", PASSWORD
    )
    with serving(users) as server:
        browsers = [client(server) for _ in range(25)]
        tokens = [csrf_of(b) for b in browsers]
        start = threading.Barrier(len(browsers))

        def guess(i: int) -> int:
            start.wait()
            data = {"name": "dora", "password": f"guess {i}", "csrf": tokens[i]}
            return browsers[i].post("/login", data=data).status_code

        with ThreadPoolExecutor(len(browsers)) as pool:
            codes = sorted(pool.map(guess, range(len(browsers))))
        for browser in browsers:
            browser.close()
        assert codes == [401] * 5 + [429] * 20
        with client(server) as browser:  # the right password waits too
            assert log_in(browser, "dora") == 429
            assert log_in(browser, "rita") == 303  # another name does not


def guesses(browser: httpx.Client, count: int, forwarded_for: str | None = None) -> list[int]:
    """``count`` wrong logins, each for another made-up name; ``forwarded_for`` is the
    X-Forwarded-For of each, formatted with its number."""
    codes = []
    for i in range(count):
        headers = {"X-Forwarded-For": forwarded_for.format(i)} if forwarded_for else {}
        codes.append(log_in(browser, f"nobody{i}", "wrong", **headers))
    return codes


def test_x_forwarded_for_is_ignored_unless_the_peer_is_a_configured_proxy(
    users: Monitor, project: Path, clock: FixedClock
) -> None:
    """One address may fail twenty logins (whatever names): a new X-Forwarded-For on each
    request does not make it another address, unless the request comes from a proxy in
    web.trusted_proxies; and from a proxy, only the address the proxy appended counts."""
    with serving(users) as server, client(server) as browser:
        assert guesses(browser, 21, "198.51.100.{}") == [401] * 20 + [429]
    with configured(users, project, clock, MONITOR_TRUSTED_PROXIES="127.0.0.2") as server:
        with client(server) as direct:  # not the proxy: its header proves nothing
            assert guesses(direct, 21, "198.51.100.{}") == [401] * 20 + [429]
        with client(server, "127.0.0.2") as proxy:
            # each request from another client behind the proxy
            assert guesses(proxy, 21, "198.51.100.{}") == [401] * 21
            # one client who writes its own header: the proxy appended the real address
            assert guesses(proxy, 21, "10.9.8.{}, 203.0.113.7") == [401] * 20 + [429]


def test_a_known_good_address_logs_in_while_the_name_is_under_attack(users: Monitor) -> None:
    """Rita has logged in from 127.0.0.2. Five wrong guesses at her name from elsewhere
    lock the name for every other address, not for hers; her own guesses still count."""
    with serving(users) as server:
        with client(server, "127.0.0.2") as home:
            assert log_in(home, "rita") == 303
        with client(server, "127.0.0.3") as attacker:
            assert [log_in(attacker, "rita", "guess") for _ in range(6)] == [401] * 5 + [429]
            assert log_in(attacker, "rita") == 429  # the right password too, from there
        with client(server, "127.0.0.4") as elsewhere:
            assert log_in(elsewhere, "rita") == 429
        with client(server, "127.0.0.2") as home:
            assert log_in(home, "rita") == 303
            assert [log_in(home, "rita", "typo") for _ in range(6)] == [401] * 5 + [429]
            assert log_in(home, "rita") == 429


def test_guesses_are_forgotten_after_the_window(users: Monitor) -> None:
    """The throttle's own arithmetic, its clock given: a pause ends, a success takes its
    count back, and an address is bound by its own limit even where it is known good."""
    now = [0.0]
    guard = LoginGuard(LoginLimits(per_name=2, per_address=3, window=60), lambda: now[0])

    def log_in(name: str, password: str, address: str) -> str | None:
        account = guard.log_in(users.accounts, name, password, address)
        return account.name if account else None

    assert log_in("rita", PASSWORD, "a") == "rita"
    assert log_in("rita", "wrong", "b") is None
    assert log_in("rita", "wrong", "b") is None
    with pytest.raises(LoginThrottled):
        log_in("rita", PASSWORD, "c")
    assert log_in("rita", PASSWORD, "a") == "rita"  # known good, and its success not counted
    now[0] = 61.0
    assert log_in("rita", PASSWORD, "c") == "rita"
    for name in ("x", "y", "z"):
        assert log_in(name, "wrong", "a") is None
    with pytest.raises(LoginThrottled):
        log_in("rita", PASSWORD, "a")  # the address's own limit


@pytest.mark.parametrize(
    ("peer", "headers", "client"),
    [
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),  # not a proxy
        ("10.0.0.5", [], "10.0.0.5"),  # a proxy that said nothing
        ("10.0.0.5", ["198.51.100.1"], "198.51.100.1"),
        ("10.0.0.5", ["1.1.1.1, 198.51.100.1"], "198.51.100.1"),  # the left is the client's say
        ("10.0.0.5", ["1.1.1.1, 198.51.100.1, 10.0.0.7"], "198.51.100.1"),  # two proxies
        ("10.0.0.5", ["1.1.1.1", "198.51.100.1"], "198.51.100.1"),  # two header lines
        ("10.0.0.5", ["1.1.1.1, junk"], "10.0.0.5"),  # malformed: the proxy that sent it
        ("10.0.0.5", ["2001:DB8::1"], "2001:db8::1"),
        ("::1", ["198.51.100.1"], "198.51.100.1"),
    ],
)
def test_the_client_is_the_nearest_address_that_is_not_a_proxy(
    peer: str, headers: list[str], client: str
) -> None:
    proxies = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128"))
    assert client_address(peer, headers, proxies) == client


# -- hosts, sessions, cookies -------------------------------------------------------------


def test_a_request_for_another_host_gets_400(
    users: Monitor, project: Path, clock: FixedClock
) -> None:
    """By default the UI answers for web.host and this machine's names; web.allowed_hosts
    replaces them; the health probes answer whatever the Host."""
    with serving(users) as server, client(server) as browser:
        for host in (f"127.0.0.1:{server.port}", "localhost", f"[::1]:{server.port}"):
            assert browser.get("/login", headers={"Host": host}).status_code == 200, host
        refused = browser.get("/login", headers={"Host": "attacker.example"})
        assert refused.status_code == 400
        assert "web.allowed_hosts" in refused.json()["error"]
        assert "content-security-policy" in refused.headers
        assert browser.get("/healthz", headers={"Host": "10.1.2.3:8080"}).status_code == 200
    with (
        configured(users, project, clock, MONITOR_ALLOWED_HOSTS="monitor.example.org") as server,
        client(server) as browser,
    ):
        assert browser.get("/login", headers={"Host": "Monitor.example.org"}).status_code == 200
        assert browser.get("/login").status_code == 400


def test_a_session_ends_hours_after_the_login_however_busy(
    users: Monitor, project: Path, clock: FixedClock
) -> None:
    """web.session_hours from the login: a session used all along (and its cookie issued
    again meanwhile) still ends then; a new login starts a new one."""
    with serving(users) as server, client(server) as browser:
        assert log_in(browser, "rita") == 303
        for _ in range(11):
            clock.advance(timedelta(hours=1))
            assert browser.get("/").status_code == 200
        clock.advance(timedelta(minutes=59))
        assert browser.get("/").status_code == 200
        clock.advance(timedelta(minutes=1))
        assert browser.get("/").headers.get("location") == "/login"
        assert log_in(browser, "rita") == 303
        assert browser.get("/").status_code == 200
    with (
        configured(users, project, clock, MONITOR_SESSION_HOURS="1") as server,
        client(server) as browser,
    ):
        cookie = browser.get("/login").headers["set-cookie"]
        assert "Max-Age=3600;" in cookie
        assert log_in(browser, "rita") == 303
        clock.advance(timedelta(minutes=59))
        assert browser.get("/").status_code == 200
        clock.advance(timedelta(minutes=1))
        assert browser.get("/").status_code == 303


def test_cookies_are_secure_when_web_https_is_set(
    users: Monitor, project: Path, clock: FixedClock
) -> None:
    """web.https alone (no --https) marks the session cookie Secure and sends HSTS."""
    with serving(users) as server, client(server) as browser:
        plain = browser.get("/login")
        assert "secure" not in plain.headers["set-cookie"].lower()
        assert "strict-transport-security" not in plain.headers
    with (
        configured(users, project, clock, MONITOR_WEB_HTTPS="true") as server,
        client(server) as browser,
    ):
        answer = browser.get("/login")
        assert "; secure" in answer.headers["set-cookie"].lower()
        assert answer.headers["strict-transport-security"] == "max-age=31536000"


# -- settings -----------------------------------------------------------------------------


def test_the_web_settings_read_arrays_lists_and_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[web]\nallowed_hosts = ["Monitor.Example.org", "[::1]"]\n'
        'trusted_proxies = ["127.0.0.1", "10.0.0.0/8"]\nsession_hours = 2\n',
    )
    web = load_settings(path, env={}).service
    assert web.web_allowed_hosts == ("monitor.example.org", "::1")
    assert web.web_trusted_proxies == ("127.0.0.1/32", "10.0.0.0/8")
    assert web.web_session_hours == 2
    env = {"MONITOR_TRUSTED_PROXIES": "192.168.0.1, fd00::/8", "MONITOR_ALLOWED_HOSTS": "*"}
    web = load_settings(path, env=env).service
    assert web.web_trusted_proxies == ("192.168.0.1/32", "fd00::/8")
    assert web.web_allowed_hosts == ("*",)
    defaults = load_settings(
        write(tmp_path, '[web]\nhost = "0.0.0.0"\n[digest]\nbase_url = "https://m.example.org/"\n'),
        env={},
    ).service
    assert defaults.web_allowed_hosts == ("localhost", "127.0.0.1", "::1", "m.example.org")
    assert defaults.web_trusted_proxies == ()
    assert defaults.web_session_hours == 12
    assert defaults.listening_on("192.168.1.4").web_allowed_hosts[-1] == "192.168.1.4"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[web]\ntrusted_proxies = ["proxy.example.org"]\n', "web.trusted_proxies: 'proxy"),
        ("[web]\ntrusted_proxies = [1]\n", "web.trusted_proxies must be a list of strings"),
        ('[web]\nallowed_hosts = "https://monitor.example.org"\n', "web.allowed_hosts: 'https"),
        ('[web]\nallowed_hosts = ["monitor.example.org:443"]\n', "without a scheme or a port"),
        ("[web]\nsession_hours = 0\n", "web.session_hours"),
    ],
)
def test_bad_web_settings_are_named(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(write(tmp_path, body), env={})


@pytest.mark.parametrize(
    ("header", "host"),
    [
        ("Example.org:8080", "example.org"),
        ("[::1]:80", "::1"),
        ("example.org.", "example.org"),
        ("::1", "::1"),
        ("", ""),
    ],
)
def test_host_name(header: str, host: str) -> None:
    assert host_name(header) == host
