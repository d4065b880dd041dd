"""The web UI and JSON API through a real ASGI client: roles, CSRF, escaping, headers."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, get_args

import httpx
import pytest
from defusedxml import ElementTree as defused

from monitor import Monitor
from monitor.domain.review import REJECT_REASONS
from monitor.web import create_app
from monitor.web.bodies import Reason

from .feedserver import FeedServer
from .webserver import PASSWORD, LiveServer, seed_review_site

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)> legacy chips"


@pytest.fixture
def site(
    monitor: Monitor, feed_server: FeedServer, tmp_path
) -> Iterator[tuple[Monitor, httpx.Client]]:  # type: ignore[no-untyped-def]
    # Escaped twice in the feed, so the item's *text* is literally the markup.
    seed_review_site(
        monitor,
        feed_server,
        f"web{id(monitor)}",
        html.escape(html.escape(HOSTILE)) + ": Japan and the U.S. agree",
        {"vera": "viewer", "rita": "reviewer", "adam": "admin"},
    )
    with (
        LiveServer(create_app(monitor, secret_key="test-key")) as server,
        httpx.Client(base_url=server.url(""), follow_redirects=False) as client,
    ):
        yield monitor, client


def csrf_of(client: httpx.Client, path: str = "/login") -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert match
    return match.group(1)


def login(client: httpx.Client, name: str) -> None:
    response = client.post(
        "/login", data={"name": name, "password": PASSWORD, "csrf": csrf_of(client)}
    )
    assert response.status_code == 303


PAGES = ["/", "/queue", "/sources", "/commitments/EPCC23-SEMI-01"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_need_a_login(site, path: str) -> None:  # type: ignore[no-untyped-def]
    _monitor, client = site
    response = client.get(path)
    assert (response.status_code, response.headers["location"]) == (303, "/login")


@pytest.mark.parametrize("role_user", ["vera", "rita", "adam"])
@pytest.mark.parametrize("path", PAGES)
def test_every_role_can_read(site, role_user: str, path: str) -> None:  # type: ignore[no-untyped-def]
    _monitor, client = site
    login(client, role_user)
    response = client.get(path)
    assert response.status_code == 200
    assert "<!doctype html>" in response.text


def test_reviewing_needs_the_reviewer_role_and_a_csrf_token(site) -> None:  # type: ignore[no-untyped-def]
    monitor, client = site
    [first, *_] = monitor.review.queue()
    login(client, "vera")
    token = csrf_of(client, "/queue")
    refused = client.post(f"/queue/{first.proposal_id}", data={"action": "accept", "csrf": token})
    assert refused.status_code == 403
    client.post("/logout", data={"csrf": token})
    login(client, "rita")
    no_csrf = client.post(f"/queue/{first.proposal_id}", data={"action": "accept"})
    assert no_csrf.status_code == 403
    token = csrf_of(client, "/queue")
    # The accept-and-set-status button needs a status; nothing is recorded without one.
    missing = client.post(
        f"/queue/{first.proposal_id}",
        data={"action": "accept-status", "csrf": token, "rationale": "no status chosen"},
    )
    assert "choose a status" in missing.text
    assert monitor.review.find_proposal(first.proposal_id).state == "pending"
    done = client.post(
        f"/queue/{first.proposal_id}",
        data={
            "action": "accept-status",
            "csrf": token,
            "status": "in_progress",
            "rationale": "legacy chip work",
            "effective": "2026-01-05",
        },
    )
    assert done.status_code == 303
    assert monitor.load(first.commitment_id).status().value == "in_progress"
    again = client.post(f"/queue/{first.proposal_id}", data={"action": "reject", "csrf": token})
    assert "rita already accepted this proposal" in again.text
    assert first.commitment_id in client.get(f"/commitments/{first.commitment_id}").text


def test_feed_text_is_escaped_and_headers_are_strict(site) -> None:  # type: ignore[no-untyped-def]
    _monitor, client = site
    login(client, "rita")
    page = client.get("/queue")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<img src=x" not in page.text
    headers = page.headers
    assert "default-src 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    cookie = client.cookies.jar
    assert any(c.name == "monitor_session" for c in cookie)
    login_response = client.post(
        "/login", data={"name": "rita", "password": PASSWORD, "csrf": csrf_of(client)}
    )
    set_cookie = login_response.headers["set-cookie"].lower()
    assert "httponly" in set_cookie
    assert "samesite=strict" in set_cookie


def test_wrong_password_and_disabled_account(site) -> None:  # type: ignore[no-untyped-def]
    monitor, client = site
    response = client.post(
        "/login", data={"name": "rita", "password": "nope", "csrf": csrf_of(client)}
    )
    assert response.status_code == 401
    monitor.accounts.disable("rita")
    response = client.post(
        "/login", data={"name": "rita", "password": PASSWORD, "csrf": csrf_of(client)}
    )
    assert response.status_code == 401


def test_json_api_with_tokens(site) -> None:  # type: ignore[no-untyped-def]
    monitor, client = site
    assert client.get("/api/commitments").status_code == 401
    viewer = {"Authorization": f"Bearer {monitor.accounts.create_token('vera', 'read')}"}
    reviewer = {"Authorization": f"Bearer {monitor.accounts.create_token('rita', 'bot')}"}
    assert len(client.get("/api/commitments", headers=viewer).json()) == 19
    queue = client.get("/api/queue", headers=viewer).json()
    assert queue
    pid = queue[0]["commitments"][0]["proposal_id"]  # a proposal id still names one proposal
    assert client.post(f"/api/queue/{pid}/reject", headers=viewer, json={}).status_code == 403
    done = client.post(f"/api/queue/{pid}/reject", headers=reviewer, json={"reason": "duplicate"})
    assert done.status_code == 200
    assert done.json()["recorded"][0]["event_type"] == "EvidenceRejected"
    login(client, "rita")  # a session cookie alone never authorises an API write
    assert client.post(f"/api/queue/{pid}/accept", json={}).status_code == 401
    assert client.get("/api/openapi.json").json()["info"]["title"] == "monitor"


def test_a_revoked_token_stops_working_at_once(site) -> None:  # type: ignore[no-untyped-def]
    monitor, client = site
    api = {"Authorization": f"Bearer {monitor.accounts.create_token('vera', 'script')}"}
    feed = {"token": monitor.accounts.create_token("vera", "reader", scope="feed")}
    assert client.get("/api/commitments", headers=api).status_code == 200
    assert client.get("/feed/status.atom", params=feed).status_code == 200
    [script, reader] = monitor.accounts.tokens("vera")
    monitor.accounts.revoke_token(script.short_id, by="adam")
    assert client.get("/api/commitments", headers=api).status_code == 401
    assert client.get("/feed/status.atom", params=feed).status_code == 200  # not this one
    monitor.accounts.revoke_token(reader.short_id, by="adam")
    refused = client.get("/feed/status.atom", params=feed)
    assert (refused.status_code, refused.headers["location"]) == (303, "/login")


def test_audit_log_and_atom_feed(site) -> None:  # type: ignore[no-untyped-def]
    monitor, client = site
    [first, *_] = monitor.review.queue()
    monitor.review.decide(
        first.proposal_id,
        "accept",
        by="rita",
        status="in_progress",
        rationale="<b>bold</b> & legacy chips",
    )
    assert client.get("/feed/status.atom").status_code == 303  # no login, no token
    api_token = monitor.accounts.create_token("rita", "script")
    assert client.get("/feed/status.atom", params={"token": api_token}).status_code == 303
    token = monitor.accounts.create_token("rita", "feed reader", scope="feed")
    # A feed token in a URL reads the feed and nothing else.
    writes = client.post(
        f"/api/queue/{first.proposal_id}/reject",
        headers={"Authorization": f"Bearer {token}"},
        json={},
    )
    assert writes.status_code == 401
    feed = client.get("/feed/status.atom", params={"token": token})
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("application/atom+xml")
    assert f"{first.commitment_id} assessed in_progress" in feed.text
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; legacy chips" in feed.text
    login(client, "vera")
    everything = client.get("/audit").text
    assert "StatusAssessed" in everything
    assert "ProposalAccepted" in everything
    only = client.get("/audit", params={"type": "ProposalAccepted"}).text
    assert "StatusAssessed</td>" not in only
    assert "ProposalAccepted</td>" in only
    streams = client.get("/audit", params={"stream": "source-"}).text
    assert "SourceChecked</td>" in streams
    assert "StatusAssessed</td>" not in streams
    login(client, "adam")  # actors are the admins' to see (test_the_audit_log_...)
    by_rita = client.get("/audit", params={"actor": "rita"}).text
    assert "EvidenceProposed</td>" not in by_rita
    assert "ProposalAccepted</td>" in by_rita


def test_the_audit_log_names_accounts_to_admins_only(site) -> None:  # type: ignore[no-untyped-def]
    monitor, client = site
    [first, *_] = monitor.review.queue()
    monitor.review.decide(first.proposal_id, "accept", by="rita")
    monitor.accounts.disable("vera", by="adam")
    monitor.accounts.enable("vera", by="adam")
    login(client, "vera")
    page = client.get("/audit").text
    assert "ProposalAccepted</td>" in page
    assert "UserChanged</td>" in page
    assert 'name="actor"' not in page
    assert "<th>actor</th>" not in page
    log = page.split("<main>", 1)[1]  # (the menu names the one logged in)
    for name in ("rita", "adam", "vera"):  # neither as actors nor by their streams
        assert name not in log
    assert "user-…</td>" in page
    # filters that would tell whose events there are answer as if not given
    assert client.get("/audit", params={"actor": "rita"}).text.count("<tr>") == page.count("<tr>")
    probed = client.get("/audit", params={"stream": "user-ad"}).text
    assert "user-adam" not in probed
    assert probed.count("UserChanged</td>") == page.count("UserChanged</td>")
    login(client, "adam")
    admin_page = client.get("/audit").text
    assert 'name="actor"' in admin_page
    assert '<td data-label="actor">rita</td>' in admin_page
    assert "user-vera</td>" in admin_page
    by_adam = client.get("/audit", params={"actor": "adam"}).text
    assert "ProposalAccepted</td>" not in by_adam
    assert "UserChanged</td>" in by_adam


def test_the_queue_says_what_a_review_did(site) -> None:  # type: ignore[no-untyped-def]
    monitor, client = site
    login(client, "rita")
    said = {}
    for action in ("snooze", "reject", "accept"):
        pid = monitor.review.queue()[0].proposal_id
        form = {"action": action, "csrf": csrf_of(client, "/queue"), "until": "2026-02-01"}
        done = client.post(f"/queue/{pid}", data=form)
        assert done.status_code == 303
        notice = re.search(
            r'<p class="notice">([^<]*)</p>', client.get(done.headers["location"]).text
        )
        said[action] = notice.group(1) if notice else None
    assert said == {
        "snooze": "Snoozed: it comes back on its date.",
        "reject": "Rejected.",
        "accept": "Accepted: the evidence is recorded on the commitment.",
    }


ATOM = "{http://www.w3.org/2005/Atom}"


def atom(client: httpx.Client, token: str) -> tuple[str, Any]:
    """The feed as a feed reader gets it when it (or a proxy) says another Host."""
    answer = client.get(
        "/feed/status.atom", params={"token": token}, headers={"Host": "evil.example"}
    )
    assert answer.status_code == 200, answer.text
    return answer.text, defused.fromstring(answer.content)


def is_valid_atom(feed: Any) -> None:
    """What RFC 4287 requires: a feed's id, title, updated and author (none of its
    entries need one then), a self link; each entry's id, title, updated."""
    for name in ("id", "title", "updated", "author/" + ATOM + "name"):
        assert (feed.findtext(ATOM + name) or "").strip(), name
    assert feed.find(ATOM + "link[@rel='self']") is not None
    for entry in feed.findall(ATOM + "entry"):
        for name in ("id", "title", "updated"):
            assert (entry.findtext(ATOM + name) or "").strip(), name


