"""The JSON API keeps its contract (docs/web.md, "API contract"): bodies refused before any
command runs, one error shape (RFC 9457 problem details), a repeated POST recorded once, a
lost race 409 and an unreachable database 503, pages with a cursor, an OpenAPI document
that says all of it, and an unexpected error logged with the id its answer shows.

Everything runs against the real application served by uvicorn on loopback, on both
backends; the last test runs Schemathesis (every check, bodies included) over every
operation, as the security review did.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import text

from monitor import FixedClock, Monitor
from monitor.application.accounts import Accounts
from monitor.application.idempotency import fingerprint
from monitor.web import create_app

from .feedserver import FeedServer
from .test_poll import LIMITS, item, rss, write_sources
from .test_write_conflicts import get_in_first
from .webserver import PASSWORD, LiveServer

HERE = Path(__file__).parent
#: four stories, each proposed for its own commitments
TITLES = (
    "Legacy chips: Japan and the U.S. agree",
    "IPEF ministers meet on supply chains",
    "Critical minerals deal signed by Japan and US",
    "Japan US economic coercion response plan",
)
CID = "EPCC23-SEMI-03"
ASSESS = {
    "status": "in_progress",
    "rationale": "roadmap work",
    "effective": "2026-01-05",
    "evidence": ["https://example.org/roadmap"],
}


@dataclass
class Api:
    monitor: Monitor
    client: httpx.Client
    read: dict[str, str]
    write: dict[str, str]
    other: dict[str, str]
    token: str


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api(monitor: Monitor, feed_server: FeedServer) -> Iterator[Api]:
    """The application on loopback over a monitor with four stories waiting; tokens of a
    viewer and of two reviewers."""
    monitor.accounts = Accounts(monitor, PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    for name, role in {"vera": "viewer", "rita": "reviewer", "ines": "reviewer"}.items():
        monitor.accounts.add(name, role, PASSWORD)
    feed = f"contract{uuid.uuid4().hex[:8]}"
    feed_server.set_body(
        feed, rss(*(item(str(i), t, link=f"https://example.org/{i}") for i, t in enumerate(TITLES)))
    )
    write_sources(monitor.settings.base_dir, {feed: feed_server.url(f"/feeds/{feed}")})
    monitor.sources.sync()
    monitor.sources.poll(monitor.sources.due(), limits=LIMITS)
    token = monitor.accounts.create_token("rita", "script")
    with (
        LiveServer(create_app(monitor, secret_key="contract")) as server,
        httpx.Client(base_url=server.url(""), follow_redirects=False) as client,
    ):
        yield Api(
            monitor,
            client,
            read=bearer(monitor.accounts.create_token("vera", "reader")),
            write=bearer(token),
            other=bearer(monitor.accounts.create_token("ines", "script")),
            token=token,
        )


def is_problem(answer: httpx.Response, status: int) -> dict[str, Any]:
    """The answer is RFC 9457 problem details of ``status``; its body."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = answer.json()
    assert body["type"] == "about:blank"
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert body["error"] == body["detail"]  # what the first clients read
    return body


def assessments(monitor: Monitor, commitment: str = CID) -> int:
    return sum(
        1
        for e in monitor.store.read_stream(f"commitment-{commitment}")
        if e.event_type == "StatusAssessed"
    )


