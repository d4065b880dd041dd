"""Poll rounds end to end: a real loopback server, a real store, a fake clock."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from monitor import FixedClock, Monitor, load_settings
from monitor.sources.fetch import FetchLimits

from .conftest import NOW
from .feedserver import FeedServer

LIMITS = FetchLimits(connect_timeout=1, read_timeout=1, deadline=3)


def rss(*items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def item(
    guid: str | None,
    title: str,
    body: str = "",
    link: str | None = None,
    date: str = "Mon, 05 Jan 2026 09:00:00 GMT",
) -> str:
    parts = [f"<title>{title}</title>", f"<description>{body}</description>"]
    if guid is not None:
        parts.append(f'<guid isPermaLink="false">{guid}</guid>')
    if link is not None:
        parts.append(f"<link>{link}</link>")
    if date:
        parts.append(f"<pubDate>{date}</pubDate>")
    return "<item>" + "".join(parts) + "</item>"


LEGACY = item(
    "g-1",
    "US and Japan deepen legacy chip cooperation",
    "The Economic 2+2 partners agreed on mature-node semiconductors and legacy chips.",
    "https://www.example.gov/news/legacy?utm_source=rss#top",
)
OLD = item(
    "g-0",
    "Legacy chips talk (2022)",
    "Before the 2023 statement: legacy chips and mature-node semiconductors.",
    "https://www.example.gov/news/old",
    date="Fri, 29 Jul 2022 09:00:00 GMT",
)
UNRELATED = item("g-2", "Passport fees change", "Nothing about Japan.", "https://www.example.gov/p")


def write_sources(project: Path, sources: dict[str, str], interval: str = "30m") -> None:
    body = "".join(
        f'[[source]]\nname = "{name}"\nurl = "{url}"\nkind = "feed"\ninterval = "{interval}"\n\n'
        for name, url in sources.items()
    )
    (project / "config" / "sources.toml").write_text(body, encoding="utf-8")


@pytest.fixture
def setup(project: Path, feed_server: FeedServer) -> Iterator[tuple[Monitor, FixedClock, str]]:
    """A monitor with sources named after this test (the server is shared)."""
    prefix = f"t{uuid.uuid4().hex[:8]}"
    clock = FixedClock(NOW)
    with Monitor.open(load_settings(project / "config" / "monitor.toml", env={}), clock) as m:
        yield m, clock, prefix


def events_of(monitor: Monitor, event_type: str) -> list[dict]:
    return [json.loads(r[6]) for r in monitor.store.iter_rows() if r[4] == event_type]


def poll(monitor: Monitor, everything: bool = True):  # type: ignore[no-untyped-def]
    return monitor.sources.poll(monitor.sources.due(everything=everything), limits=LIMITS)


def test_first_poll_then_an_unchanged_repoll(setup, feed_server: FeedServer, project: Path) -> None:  # type: ignore[no-untyped-def]
    monitor, clock, p = setup
    feed_server.set_body(f"{p}-a", rss(LEGACY, OLD, UNRELATED))
    write_sources(project, {f"{p}-a": feed_server.url(f"/feeds/{p}-a")})
    monitor.init()
    first = poll(monitor)
    assert (first.ok, first.items_new, first.proposals) == (1, 3, 2)
    proposals = events_of(monitor, "EvidenceProposed")
    assert {e["commitment_id"] for e in proposals} == {"EPCC23-SEMI-01", "EPCC23-SEMI-02"}
    assert all(e["title"] == "US and Japan deepen legacy chip cooperation" for e in proposals)
    assert "legacy chips" in [t.lower() for t in proposals[0]["matched_terms"]]
    before = monitor.last_position()
    clock.advance(timedelta(hours=1))
    second = poll(monitor, everything=False)
    assert (second.not_modified, second.items_new, second.proposals) == (1, 0, 0)
    assert monitor.last_position() == before + 1  # the check itself, nothing else
    health = monitor.sources.get(f"{p}-a")
    assert health.last_outcome == "not_modified"
    assert health.items_seen == 3
    queue = monitor.review.queue()
    assert [q.commitment_id for q in queue] == ["EPCC23-SEMI-01", "EPCC23-SEMI-02"]


def test_edits_duplicates_and_no_pruning_after_a_failure(  # type: ignore[no-untyped-def]
    setup, feed_server: FeedServer, project: Path
) -> None:
    monitor, clock, p = setup
    name = f"{p}-b"
    feed_server.set_body(name, rss(UNRELATED, UNRELATED.replace("Passport", "Visa")))
    write_sources(project, {name: feed_server.url(f"/feeds/{name}")})
    monitor.init()
    assert poll(monitor).items_new == 1  # a duplicate guid in one response: first one wins
    feed_server.set_body(name, b"<!DOCTYPE html><html><body>Just a moment...</body></html>")
    failed = poll(monitor)
    assert failed.failed == 1
    assert "not a feed" in failed.failures[0][1]
    edited = UNRELATED.replace(
        "Nothing about Japan.", "Now: Japan and the U.S. agree to work on legacy chips."
    )
    feed_server.set_body(name, rss(edited))
    clock.advance(timedelta(hours=2))
    report = poll(monitor)
    assert (report.items_new, report.items_revised, report.proposals) == (0, 1, 1)
    revised = events_of(monitor, "ItemRevised")
    assert len(revised) == 1
    assert "legacy chips" in revised[0]["summary"]
    assert len(events_of(monitor, "ItemDiscovered")) == 1


def test_the_same_story_from_two_sources_collapses(  # type: ignore[no-untyped-def]
    setup, feed_server: FeedServer, project: Path
) -> None:
    monitor, _clock, p = setup
    feed_server.set_body(f"{p}-c1", rss(LEGACY))
    other = LEGACY.replace("g-1", "other-guid").replace(
        "https://www.example.gov/news/legacy?utm_source=rss#top",
        "http://example.gov/news/legacy/?fbclid=x",
    )
    feed_server.set_body(f"{p}-c2", rss(other))
    write_sources(
        project,
        {
            f"{p}-c1": feed_server.url(f"/feeds/{p}-c1"),
            f"{p}-c2": feed_server.url(f"/feeds/{p}-c2"),
        },
    )
    monitor.init()
    report = poll(monitor)
    assert report.items_new == 1
    assert len(events_of(monitor, "ItemAlsoSeen")) == 1
    assert len(events_of(monitor, "EvidenceProposed")) == 2
    assert poll(monitor).items_new == 0  # and stays collapsed
    assert len(events_of(monitor, "ItemAlsoSeen")) == 1


def test_failures_back_off_and_retry_after_is_honoured(  # type: ignore[no-untyped-def]
    setup, feed_server: FeedServer, project: Path
) -> None:
    monitor, clock, p = setup
    feed_server.set_body(f"{p}-ok", rss(UNRELATED))
    write_sources(
        project,
        {
            f"{p}-down": feed_server.url("/status/500"),
            f"{p}-limited": feed_server.url("/ratelimit?retry_after=7200"),
            f"{p}-ok": feed_server.url(f"/feeds/{p}-ok"),
        },
    )
    monitor.init()
    delays = []
    for _ in range(8):
        report = poll(monitor)
        assert report.ok + report.not_modified == 1  # the healthy source is unaffected
        down = monitor.sources.get(f"{p}-down")
        delays.append(datetime.fromisoformat(down.next_check_at) - clock.now())  # type: ignore[arg-type]
        clock.advance(timedelta(minutes=1))
    assert delays[1] > delays[0]
    assert max(delays) <= timedelta(hours=24)
    assert delays[-1] >= timedelta(hours=24) * 0.8  # capped at a day, with jitter below
    down = monitor.sources.get(f"{p}-down")
    assert (down.consecutive_failures, down.last_status) == (8, 500)
    assert down.failing_since is not None
    limited = monitor.sources.get(f"{p}-limited")
    wait = datetime.fromisoformat(limited.next_check_at) - clock.now()  # type: ignore[arg-type]
    assert wait >= timedelta(seconds=7200) - timedelta(minutes=1)
    assert "HTTP 429" in (limited.last_error or "")


def test_only_due_sources_are_polled(setup, feed_server: FeedServer, project: Path) -> None:  # type: ignore[no-untyped-def]
    monitor, clock, p = setup
    feed_server.set_body(f"{p}-d", rss(UNRELATED))
    write_sources(project, {f"{p}-d": feed_server.url(f"/feeds/{p}-d")})
    monitor.init()
    assert [s.name for s in monitor.sources.due()] == [f"{p}-d"]
    poll(monitor, everything=False)
    assert monitor.sources.due() == []
    clock.advance(timedelta(minutes=31))
    assert [s.name for s in monitor.sources.due()] == [f"{p}-d"]


def test_rematch_proposes_only_what_is_new(setup, feed_server: FeedServer, project: Path) -> None:  # type: ignore[no-untyped-def]
    monitor, _clock, p = setup
    feed_server.set_body(f"{p}-r", rss(LEGACY, UNRELATED))
    write_sources(project, {f"{p}-r": feed_server.url(f"/feeds/{p}-r")})
    monitor.init()
    poll(monitor)
    assert monitor.matching.rematch(dry_run=True).new == []
    # A catalogue change: passports now count for the coercion commitment.
    path = monitor.settings.catalogue
    text = path.read_text(encoding="utf-8")
    marker = 'economic_coercion = { en = ["economic coercion"'
    assert marker in text
    path.write_text(
        text.replace(marker, 'economic_coercion = { en = ["Passport fees", "economic coercion"', 1)
    )
    monitor.sync()
    before = monitor.last_position()
    dry = monitor.matching.rematch(dry_run=True, page=1)  # one item a page: pages join up
    assert [(n.commitment_id, n.title) for n in dry.new] == [
        ("EPCC23-COER-02", "Passport fees change")
    ]
    assert (dry.items, dry.new_count, dry.dropped_count) == (2, 1, 0)
    assert monitor.last_position() == before  # a dry run writes nothing
    done = monitor.matching.rematch(dry_run=False, page=1)
    assert len(done.new) == 1
    assert monitor.matching.rematch(dry_run=False).new == []
    assert {q.title for q in monitor.review.queue(commitment="EPCC23-COER-02")} == {
        "Passport fees change"
    }
    # The rule change taken back: the waiting proposal is shown as dropped, and stays.
    path.write_text(text)
    monitor.sync()
    dropped = monitor.matching.rematch(dry_run=True)
    assert [(d.commitment_id, d.title) for d in dropped.dropped] == [
        ("EPCC23-COER-02", "Passport fees change")
    ]
    assert monitor.matching.rematch(dry_run=False).dropped_count == 1
    assert {q.title for q in monitor.review.queue(commitment="EPCC23-COER-02")} == {
        "Passport fees change"
    }


FAILURE_MODES = {
    "404": ("/status/404", "HTTP 404"),
    "500": ("/status/500", "HTTP 500"),
    "429": ("/ratelimit?retry_after=60", "HTTP 429"),
    "slow": ("/slow-headers?seconds=30", "stopped answering"),
    "drip": ("/drip?seconds=30", "no complete answer"),
    "huge": ("/huge?mib=3", "over the 1 MiB cap"),
    "bomb": ("/gzip-bomb?mib=200", "decompresses to over 1 MiB"),
    "loop": ("/redirect-loop", "more than 5 redirects"),
    "html": ("/html", "not a feed: the response is an HTML page"),
    "laughs": ("/billion-laughs", "undefined entity"),
    "empty": ("/empty", "not a feed"),
    "close": ("/close", "the connection broke"),
}


def test_every_failure_is_recorded_and_the_healthy_source_is_unaffected(  # type: ignore[no-untyped-def]
    setup, feed_server: FeedServer, project: Path
) -> None:
    monitor, _clock, p = setup
    feed_server.set_body(f"{p}-fine", rss(LEGACY))
    urls = {f"{p}-{name}": feed_server.url(path) for name, (path, _e) in FAILURE_MODES.items()}
    write_sources(project, {**urls, f"{p}-fine": feed_server.url(f"/feeds/{p}-fine")})
    monitor.init()
    limits = FetchLimits(
        connect_timeout=1,
        read_timeout=0.5,
        deadline=2,
        max_body=1024 * 1024,
        max_decoded=1024 * 1024,
    )
    report = monitor.sources.poll(monitor.sources.due(everything=True), limits=limits)
    assert report.sources == len(FAILURE_MODES) + 1
    health = {s.name: s for s in monitor.sources.all()}
    assert (health[f"{p}-fine"].last_outcome, health[f"{p}-fine"].items_seen) == ("ok", 1)
    for name, (_path, error) in FAILURE_MODES.items():
        source = health[f"{p}-{name}"]
        if name == "laughs":  # entities are refused, not expanded: a readable, flagged feed
            assert (source.last_outcome, source.items_seen) == ("ok", 1)
            assert error in (source.last_error or "")
            continue
        assert source.last_outcome == "failed", name
        assert error in (source.last_error or ""), (name, source.last_error)
        assert source.consecutive_failures == 1
        assert source.next_check_at is not None


def test_a_source_reusing_a_page_address_gets_a_new_item(  # type: ignore[no-untyped-def]
    setup, feed_server: FeedServer, project: Path
) -> None:
    # Found replaying the State Department corpus: page addresses come back for new releases.
    monitor, _clock, p = setup
    name = f"{p}-reuse"
    first = item("page-1", "National Day 2021", "", "https://www.example.gov/national-day")
    feed_server.set_body(name, rss(first))
    write_sources(project, {name: feed_server.url(f"/feeds/{name}")})
    monitor.init()
    poll(monitor)
    again = item("page-2", "National Day 2022", "", "https://www.example.gov/national-day")
    feed_server.set_body(name, rss(again, first))
    assert poll(monitor).items_new == 1
    titles = sorted(e["title"] for e in events_of(monitor, "ItemDiscovered"))
    assert titles == ["National Day 2021", "National Day 2022"]
    assert events_of(monitor, "ItemAlsoSeen") == []


def test_an_edit_after_another_source_saw_the_item_is_recorded(  # type: ignore[no-untyped-def]
    setup, feed_server: FeedServer, project: Path
) -> None:
    monitor, clock, p = setup
    origin, copy = f"{p}-origin", f"{p}-copy"
    story = item("s-1", "Statement on visas", "v1", "https://www.example.gov/visas")
    feed_server.set_body(origin, rss(story))
    feed_server.set_body(copy, rss(story.replace("s-1", "copy-1")))
    write_sources(
        project,
        {origin: feed_server.url(f"/feeds/{origin}"), copy: feed_server.url(f"/feeds/{copy}")},
    )
    monitor.init()
    poll(monitor)
    assert len(events_of(monitor, "ItemAlsoSeen")) == 1
    edited = story.replace("v1", "v2").replace("/visas", "/visa-restrictions")
    feed_server.set_body(origin, rss(edited))
    clock.advance(timedelta(hours=1))
    report = poll(monitor)
    assert (report.items_revised, report.skipped) == (1, [])
    [view] = [i for i in monitor.sources.all() if i.name == origin]
    assert view.last_outcome == "ok"
    with monitor.engine.connect() as conn:
        from sqlalchemy import text

        url, canonical = conn.execute(text("SELECT url, canonical_url FROM item_view")).one()
    # The link shown follows the edit; the identity URL stays the one it was found under.
    assert url == "https://www.example.gov/visa-restrictions"
    assert canonical == "https://example.gov/visas"


def test_edits_count_from_whichever_source_saw_the_story_first(  # type: ignore[no-untyped-def]
    setup, feed_server: FeedServer, project: Path
) -> None:
    # The copy is recorded first, so the publisher's own feed becomes "seen again": its
    # later edit must still be recorded (each source is compared with what it showed).
    monitor, clock, p = setup
    origin, copy = f"{p}-pub", f"{p}-agg"
    story = item("s-1", "Statement on chips", "v1", "https://www.example.gov/chips")
    feed_server.set_body(origin, rss(story))
    feed_server.set_body(copy, rss(story.replace("s-1", "agg-1").replace("v1", "excerpt")))
    write_sources(
        project,
        {origin: feed_server.url(f"/feeds/{origin}"), copy: feed_server.url(f"/feeds/{copy}")},
    )
    monitor.init()
    monitor.sources.poll(monitor.sources.due(names=[copy]), limits=LIMITS)
    monitor.sources.poll(monitor.sources.due(names=[origin]), limits=LIMITS)
    assert len(events_of(monitor, "ItemAlsoSeen")) == 1
    feed_server.set_body(origin, rss(story.replace("v1", "v2: legacy chips")))
    clock.advance(timedelta(hours=1))
    report = poll(monitor)
    assert (report.items_revised, report.items_new) == (1, 0)
    clock.advance(timedelta(hours=1))
    assert poll(monitor).items_revised == 0  # no flip-flop between the two excerpts


def test_a_stopped_round_keeps_what_it_recorded_and_leaves_the_rest_due(  # type: ignore[no-untyped-def]
    setup, feed_server: FeedServer, project: Path
) -> None:
    import threading

    monitor, _clock, p = setup
    feed_server.set_body(f"{p}-fine", rss(LEGACY))
    slow = {f"{p}-slow{n}": feed_server.url("/slow-headers?seconds=30") for n in range(3)}
    write_sources(project, {f"{p}-fine": feed_server.url(f"/feeds/{p}-fine"), **slow})
    monitor.init()
    stop = threading.Event()
    # The service's shutdown, as the first source is recorded: the slow ones are in flight.
    report = monitor.sources.poll(
        monitor.sources.due(everything=True),
        chunk=1,
        stop=stop,
        on_recorded=lambda plan, done, total: stop.set(),
    )
    assert report.stopped
    assert (report.sources, report.ok) == (1, 1)
    health = {s.name: s for s in monitor.sources.all()}
    assert health[f"{p}-fine"].last_outcome == "ok"
    # Untouched, so still due: the next round checks them.
    assert all(health[name].last_outcome is None for name in slow)
    assert {s.name for s in monitor.sources.due()} >= set(slow)
    assert monitor.verify().ok