def test_the_atom_feed_names_the_configured_address_never_the_host_header(site) -> None:  # type: ignore[no-untyped-def]
    monitor, _ = site
    token = monitor.accounts.create_token("vera", "reader", scope="feed")
    address = "https://monitor.example.org"
    # any Host allowed here, so the feed itself is shown to ignore it (by default a host
    # not in web.allowed_hosts is refused before the feed: test_web_hardening.py)
    service = replace(monitor.settings.service, web_allowed_hosts=("*",))
    configured = replace(
        monitor.settings,
        digest=replace(monitor.settings.digest, base_url=address),
        service=service,
    )
    with (
        Monitor.open(configured, monitor.clock) as addressed,
        LiveServer(create_app(addressed, secret_key="k")) as server,
        httpx.Client(base_url=server.url("")) as client,
    ):
        text, feed = atom(client, token)  # nothing assessed yet: still a valid feed
        is_valid_atom(feed)
        assert feed.findtext(ATOM + "id") == f"{address}/feed/status.atom"
        assert "evil.example" not in text
        monitor.set_status(
            "EPCC23-SEMI-03", "in_progress", rationale="roadmap", by="rita",
            effective_at=monitor.clock.now(), evidence=["https://example.org/roadmap"],
        )  # fmt: skip
        text, feed = atom(client, token)
        is_valid_atom(feed)
        [entry] = feed.findall(ATOM + "entry")
        assert entry.find(ATOM + "link").get("href") == f"{address}/commitments/EPCC23-SEMI-03"
        assert "evil.example" not in text
    # no address configured: links relative to the feed, which the reader resolves
    anywhere = replace(monitor.settings, service=service)
    with (
        Monitor.open(anywhere, monitor.clock) as unaddressed,
        LiveServer(create_app(unaddressed, secret_key="k")) as server,
        httpx.Client(base_url=server.url("")) as client,
    ):
        text, feed = atom(client, token)
        is_valid_atom(feed)
        assert feed.findtext(ATOM + "id").startswith("urn:uuid:")
        [entry] = feed.findall(ATOM + "entry")
        assert entry.find(ATOM + "link").get("href") == "/commitments/EPCC23-SEMI-03"
        assert "evil.example" not in text