# -- bodies ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "problem"),
    [
        ("status", {**ASSESS, "evidence": None}, "evidence: Input should be a valid list"),
        ("status", {**ASSESS, "evidence": 5}, "evidence: Input should be a valid list"),
        ("status", {**ASSESS, "evidence": [5]}, "evidence.0: Input should be a valid string"),
        ("status", {**ASSESS, "rationale": {"a": 1}}, "rationale: Input should be a valid string"),
        ("status", {**ASSESS, "rationale": 5}, "rationale: Input should be a valid string"),
        ("status", {**ASSESS, "rationale": None}, "rationale: Input should be a valid string"),
        # a misspelt field must not mean "effective now"
        (
            "status",
            {k: v for k, v in ASSESS.items() if k != "effective"} | {"effective_at": "2024-03-01"},
            "effective_at: Extra inputs are not permitted",
        ),
        ("status", {**ASSESS, "effective": 20240301}, "effective: Input should be a valid string"),
        ("notes", {"text": 5}, "text: Input should be a valid string"),
        ("notes", {"text": {"note": "x"}}, "text: Input should be a valid string"),
        ("notes", {"text": "a\x00b"}, "text: holds a control character"),
        ("notes", {"text": "ok", "author": "someone else"}, "author: Extra inputs"),
    ],
)
def test_a_bad_body_is_refused_before_any_command(
    api: Api, path: str, body: Any, problem: str
) -> None:
    before = api.monitor.last_position()
    answer = api.client.post(f"/api/commitments/{CID}/{path}", headers=api.write, json=body)
    found = is_problem(answer, 422)
    assert len(found["problems"]) == 1
    assert found["problems"][0].startswith(problem), found["problems"]
    assert api.monitor.last_position() == before  # nothing recorded, nothing half-done


def test_every_error_under_api_is_a_problem(api: Api) -> None:
    client = api.client
    assert is_problem(client.get("/api/counts"), 401)["detail"] == "log in first"
    is_problem(
        client.post(f"/api/commitments/{CID}/notes", headers=api.read, json={"text": "n"}), 403
    )
    assert (
        "unknown commitment"
        in is_problem(client.get("/api/commitments/NOPE-1", headers=api.read), 404)["detail"]
    )
    is_problem(client.get("/api/no-such-thing", headers=api.read), 404)
    # the rules' own refusal of a well-formed request
    refused = client.post(
        f"/api/commitments/{CID}/status",
        headers=api.write,
        json={"status": "fulfilled", "rationale": "done", "effective": "2026-01-06"},
    )
    assert "evidence is required" in is_problem(refused, 400)["detail"]
    is_problem(client.get("/api/queue", headers=api.read, params={"limit": 0}), 422)
    too_big = client.post(
        f"/api/commitments/{CID}/notes", headers=api.write, json={"text": "x" * 70_000}
    )
    is_problem(too_big, 413)
    # a method the path does not take: 405, saying which it takes
    wrong = client.get("/api/queue/0b1c2083/accept", headers=api.read)
    is_problem(wrong, 405)
    assert wrong.headers["allow"] == "POST"
    assert client.delete("/api/counts", headers=api.read).headers["allow"] == "GET"


def test_an_id_prefix_is_hex_or_refused(api: Api) -> None:
    """`%%%%%%ec4c8` snoozed a proposal: `%` was a LIKE wildcard."""
    [story, *_] = api.client.get("/api/queue", headers=api.read).json()
    proposal = story["commitments"][0]["proposal_id"]
    for ref in ("%25%25%25%25%25%25" + proposal[-5:], "______" + proposal[-5:], "ABCDEF12"):
        answer = api.client.post(
            f"/api/queue/{ref}/snooze", headers=api.write, json={"until": "2026-03-01"}
        )
        assert is_problem(answer, 422)["problems"][0].startswith("path.ref:")
    waiting = {p.proposal_id for p in api.monitor.review.queue()}
    assert proposal in waiting  # nothing was snoozed


# -- failures that are not the client's ------------------------------------------------


