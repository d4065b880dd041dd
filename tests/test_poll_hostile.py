"""Hostile and broken sources found by review: none may crash a round or lose an item."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from monitor import FixedClock, Monitor, load_settings
from monitor.sources.fetch import Fetcher, FetchLimits, FetchResult, Validators

from .conftest import NOW
from .feedserver import FeedServer
from .test_poll import events_of, item, poll, rss, write_sources


@pytest.fixture
def setup(project: Path, feed_server: FeedServer) -> Iterator[tuple[Monitor, FixedClock, str]]:
    prefix = f"h{uuid.uuid4().hex[:8]}"
    clock = FixedClock(NOW)
    with Monitor.open(load_settings(project / "config" / "monitor.toml", env={}), clock) as m:
        yield m, clock, prefix


def test_unsendable_validators_and_odd_headers_do_not_break_later_rounds() -> None:
    async def go() -> FetchResult:
        limits = FetchLimits(connect_timeout=1, read_timeout=1, deadline=2)
        async with Fetcher(limits, allow_private_addresses=True) as f:  # loopback
            return await f.fetch("http://127.0.0.1:9/x", Validators('"café"', "\x00"))

    # The request goes out without the unusable validators (and fails to connect, cleanly).
    result = asyncio.run(go())
    assert result.outcome == "failed"
    assert "could not connect" in (result.error or "")


def test_an_unusable_source_url_is_a_failed_check(
    setup, project: Path, feed_server: FeedServer
) -> None:  # type: ignore[no-untyped-def]
    monitor, _clock, p = setup
    feed_server.set_body(f"{p}-ok", rss(item("1", "fine")))
    # Sources added by hand are checked; one that slipped in (an older store) is a failure.
    monitor.init()
    monitor.sources.add(feed_server.url(f"/feeds/{p}-ok"), f"{p}-ok")
    from monitor.events import SourceRegistered, source_stream, to_new_event

    bad = SourceRegistered(
        name=f"{p}-bad", url="http://[zz]/feed", kind="feed", interval_seconds=3600, origin="cli"
    )
    monitor.store.append(source_stream(bad.name), [to_new_event(bad)], 0)
    report = poll(monitor)
    assert (report.ok, report.failed) == (1, 1)
    assert "zz" in (monitor.sources.get(f"{p}-bad").last_error or "")


def test_edits_that_flip_back_are_all_recorded(
    setup, feed_server: FeedServer, project: Path
) -> None:  # type: ignore[no-untyped-def]
    monitor, clock, p = setup
    name = f"{p}-flip"
    a, b = item("g", "Version A"), item("g", "Version B")
    write_sources(project, {name: feed_server.url(f"/feeds/{name}")})
    monitor.init()
    for body in (a, b, a, b):
        feed_server.set_body(name, rss(body))
        poll(monitor)
        clock.advance(timedelta(hours=1))
    assert [e["title"] for e in events_of(monitor, "ItemRevised")] == [
        "Version B",
        "Version A",
        "Version B",
    ]
    with monitor.engine.connect() as conn:
        assert conn.execute(text("SELECT title FROM item_view")).scalar_one() == "Version B"


def test_a_moved_link_keeps_its_identity(setup, feed_server: FeedServer, project: Path) -> None:  # type: ignore[no-untyped-def]
    monitor, clock, p = setup
    first, second = f"{p}-one", f"{p}-two"
    write_sources(
        project,
        {first: feed_server.url(f"/feeds/{first}"), second: feed_server.url(f"/feeds/{second}")},
    )
    feed_server.set_body(first, rss(item("x", "Story X", link="https://example.org/u1")))
    feed_server.set_body(second, rss())
    monitor.init()
    poll(monitor)
    feed_server.set_body(first, rss(item("x", "Story X", link="https://example.org/u2")))
    clock.advance(timedelta(hours=1))
    poll(monitor)
    # Another source now carries the old address, and a third story takes the new one.
    feed_server.set_body(
        second,
        rss(
            item("y", "Story X, syndicated", link="https://example.org/u1"),
            item("z", "Story Z", link="https://example.org/u2"),
        ),
    )
    clock.advance(timedelta(hours=1))
    report = poll(monitor)
    assert report.items_new == 1
    assert sorted(e["title"] for e in events_of(monitor, "ItemDiscovered")) == [
        "Story X",
        "Story Z",
    ]
    assert len(events_of(monitor, "ItemAlsoSeen")) == 1


def test_poll_settings_reach_the_fetcher(project: Path, feed_server: FeedServer) -> None:
    config = project / "config" / "monitor.toml"
    config.write_text(
        config.read_text().replace("[poll]\n", "[poll]\nread_timeout = 0.3\n"), encoding="utf-8"
    )
    write_sources(project, {"slow": feed_server.url("/slow-headers?seconds=30")})
    with Monitor.open(load_settings(config, env={}), FixedClock(NOW)) as monitor:
        monitor.init()
        report = monitor.sources.poll(monitor.sources.due(everything=True))
        assert report.failures == [("slow", "the server stopped answering for 0.3 s")]


def test_a_runaway_parse_is_cut_off_and_the_round_goes_on(  # type: ignore[no-untyped-def]
    setup, feed_server: FeedServer, project: Path
) -> None:
    monitor, _clock, p = setup
    # Unclosed tags make feedparser's recovery slow; a tight limit shows the cut-off.
    feed_server.set_body(f"{p}-tar", b"<rss><channel>" + b"<b>" * 400_000)
    feed_server.set_body(f"{p}-ok", rss(item("1", "fine")))
    write_sources(
        project,
        {
            f"{p}-tar": feed_server.url(f"/feeds/{p}-tar"),
            f"{p}-ok": feed_server.url(f"/feeds/{p}-ok"),
        },
    )
    monitor.init()
    limits = FetchLimits(connect_timeout=1, read_timeout=2, deadline=5, parse_timeout=0.2)
    report = monitor.sources.poll(monitor.sources.due(everything=True), limits=limits)
    assert report.ok == 1
    assert report.failures == [(f"{p}-tar", "not a feed: parsing took over 0.2 s")]


def test_queued_requests_to_one_host_do_not_lose_their_deadline(feed_server: FeedServer) -> None:
    limits = FetchLimits(connect_timeout=1, read_timeout=2, deadline=1.5, per_host=2)

    async def go() -> list[FetchResult]:
        async with Fetcher(limits, allow_private_addresses=True) as fetcher:
            url = feed_server.url("/drip?seconds=0.6")
            return await asyncio.gather(*(fetcher.fetch(url) for _ in range(6)))

    results = asyncio.run(go())
    assert [r.outcome for r in results] == ["ok"] * 6


def test_cache_control_and_a_new_url(setup, feed_server: FeedServer, project: Path) -> None:  # type: ignore[no-untyped-def]
    monitor, clock, p = setup
    name = f"{p}-cache"
    feed_server.set_body(name, rss(item("1", "fine")))
    write_sources(project, {name: feed_server.url(f"/feeds/{name}?cache=7200")})
    monitor.init()
    poll(monitor)
    source = monitor.sources.get(name)
    assert source.next_check_at == (clock.now() + timedelta(hours=2)).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ"
    )
    assert source.etag
    write_sources(project, {name: feed_server.url(f"/feeds/{name}")})
    monitor.sources.sync()
    moved = monitor.sources.get(name)
    assert (moved.etag, moved.last_modified) == (None, None)
    poll(monitor)
    last = [r for r in feed_server.requests if r.path == f"/feeds/{name}"][-1]
    assert "if-none-match" not in last.headers


def test_intake_rebuild_equals_live(setup, feed_server: FeedServer, project: Path) -> None:  # type: ignore[no-untyped-def]
    monitor, clock, p = setup
    feed_server.set_body(
        f"{p}-1", rss(item("a", "Legacy chips: Japan and the U.S. agree", link="https://e.org/a"))
    )
    feed_server.set_body(
        f"{p}-2", rss(item("b", "Legacy chips: Japan and the U.S. agree", link="https://e.org/a"))
    )
    write_sources(
        project,
        {f"{p}-1": feed_server.url(f"/feeds/{p}-1"), f"{p}-2": feed_server.url("/status/500")},
    )
    monitor.init()
    poll(monitor)
    write_sources(
        project,
        {f"{p}-1": feed_server.url(f"/feeds/{p}-1"), f"{p}-2": feed_server.url(f"/feeds/{p}-2")},
    )
    monitor.sources.sync()
    feed_server.set_body(f"{p}-1", rss(item("a", "Legacy chips, revised", link="https://e.org/a")))
    clock.advance(timedelta(hours=1))
    poll(monitor)
    tables = monitor.item_views.tables  # every read model, the counts included

    def dump() -> dict[str, list[tuple]]:
        with monitor.engine.connect() as conn:
            return {
                t: sorted(tuple(r) for r in conn.execute(text(f"SELECT * FROM {t}")))
                for t in tables
            }

    live = dump()
    assert live["proposal_view"]
    monitor.item_views.rebuild()
    assert dump() == live
    assert json.loads(live["proposal_view"][0][8])  # matched terms survive as JSON