def test_dashboard_shows_status_history_and_last_review(site) -> None:  # type: ignore[no-untyped-def]
    monitor, client = site
    [first, *_] = monitor.review.queue()
    monitor.review.decide(first.proposal_id, "accept", by="rita")
    points = monitor.status_over_time()
    assert points[-1][1] == {"not_yet_assessed": 19}
    # Every month end from the statement's month (made 2023-11-14) to today.
    assert (len(points), points[0][0].isoformat(), points[-1][0].isoformat()) == (
        27,
        "2023-11-30",
        "2026-01-15",
    )
    login(client, "vera")
    page = client.get("/").text
    assert page.count("<rect") >= len(points)
    # the first and the last month are labelled, inside the chart's edges; a legend
    assert '<text x="0" ' in page
    assert 'text-anchor="start">2023-11</text>' in page
    assert 'text-anchor="end">2026-01</text>' in page
    assert '<p class="legend"><span class="status s-not_yet_assessed">' in page


def test_status_over_time_follows_effective_dates(site) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    monitor, _client = site
    monitor.set_status(
        "EPCC23-ORD-01",
        "in_progress",
        rationale="IPEF talks",
        by="rita",
        effective_at=datetime(2025, 6, 10, tzinfo=UTC),
        evidence=["https://example.org/ipef"],
    )
    by_month = {day.isoformat()[:7]: counts for day, counts in monitor.status_over_time()}
    assert by_month["2025-05"] == {"not_yet_assessed": 19}
    assert by_month["2025-06"] == {"not_yet_assessed": 18, "in_progress": 1}