def test_an_unexpected_error_is_logged_with_the_id_its_answer_shows(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    # A read model damaged behind the application's back: its rows no longer parse.
    with api.monitor.engine.begin() as conn:
        conn.execute(text("UPDATE proposal_view SET matched_terms = 'not json'"))
    with caplog.at_level(logging.ERROR, logger="monitor.web"):
        answer = api.client.get("/api/queue", headers=api.read)
    body = is_problem(answer, 500)
    request_id = answer.headers["x-request-id"]
    assert body["request_id"] == request_id
    assert request_id in body["detail"]
    assert "Traceback" not in answer.text
    assert "JSONDecodeError" not in answer.text
    assert "content-security-policy" in answer.headers  # the middleware saw an answer
    [logged] = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged.exc_info is not None
    assert logged.exc_info[0] is json.JSONDecodeError
    assert "GET /api/queue" in logged.getMessage()


def test_a_lost_race_is_409_never_400(api: Api) -> None:
    """Another host writes to the commitment before each attempt: the write path gives up,
    and the API says it was a race (the request itself was fine)."""
    with Monitor.open(api.monitor.settings) as other:
        api.monitor.writer.before_append = get_in_first(other)
        api.monitor.writer.retries = 3
        try:
            answer = api.client.post(
                f"/api/commitments/{CID}/notes", headers=api.write, json={"text": "raced"}
            )
        finally:
            api.monitor.writer.before_append = None
    assert "kept changing while you edited it" in is_problem(answer, 409)["detail"]


def test_an_unreachable_database_is_503_with_retry_after(monitor: Monitor, tmp_path: Path) -> None:
    gone = tmp_path / "no-such-folder" / "monitor.sqlite3"
    settings = replace(monitor.settings, database_url=f"sqlite:///{gone}")
    with (
        Monitor.open(settings) as unreachable,
        LiveServer(create_app(unreachable, secret_key="k")) as server,
        httpx.Client(base_url=server.url("")) as client,
    ):
        answer = client.get("/api/counts", headers=bearer("mon_anything"))
        assert "try again" in is_problem(answer, 503)["detail"]
        assert answer.headers["retry-after"] == "5"
        assert str(gone) not in answer.text  # where the database is stays in the log


# -- a POST repeated ---------------------------------------------------------------------


def test_a_repeated_post_is_answered_once(api: Api, clock: FixedClock) -> None:
    client, key = api.client, {"Idempotency-Key": str(uuid.uuid4())}
    path = f"/api/commitments/{CID}/status"
    first = client.post(path, headers=api.write | key, json=ASSESS)
    assert first.status_code == 200, first.text
    again = client.post(path, headers=api.write | key, json=dict(reversed(ASSESS.items())))
    assert (again.status_code, again.json()) == (200, first.json())  # the same answer
    assert again.headers["idempotent-replayed"] == "true"
    assert assessments(api.monitor) == 1  # recorded once
    # the same key for another request: refused, nothing recorded
    other = client.post(path, headers=api.write | key, json={**ASSESS, "status": "stalled"})
    assert "Idempotency-Key" in is_problem(other, 422)["detail"]
    # keys are each account's own
    assert client.post(path, headers=api.other | key, json=ASSESS).status_code == 200
    assert assessments(api.monitor) == 2
    # a refusal recorded nothing, so its key is free for the request put right
    retry = {"Idempotency-Key": "refused-once"}
    bare = {k: v for k, v in ASSESS.items() if k != "evidence"} | {"status": "fulfilled"}
    is_problem(client.post(path, headers=api.write | retry, json=bare), 400)
    assert client.post(path, headers=api.write | retry, json=ASSESS).status_code == 200
    # while the first request with a key is being answered, a repeat waits its turn
    busy = {"Idempotency-Key": "in-flight"}
    body = json.dumps({"text": "n"}).encode()
    api.monitor.idempotency.claim(
        "rita", "in-flight", fingerprint("POST", f"/api/commitments/{CID}/notes", "", body)
    )
    waiting = client.post(
        f"/api/commitments/{CID}/notes",
        headers=api.write | busy | {"Content-Type": "application/json"},
        content=body,
    )
    assert is_problem(waiting, 409)["detail"].startswith("the first request with this")
    assert waiting.headers["retry-after"] == "1"
    # a malformed key is refused
    for bad in ("with space", "x" * 256):
        answer = client.post(path, headers=api.write | {"Idempotency-Key": bad}, json=ASSESS)
        is_problem(answer, 422)
    # a day later the key is forgotten: the same key starts a new request
    clock.advance(timedelta(hours=25))
    later = client.post(path, headers=api.write | key, json={**ASSESS, "status": "stalled"})
    assert later.status_code == 200, later.text
    with api.monitor.engine.connect() as conn:
        kept = conn.execute(text("SELECT count(*) FROM idempotency_keys")).scalar_one()
    assert kept == 1  # the old answers were pruned


# -- pages -------------------------------------------------------------------------------


def follow(api: Api, path: str) -> tuple[list[dict[str, Any]], str | None]:
    answer = api.client.get(path, headers=api.read)
    assert answer.status_code == 200, answer.text
    following = answer.links.get("next", {}).get("url")
    return answer.json(), following


def test_the_queue_pages_with_a_cursor(api: Api) -> None:
    whole, following = follow(api, "/api/queue")
    assert len(whole) == len(TITLES)
    assert following is None
    seen, path = [], "/api/queue?limit=1"
    while path:
        rows, path = follow(api, path)
        assert len(rows) == 1
        seen += [r["story_id"] for r in rows]
    assert seen == [r["story_id"] for r in whole]  # every story once, in order
    # a page continues after the row the last one ended with, whatever was decided since
    [first], following = follow(api, "/api/queue?limit=1")
    everything = {"commitment": [c["commitment_id"] for c in first["commitments"]]}
    decided = api.client.post(
        f"/api/queue/{first['story_id']}/reject", headers=api.write, json=everything
    )
    assert decided.status_code == 200, decided.text
    assert following is not None
    [second], _ = follow(api, following)
    assert second["story_id"] == whole[1]["story_id"]  # not skipped
    # a cursor the server never gave
    answer = api.client.get("/api/queue", headers=api.read, params={"cursor": "bm90LWEtY3Vyc29y"})
    assert "cursor" in is_problem(answer, 400)["detail"]
    both = api.client.get("/api/queue", headers=api.read, params={"cursor": "abc", "page": 2})
    is_problem(both, 400)


# -- the document ------------------------------------------------------------------------


def test_the_openapi_document_states_the_contract(api: Api) -> None:
    document = api.client.get("/api/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert (schemes["session"]["type"], schemes["session"]["in"]) == ("apiKey", "cookie")
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            expected = [{"bearer": []}] if method == "post" else [{"bearer": []}, {"session": []}]
            assert operation["security"] == expected, where
            statuses = {int(s) for s in operation["responses"]}
            assert {200, 401, 403, 500, 503} <= statuses, where
            if operation.get("parameters") or "requestBody" in operation:
                assert 422 in statuses, where
            if method == "post":
                assert {400, 404, 409, 413, 422} <= statuses, where
                headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
                assert headers == ["Idempotency-Key"], where
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], where
                    schema = response["content"]["application/problem+json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problem"}, where
    review = document["paths"]["/api/queue/{ref}/{action}"]["post"]["parameters"]
    action = next(p for p in review if p["name"] == "action")["schema"]
    assert document["components"]["schemas"][action["$ref"].rsplit("/", 1)[1]]["enum"] == [
        "accept",
        "reject",
        "snooze",
    ]
    listing = document["paths"]["/api/commitments"]["get"]["parameters"]
    status = next(p for p in listing if p["name"] == "status")["schema"]["anyOf"][0]
    statuses = document["components"]["schemas"][status["$ref"].rsplit("/", 1)[1]]["enum"]
    assert "fulfilled" in statuses
    queue = document["paths"]["/api/queue"]["get"]["responses"]["200"]
    assert "Link" in queue["headers"]


# -- the fuzzer ----------------------------------------------------------------------------


def test_schemathesis_finds_nothing(api: Api, tmp_path: Path) -> None:
    """Every check Schemathesis 4.32 has, over every operation, bodies included, with a
    reviewer's token (deterministic, and bounded: it runs in CI)."""
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "--no-color",
        "run",
        str(api.client.base_url.join("/api/openapi.json")),
        "--checks",
        "all",
        "--max-examples",
        "25",
        "--seed",
        "14",
        "--generation-deterministic",  # and so no database of examples between runs
        "--workers",
        "1",
    ]
    environment = os.environ | {
        "MONITOR_CONTRACT_TOKEN": api.token,
        "SCHEMATHESIS_HOOKS": str(HERE / "schemathesis_hooks.py"),
    }
    done = subprocess.run(
        command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout[-20_000:] + done.stderr[-5_000:]
    assert "Tested: 9" in done.stdout  # every operation of the document