def test_dashboard_pages_and_follows_every_change(site) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    monitor, client = site
    first = monitor.overview(1, 8)
    second = monitor.overview(2, 8)
    last = monitor.overview(3, 8)
    assert (first.more, second.more, last.more) == (True, True, False)
    ids = [r.commitment_id for o in (first, second, last) for r in o.rows]
    assert ids == sorted(ids)
    assert len(ids) == len(set(ids)) == first.total == 19
    assert first.waiting == monitor.review.waiting_count() > 0
    # Counts and the chart are kept between calls until a commitment changes: then they
    # follow at once.
    before = monitor.overview(1, 8)
    assert before.counts == first.counts
    monitor.set_status(
        "EPCC23-ORD-01",
        "in_progress",
        rationale="IPEF talks",
        by="rita",
        effective_at=datetime(2025, 6, 10, tzinfo=UTC),
        evidence=["https://example.org/ipef"],
    )
    after = monitor.overview(1, 8)
    assert after.counts["status"] == {"not_yet_assessed": 18, "in_progress": 1}
    assert after.chart[-1][1] == {"not_yet_assessed": 18, "in_progress": 1}
    assert after.chart == monitor.status_over_time()
    login(client, "vera")
    assert "page=" not in client.get("/").text  # 19 commitments: one page
    assert 'href="/?page=1"' in client.get("/", params={"page": 2}).text
    assert client.get("/", params={"page": 0}).status_code == 422


@pytest.mark.parametrize(
    ("who", "allowed"), [(None, False), ("vera", False), ("rita", True), ("adam", True)]
)
@pytest.mark.parametrize("action", ["accept", "reject", "snooze"])
def test_every_mutating_route_for_every_role(site, who, allowed, action) -> None:  # type: ignore[no-untyped-def]
    monitor, client = site
    [first, *_] = monitor.review.queue()
    if who:
        login(client, who)
    token = csrf_of(client, "/login")
    form = {"action": action, "csrf": token, "reason": "other", "until": "2026-02-01"}
    response = client.post(f"/queue/{first.proposal_id}", data=form)
    if who is None:
        assert (response.status_code, response.headers["location"]) == (303, "/login")
    elif allowed:
        assert response.status_code == 303
        assert response.headers["location"].startswith("/queue?notice=")
    else:
        assert response.status_code == 403
    assert (first.proposal_id in {p.proposal_id for p in monitor.review.queue()}) != allowed
    if who:
        api = {"Authorization": f"Bearer {monitor.accounts.create_token(who, 'matrix')}"}
        body = {"reason": "other", "until": "2026-03-01"}
        second = monitor.review.queue()[-1].proposal_id
        answer = client.post(f"/api/queue/{second}/{action}", headers=api, json=body)
        assert answer.status_code == (200 if allowed else 403)


def test_json_api_mirrors_the_cli(site) -> None:  # type: ignore[no-untyped-def]
    monitor, client = site
    read = {"Authorization": f"Bearer {monitor.accounts.create_token('vera', 'r')}"}
    write = {"Authorization": f"Bearer {monitor.accounts.create_token('rita', 'w')}"}
    body = {
        "status": "in_progress",
        "rationale": "roadmap work",
        "effective": "2026-01-05",
        "evidence": ["https://example.org/roadmap"],
    }
    assert (
        client.post("/api/commitments/EPCC23-SEMI-03/status", headers=read, json=body).status_code
        == 403
    )
    done = client.post("/api/commitments/EPCC23-SEMI-03/status", headers=write, json=body)
    assert [e["event_type"] for e in done.json()["recorded"]] == [
        "EvidenceAccepted",
        "StatusAssessed",
    ]
    refused = client.post(
        "/api/commitments/EPCC23-SEMI-03/status", headers=write, json={"status": "fulfilled"}
    )
    assert refused.status_code == 422  # the body, checked before any command runs
    assert refused.json()["problems"] == ["rationale: Field required"]
    refused = client.post(
        "/api/commitments/EPCC23-SEMI-03/status",
        headers=write,
        json={**body, "status": "done", "colour": "red"},
    )
    assert refused.status_code == 422
    assert [p.split(":")[0] for p in refused.json()["problems"]] == ["status", "colour"]
    # the domain's own refusals stay 400 with its message
    no_evidence = client.post(
        "/api/commitments/EPCC23-SEMI-03/status",
        headers=write,
        json={"status": "fulfilled", "rationale": "done", "effective": "2026-01-06"},
    )
    assert no_evidence.status_code == 400
    assert "evidence is required" in no_evidence.json()["error"]
    assert (
        client.post(
            "/api/commitments/EPCC23-SEMI-03/notes", headers=write, json={"text": "watch Natcast"}
        ).status_code
        == 200
    )
    shown = client.get("/api/commitments/EPCC23-SEMI-03", headers=read).json()
    assert shown["status"] == "in_progress"
    assert shown["timeline"][-1]["summary"] == "note: watch Natcast"
    history = client.get(
        "/api/commitments/EPCC23-SEMI-03/history", headers=read, params={"as_of": "2026-01-01"}
    ).json()
    assert history["status"] == "not_yet_assessed"
    assert client.get("/api/counts", headers=read).json()["status"]["in_progress"] == 1
    assert client.get("/api/sources", headers=read).json()[0]["items_seen"] == 2
    assert client.get("/api/commitments/NOPE-1", headers=read).status_code == 404


def test_the_api_documents_its_bodies(site) -> None:  # type: ignore[no-untyped-def]
    _, client = site
    schemas = client.get("/api/openapi.json").json()["components"]["schemas"]
    status = schemas["StatusBody"]
    assert set(status["required"]) == {"status", "rationale"}
    assert {"status", "rationale", "effective", "evidence"} <= set(status["properties"])
    assert "description" in status["properties"]["effective"]
    assert schemas["ReviewBody"]["properties"]["reason"]["default"] == "other"
    assert schemas["NoteBody"]["required"] == ["text"]
    assert get_args(Reason) == REJECT_REASONS  # the API names the reasons review knows


def test_the_cli_and_the_api_print_one_shape(site, project) -> None:  # type: ignore[no-untyped-def]
    monitor, client = site
    read = {"Authorization": f"Bearer {monitor.accounts.create_token('vera', 'r')}"}
    monitor.set_status(
        "EPCC23-SEMI-03", "in_progress", rationale="roadmap", by="rita",
        effective_at=monitor.clock.now(), evidence=["https://example.org/roadmap"],
    )  # fmt: skip
    config = str(project / "config" / "monitor.toml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}

    def cli(*args: str) -> object:
        done = subprocess.run(
            [sys.executable, "-m", "monitor", "--config", config, *args, "--json"],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return json.loads(done.stdout)

    def api(path: str, as_who: dict[str, str] = read, **params: str) -> object:
        answer = client.get(path, headers=as_who, params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()

    assert cli("list") == api("/api/commitments")
    assert cli("show", "EPCC23-SEMI-03") == api("/api/commitments/EPCC23-SEMI-03")
    for as_of in ("2025-01-01", "2026-12-31"):
        assert cli("history", "EPCC23-SEMI-03", "--as-of", as_of) == api(
            "/api/commitments/EPCC23-SEMI-03/history", as_of=as_of
        )
    assert cli("counts") == api("/api/counts")
    # the command line is an admin's: the full URLs and error texts, as an admin sees them
    admin = {"Authorization": f"Bearer {monitor.accounts.create_token('adam', 'a')}"}
    assert cli("sources") == api("/api/sources", admin)
    assert cli("queue") == api("/api/queue")
    # what a command recorded: the same shape from both
    write = {"Authorization": f"Bearer {monitor.accounts.create_token('rita', 'w')}"}
    by_cli = cli("note", "add", "EPCC23-SEMI-03", "from the shell", "--by", "rita")
    by_api = client.post(
        "/api/commitments/EPCC23-SEMI-03/notes", headers=write, json={"text": "from a script"}
    ).json()
    assert isinstance(by_cli, dict)
    [from_cli], [from_api] = by_cli["recorded"], by_api["recorded"]
    assert from_cli.keys() == from_api.keys()
    assert (from_cli["data"]["text"], from_api["data"]["text"]) == (
        "from the shell",
        "from a script",
    )


def test_hostile_requests_get_clean_answers(site) -> None:  # type: ignore[no-untyped-def]
    monitor, client = site
    login(client, "rita")
    assert client.get("/audit", params={"before": str(10**20)}).status_code == 422
    assert (
        client.get("/queue", params={"notice": "Your account is locked"}).text.count(
            "Your account is locked"
        )
        == 0
    )
    big = client.post(
        "/login",
        content=b"name=" + b"x" * 100_000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert big.status_code == 413
    assert "content-security-policy" in big.headers
    token = {"Authorization": f"Bearer {monitor.accounts.create_token('rita', 'x')}"}
    pid = monitor.review.queue()[0].proposal_id
    odd = client.post(f"/api/queue/{pid}/snooze", headers=token, json={"until": 5})
    assert odd.status_code == 422  # a bad body: the field is named
    assert odd.json()["problems"] == ["until: Input should be a valid string"]
    missing = client.get("/no-such-page")
    assert missing.status_code == 404
    assert "content-security-policy" in missing.headers


def test_logout_ends_the_session_everywhere(site) -> None:  # type: ignore[no-untyped-def]
    _monitor, client = site
    login(client, "vera")
    stolen = dict(client.cookies)
    assert client.get("/").status_code == 200
    client.post("/logout", data={"csrf": csrf_of(client, "/")})
    with httpx.Client(base_url=str(client.base_url), cookies=stolen) as other:
        response = other.get("/", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login")


def test_failed_logins_are_throttled(site) -> None:  # type: ignore[no-untyped-def]
    _monitor, client = site
    for _ in range(5):
        wrong = client.post(
            "/login", data={"name": "adam", "password": "guess", "csrf": csrf_of(client)}
        )
        assert wrong.status_code == 401
    blocked = client.post(
        "/login", data={"name": "adam", "password": PASSWORD, "csrf": csrf_of(client)}
    )
    assert blocked.status_code == 429
    login(client, "vera")  # other names are not affected


def test_highlight_marks_terms_and_escapes_everything_else() -> None:
    from monitor.web.highlight import highlight

    marked = highlight('<b>Legacy chips</b> & LEGACY CHIPS "JUCIP"', '["legacy chips", "JUCIP"]')
    assert str(marked) == (
        "&lt;b&gt;<mark>Legacy chips</mark>&lt;/b&gt; &amp; <mark>LEGACY CHIPS</mark> "
        "&#34;<mark>JUCIP</mark>&#34;"
    )
    # A term that is itself markup is matched as text and escaped inside the mark.
    assert str(highlight("a <script> b", '["<script>"]')) == "a <mark>&lt;script&gt;</mark> b"
    assert str(highlight("nothing here", "[]")) == "nothing here"


def test_a_browser_session_posting_to_the_api_is_told_what_works(site) -> None:  # type: ignore[no-untyped-def]
    """Logged in, a session posting JSON is not told to "log in first" (issue 13)."""
    _monitor, client = site
    anonymous = client.post("/api/commitments/EPCC23-SEMI-03/notes", json={"text": "n"})
    assert (anonymous.status_code, anonymous.json()["error"]) == (401, "log in first")
    login(client, "rita")
    answer = client.post("/api/commitments/EPCC23-SEMI-03/notes", json={"text": "n"})
    assert answer.status_code == 401
    assert "takes an API token" in answer.json()["error"]
    assert "Authorization: Bearer" in answer.json()["error"]


def test_a_fresh_install_s_login_page_says_how_to_make_the_first_account(
    monitor: Monitor,
) -> None:
    """Issue 13: with no account at all, the login page says how to make one."""
    with (
        LiveServer(create_app(monitor, secret_key="test-key")) as server,
        httpx.Client(base_url=server.url("")) as client,
    ):
        page = client.get("/login").text
        assert "No account exists yet" in page
        assert "monitor user add NAME --role admin --password-stdin" in page
        monitor.accounts.add("ana", "admin", "correct horse battery")
        assert "No account exists yet" not in client.get("/login").text


def test_a_failed_login_keeps_the_name(site) -> None:  # type: ignore[no-untyped-def]
    _monitor, client = site
    failed = client.post(
        "/login", data={"name": "rita", "password": "wrong", "csrf": csrf_of(client)}
    )
    assert failed.status_code == 401
    assert 'value="rita"' in failed.text


def test_core_messages_are_said_in_the_web_s_words() -> None:
    from monitor.web.site import web_words

    assert web_words("a rationale is required (--rationale)") == (
        "a rationale is required (the Rationale field)"
    )
    assert web_words("the assessor is required (--by)") == "the assessor is required"
    said = web_words("snooze needs --until DATE; evidence is required (--evidence URL or id)")
    assert said == (
        "snooze needs the Snooze until field; evidence is required (the Evidence field or id)"
    )


def test_error_pages_keep_the_menu_and_speak_web(site) -> None:  # type: ignore[no-untyped-def]
    _monitor, client = site
    login(client, "vera")
    page = client.get("/commitments/EPCC23-SEMI-3")
    assert page.status_code == 404
    assert '<a href="/queue">Review queue</a>' in page.text  # the menu is there
    assert "did you mean &#39;EPCC23-SEMI-03&#39;" in page.text
    assert "monitor list" not in page.text
    # an unknown commitment in the queue's filter is named, not an empty queue
    filtered = client.get("/queue", params={"commitment": "EPCC23-SEMI-1"})
    assert filtered.status_code == 404
    assert "unknown commitment" in filtered.text
    assert '<a href="/">Dashboard</a>' in filtered.text
