"""Story groups: the same story from several outlets is one row of the queue, one decision.

The grouping rules on real-world headlines (pure); then the read model on SQLite and
PostgreSQL (live equals rebuilt, a re-poll or a failing batch changes no group), the queue
and `monitor review STORY` from a real `monitor` process, and the web queue and API.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from monitor import CommandRejected, FixedClock, Monitor, load_settings
from monitor.domain import stories as rules
from monitor.domain.check_plan import proposal_id_for
from monitor.errors import UnknownEventType
from monitor.events import (
    EvidenceProposed,
    ItemDiscovered,
    MatchReason,
    item_stream,
    proposal_stream,
    to_new_event,
)
from monitor.sources.identity import canonical_url, item_id_for
from monitor.store import migrate
from monitor.store.database import make_engine
from monitor.store.records import NewEvent
from monitor.web import create_app

from .conftest import NOW
from .feedserver import FeedServer
from .test_cli import run as cli
from .test_poll import LIMITS, item, rss, write_sources
from .webserver import PASSWORD, LiveServer

T0 = datetime(2023, 11, 15, 2, 14, tzinfo=UTC)
WIRE_LEDE = (
    "SAN FRANCISCO - Japan and the United States agreed Tuesday to strengthen supply chains "
    "for semiconductors and critical minerals and to counter economic coercion, as their "
    "foreign and commerce ministers met for the second round of the so-called economic 2+2."
)
GOOGLE_NEWS = "https://news.google.com/rss/articles/CBMiRmh0dHBzOi8vZW5nbGlzaC5reW9kb25ld3M?oc=5"


def features(title: str, summary: str = "", **kw: Any) -> rules.Features:
    return rules.features(title, summary, **kw)


# -- the rules ----------------------------------------------------------------------------


def test_news_search_suffixes_are_cut() -> None:
    assert rules.strip_outlet("Japan, US agree on chips - Kyodo News", "Kyodo News") == (
        "Japan, US agree on chips"
    )
    assert rules.strip_outlet("Japan, US agree on chips | The Japan Times") == (
        "Japan, US agree on chips"
    )
    assert rules.strip_outlet("Joint Statement on the Economic 2+2 | U.S. Department of State") == (
        "Joint Statement on the Economic 2+2"
    )
    assert rules.strip_outlet("日米、供給網強化で一致 - 日本経済新聞") == "日米、供給網強化で一致"
    # A headline's own second half is not an outlet.
    kept = "U.S.-Japan 'Economic 2+2' - Ministers target legacy chips, coercion"
    assert rules.strip_outlet(kept) == kept


def test_the_same_kyodo_story_on_three_sites_is_one_story() -> None:
    kyodo = features(
        "Japan, U.S. agree to boost chip, critical mineral supply chains at 'economic 2+2'",
        "Japan, U.S. agree to boost chip, critical mineral supply chains at 'economic 2+2' "
        "Kyodo News",
        outlet="Kyodo News",
        url=GOOGLE_NEWS,
    )
    japan_times = features(
        "Japan and U.S. agree to boost chip and critical minerals supply chains | The Japan Times",
        WIRE_LEDE,
    )
    mainichi = features("Japan, US agree to bolster chip, critical mineral supply chains")
    assert kyodo.lede == frozenset()  # a news search's summary is no lede
    first = rules.Candidate("s1", 1, T0, "kyodo", kyodo)
    joined = rules.choose(japan_times, T0 + timedelta(hours=3), [first])
    assert joined is not None
    assert (joined.story_id, joined.link.rule) == ("s1", "title")
    second = rules.Candidate("s1", 1, T0, "jt", japan_times)
    joined = rules.choose(mainichi, T0 + timedelta(hours=5), [first, second])
    assert joined is not None
    assert (joined.story_id, joined.item_id) == ("s1", "jt")  # the closest member


def test_a_different_story_with_a_similar_title_stays_apart() -> None:
    us = features("Japan, US agree to boost chip, critical mineral supply chains")
    eu = features("Japan, EU agree to boost chip, critical mineral supply chains")
    assert rules.jaccard(us.title, eu.title) >= rules.TITLE_THRESHOLD  # close in words...
    assert rules.link(us, eu) is None  # ...but US and EU are not the same partner
    defence = features("Japan, US agree to boost defense industrial cooperation")
    assert rules.link(us, defence) is None
    figures = (
        features("G7 ministers back 2024 chip plan"),
        features("G7 ministers back 2025 chip plan"),
    )
    assert rules.link(*figures) is None


def test_ten_days_apart_is_another_story() -> None:
    title = features("Japan, U.S. agree to boost chip, critical minerals supply chains")
    story = [rules.Candidate("s1", 1, T0, "a", title)]
    assert rules.choose(title, T0 + timedelta(days=3), story) is not None
    assert rules.choose(title, T0 + timedelta(days=10), story) is None
    assert rules.choose(title, T0 - timedelta(days=10), story) is None


def test_japanese_titles_compare_on_character_pairs() -> None:
    nhk = features("日米、半導体やAIで協力強化　経済版2プラス2")
    nikkei = features(
        "日米経済版2プラス2、半導体・AIで協力強化を確認 - 日本経済新聞", outlet="日本経済新聞"
    )
    defence = features("日米、防衛装備品で協力強化　外務・防衛2プラス2")
    assert nhk.cjk
    assert {"日米", "半導", "導体"} <= nhk.title
    found = rules.link(nhk, nikkei)
    assert found is not None
    assert found.rule == "title"
    assert rules.link(nhk, defence) is None


def test_wire_copy_under_another_headline_joins_by_its_lede() -> None:
    japan_times = features("Japan and U.S. agree to boost chip supply chains", WIRE_LEDE)
    nikkei = features("Blinken, Raimondo host Japanese ministers in San Francisco", WIRE_LEDE)
    found = rules.link(japan_times, nikkei)
    assert found is not None
    assert found.rule == "lede"
    assert found.similarity == 1.0
    # A summary that repeats the title says nothing more.
    echo = features("Japan, US agree on chips", "Japan, US agree on chips")
    assert echo.lede == frozenset()


def test_short_titles_are_not_enough() -> None:
    assert rules.link(features("Joint Statement"), features("Joint Statement")) is None
    assert rules.link(
        features("Joint Statement", WIRE_LEDE), features("Joint Statement", WIRE_LEDE)
    ) == rules.Link("lede", 1.0)


TITLES = [
    "Japan, U.S. agree to boost chip, critical minerals supply chains",
    "Japan and US agree to boost chip and critical minerals supply chains",
    "Japan, US agree to bolster chip, critical mineral supply chains",
    "Japan, EU agree to boost chip, critical mineral supply chains",
    "Japan, US agree to boost defense industrial cooperation",
    "US, Japan agree to boost chip supply chain resilience",
    "Raimondo, Nishimura discuss legacy semiconductors at APEC sidelines",
    "Raimondo and Nishimura discuss legacy semiconductors on APEC sidelines",
    "日米、半導体やAIで協力強化　経済版2プラス2",
    "日米経済版2プラス2、半導体・AIで協力強化を確認",
]


def test_looking_up_the_rarest_tokens_finds_every_member_an_item_can_join() -> None:
    items = [features(t) for t in TITLES]
    frequency: dict[str, int] = {}
    for f in items:
        for token in f.index_tokens():
            frequency[token] = frequency.get(token, 0) + 1
    pairs = 0
    for x in items:
        probes = set(rules.probe_tokens(x, frequency))
        assert len(probes) < len(x.index_tokens())  # fewer than all of them
        for y in items:
            if y is not x and rules.link(x, y) is not None:
                pairs += 1
                assert probes & set(y.index_tokens()), (x, y)
    assert pairs >= 6
    assert rules.probe_tokens(items[0], {}) == []  # nobody holds its tokens: no look-up


# -- the read model -----------------------------------------------------------------------


class Journal:
    """Items and proposals appended as the poller would (ids derived the same way)."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor

    def item(
        self,
        source: str,
        title: str,
        url: str,
        published: datetime,
        summary: str = "",
        outlet: str | None = None,
    ) -> str:
        key = f"link:{url}"
        item_id = item_id_for(source, key, canonical_url(url))
        event = ItemDiscovered(
            item_id=item_id,
            source=source,
            key=key,
            url=url,
            canonical_url=canonical_url(url),
            title=title,
            summary=summary,
            published_at=published,
            first_seen_at=published + timedelta(minutes=20),
            outlet=outlet,
            content_hash=uuid.uuid5(uuid.NAMESPACE_URL, title).hex * 2,
        )
        self.monitor.store.append(item_stream(item_id), [to_new_event(event)], 0)
        return str(item_id)

    def propose(
        self, item_id: str, commitment: str, score: float, words: tuple[str, ...] = ("chip",)
    ) -> str:
        [found] = [
            json.loads(r[6])
            for r in self.monitor.store.iter_rows()
            if r[4] == "ItemDiscovered" and json.loads(r[6])["item_id"] == item_id
        ]
        proposal_id = proposal_id_for(commitment, uuid.UUID(item_id))
        event = EvidenceProposed(
            proposal_id=proposal_id,
            commitment_id=commitment,
            item_id=uuid.UUID(item_id),
            url=found["url"],
            title=found["title"],
            source=found["source"],
            published_at=found["published_at"],
            score=score,
            matched_terms=words,
            matcher_version="test",
            explanation=(
                MatchReason(kind="rule", name="chips-and-supply", words=words, weight=score),
            ),
        )
        self.monitor.store.append(proposal_stream(proposal_id), [to_new_event(event)], 0)
        return str(proposal_id)


def seed_corpus(monitor: Monitor) -> dict[str, str]:
    """The Kyodo story three ways and once more under another headline, look-alikes that
    are other stories, the same title ten days on, and a Japanese story twice."""
    j = Journal(monitor)
    return {
        "kyodo": j.item(
            "gn-economic-2plus2",
            "Japan, U.S. agree to boost chip, critical mineral supply chains at 'economic 2+2'",
            GOOGLE_NEWS,
            T0,
            "Japan, U.S. agree to boost chip, critical mineral supply chains at 'economic 2+2'"
            " Kyodo News",
            outlet="Kyodo News",
        ),
        "japan_times": j.item(
            "japan-times",
            "Japan and U.S. agree to boost chip and critical minerals supply chains",
            "https://www.japantimes.co.jp/news/2023/11/15/japan/politics/economic-2-2/",
            T0 + timedelta(hours=3),
            WIRE_LEDE,
        ),
        "eu": j.item(
            "japan-times",
            "Japan, EU agree to boost chip, critical mineral supply chains",
            "https://www.japantimes.co.jp/news/2023/11/16/business/japan-eu-chips/",
            T0 + timedelta(days=1),
            "TOKYO - Japan and the European Union agreed Thursday to share information on "
            "semiconductor supply chains under their digital partnership.",
        ),
        "mainichi": j.item(
            "mainichi-en",
            "Japan, US agree to bolster chip, critical mineral supply chains",
            "https://mainichi.jp/english/articles/20231115/p2g/00m/0na/040000c",
            T0 + timedelta(hours=5),
        ),
        "nikkei": j.item(
            "nikkei-asia",
            "Blinken, Raimondo host Japanese ministers in San Francisco",
            "https://asia.nikkei.com/Politics/International-relations/economic-2-2",
            T0 + timedelta(hours=6),
            WIRE_LEDE,
        ),
        "later": j.item(
            "mainichi-en",
            "Japan, U.S. agree to boost chip, critical minerals supply chains",
            "https://mainichi.jp/english/articles/20231125/p2g/00m/0na/010000c",
            T0 + timedelta(days=10),
        ),
        "nhk": j.item(
            "nhk-ja",
            "日米、半導体やAIで協力強化　経済版2プラス2",
            "https://www3.nhk.or.jp/news/html/20231115/k10014258011000.html",
            T0 + timedelta(hours=1),
        ),
        "nikkei_ja": j.item(
            "gn-ja",
            "日米経済版2プラス2、半導体・AIで協力強化を確認",
            "https://news.google.com/rss/articles/CBMiK2h0dHBzOi8vd3d3Lm5pa2tlaS5jb20?oc=5",
            T0 + timedelta(hours=2),
            "日米経済版2プラス2、半導体・AIで協力強化を確認 日本経済新聞",
            outlet="日本経済新聞",
        ),
    }


STORY_TABLES = {
    "story_view": "story_id",
    "story_member_view": "item_id",
    "story_token_view": "token, item_id",
    "story_token_count_view": "token",
}


def dump(
    monitor: Monitor, tables: dict[str, str] | None = None
) -> dict[str, list[tuple[Any, ...]]]:
    monitor.item_views.catch_up()
    chosen = tables or {**STORY_TABLES, "proposal_view": "proposal_id"}
    with monitor.engine.connect() as conn:
        return {
            t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY {order}"))]
            for t, order in chosen.items()
        }


def groups(monitor: Monitor) -> dict[str, str]:
    monitor.item_views.catch_up()
    with monitor.engine.connect() as conn:
        return dict(conn.execute(text("SELECT item_id, story_id FROM story_member_view")).all())


def test_items_are_grouped_in_journal_order_and_a_rebuild_groups_them_alike(
    monitor: Monitor,
) -> None:
    ids = seed_corpus(monitor)
    j = Journal(monitor)
    j.propose(ids["japan_times"], "EPCC23-SEMI-01", 0.7)
    j.propose(ids["nikkei"], "EPCC23-SEMI-01", 0.4)
    story = groups(monitor)
    kyodo = story[ids["kyodo"]]
    assert kyodo == ids["kyodo"]  # a story's id is its first item's
    told = {name for name, item_id in ids.items() if story[item_id] == kyodo}
    assert told == {"kyodo", "japan_times", "mainichi", "nikkei"}
    assert story[ids["eu"]] == ids["eu"]
    assert story[ids["later"]] == ids["later"]
    assert story[ids["nikkei_ja"]] == story[ids["nhk"]] == ids["nhk"]
    live = dump(monitor)
    with monitor.engine.connect() as conn:
        why = dict(conn.execute(text("SELECT item_id, joined_by FROM story_member_view")).all())
        [(members, pending, best)] = conn.execute(
            text("SELECT members, pending, best_score FROM story_view WHERE story_id = :s"),
            {"s": kyodo},
        ).all()
    assert why[ids["kyodo"]] is None
    assert why[ids["nikkei"]].startswith("lede 1.00 ")
    assert (members, pending, best) == (4, 2, 0.7)
    monitor.item_views.rebuild()
    assert dump(monitor) == live
    # Folded in batches of two events, the groups are the same too.
    monitor.item_views.batch_size = 2
    monitor.item_views.rebuild()
    assert dump(monitor) == live


def test_a_failing_batch_leaves_no_group_half_made(monitor: Monitor) -> None:
    Journal(monitor).item(
        "a", "Japan, US agree to boost chip supply chains", "https://a.example/1", T0
    )
    before = dump(monitor)
    checkpoint = monitor.item_views.checkpoint()
    j = Journal(monitor)
    j.item("b", "Japan and US agree to boost chip supply chains", "https://b.example/1", T0)
    j.item("c", "Japan, U.S. agree to boost chip supply chains", "https://c.example/1", T0)
    # An item event this code cannot read, behind them in the same batch.
    monitor.store.append("item-future", [NewEvent(uuid.uuid4(), "ItemFromTheFuture", 1, {}, {})], 0)
    with pytest.raises(UnknownEventType):
        monitor.item_views.catch_up()
    assert monitor.item_views.checkpoint() == checkpoint
    with monitor.engine.connect() as conn:
        tables = {
            t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY {order}"))]
            for t, order in {**STORY_TABLES, "proposal_view": "proposal_id"}.items()
        }
    assert tables == before


def test_a_repoll_changes_no_group(project: Path, feed_server: FeedServer) -> None:
    prefix = f"s{uuid.uuid4().hex[:8]}"
    date = "Wed, 15 Nov 2023 02:14:00 GMT"
    publisher = item(
        "jt-1",
        "Japan and U.S. agree to boost chip and critical minerals supply chains",
        WIRE_LEDE,
        "https://www.japantimes.co.jp/news/2023/11/15/economic-2-2/",
        date,
    )
    wire = item(
        "mn-1",
        "Japan, US agree to bolster chip, critical mineral supply chains",
        WIRE_LEDE,
        "https://mainichi.jp/english/articles/20231115/p2g/00m/0na/040000c",
        date,
    )
    other = item(
        "mn-2", "Passport fees change", "Nothing about chips.", "https://mainichi.jp/p", date
    )
    feed_server.set_body(f"{prefix}-a", rss(publisher))
    feed_server.set_body(f"{prefix}-b", rss(wire, other))
    write_sources(
        project,
        {
            f"{prefix}-a": feed_server.url(f"/feeds/{prefix}-a"),
            f"{prefix}-b": feed_server.url(f"/feeds/{prefix}-b"),
        },
    )
    clock = FixedClock(NOW)
    with Monitor.open(load_settings(project / "config" / "monitor.toml", env={}), clock) as m:
        m.init()
        m.sources.poll(m.sources.due(everything=True), limits=LIMITS)
        first = groups(m)
        assert len(first) == 3
        assert len(set(first.values())) == 2  # the story twice, and the passport item
        before = dump(m, STORY_TABLES)
        clock.advance(timedelta(hours=1))
        m.sources.poll(m.sources.due(everything=True), limits=LIMITS)  # nothing new
        # The publisher edits its headline: the item is revised, its story stays.
        feed_server.set_body(f"{prefix}-a", rss(publisher.replace("boost", "strengthen")))
        clock.advance(timedelta(hours=1))
        m.sources.poll(m.sources.due(everything=True), limits=LIMITS)
        assert groups(m) == first
        after = dump(m, STORY_TABLES)
        assert after["story_token_view"] == before["story_token_view"]
        assert [r[:2] for r in after["story_member_view"]] == [
            r[:2] for r in before["story_member_view"]
        ]
        m.item_views.rebuild()
        assert dump(m, STORY_TABLES) == after


def test_an_upgraded_database_groups_the_items_it_has(database_url: str, project: Path) -> None:
    engine = make_engine(database_url)
    migrate.upgrade(engine, "0006")
    settings = load_settings(project / "config" / "monitor.toml", env={})
    with Monitor(settings, engine, FixedClock(NOW)) as monitor:
        ids = seed_corpus(monitor)
        # As if the intake read models were up to date before the upgrade.
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE projection_checkpoints SET position = :p WHERE name = 'intake'"),
                {"p": monitor.last_position()},
            )
        monitor.migrate()
        assert monitor.item_views.checkpoint() == 0
        story = groups(monitor)
    assert story[ids["mainichi"]] == story[ids["japan_times"]] == ids["kyodo"]
    engine.dispose()


# -- the queue and review -----------------------------------------------------------------


def seed_queue(monitor: Monitor) -> dict[str, str]:
    """The Kyodo story from three sources, proposed for SEMI-01 (each) and SEMI-02 (one);
    and a readout matched to three commitments."""
    ids = seed_corpus(monitor)
    j = Journal(monitor)
    for name, score in (("kyodo", 0.62), ("japan_times", 0.71), ("mainichi", 0.66)):
        ids[f"p-{name}"] = j.propose(ids[name], "EPCC23-SEMI-01", score)
    ids["p-semi-02"] = j.propose(ids["mainichi"], "EPCC23-SEMI-02", 0.3)
    ids["readout"] = j.item(
        "state-dept",
        "Readout of Secretary Raimondo's Meeting with Japanese Minister Nishimura",
        "https://www.commerce.gov/news/press-releases/2023/11/readout-raimondo-nishimura",
        T0 + timedelta(days=2),
        "Secretary Raimondo and Minister Nishimura discussed legacy semiconductors, critical"
        " minerals supply chains and the JUCIP roadmap.",
    )
    for commitment, score in (
        ("EPCC23-SEMI-01", 0.9),
        ("EPCC23-SEMI-02", 0.8),
        ("EPCC23-SEMI-03", 0.5),
    ):
        ids[f"r-{commitment}"] = j.propose(ids["readout"], commitment, score, ("legacy",))
    return ids


def test_monitor_queue_shows_one_row_per_story(monitor: Monitor, project: Path) -> None:
    ids = seed_queue(monitor)
    rows = json.loads(cli(project, "queue", "--json").stdout)
    assert [r["story_id"] for r in rows] == [ids["readout"], ids["kyodo"]]  # best first
    readout, kyodo = rows
    assert [c["commitment_id"] for c in readout["commitments"]] == [
        "EPCC23-SEMI-01",
        "EPCC23-SEMI-02",
        "EPCC23-SEMI-03",
    ]
    assert len(readout["members"]) == 1
    # The Kyodo story: three sources in one row (the Nikkei piece has no proposal but is a
    # member), each commitment with its own proposals.
    assert kyodo["outlets"] == ["Kyodo News", "japan-times", "mainichi-en", "nikkei-asia"]
    assert kyodo["score"] == 0.71
    semi01, semi02 = kyodo["commitments"]
    assert semi01["commitment_id"] == "EPCC23-SEMI-01"
    assert semi01["proposal_id"] == ids["p-japan_times"]  # the best member's
    assert len(semi01["proposals"]) == 3
    assert semi01["explanation"] == [
        {"kind": "rule", "name": "chips-and-supply", "words": ["chip"], "weight": 0.71}
    ]
    assert [p["proposal_id"] for p in semi02["proposals"]] == [ids["p-semi-02"]]
    table = cli(project, "queue").stdout
    assert "2 story(ies) waiting" in table
    assert table.count(ids["kyodo"][:8]) == 1
    assert "also: japan-times, mainichi-en, nikkei-asia" in table
    # Filters still work, and a filtered row lists what the filter selected.
    only = json.loads(cli(project, "queue", "--commitment", "EPCC23-SEMI-02", "--json").stdout)
    assert [r["story_id"] for r in only] == [ids["readout"], ids["kyodo"]]
    assert [c["commitment_id"] for r in only for c in r["commitments"]] == ["EPCC23-SEMI-02"] * 2
    [one] = json.loads(cli(project, "queue", "--filter", "score<0.5", "--json").stdout)
    assert [c["commitment_id"] for c in one["commitments"]] == ["EPCC23-SEMI-02"]
    paged = json.loads(cli(project, "queue", "--limit", "1", "--page", "2", "--json").stdout)
    assert [r["story_id"] for r in paged] == [ids["kyodo"]]


def test_monitor_review_story_accepts_it_once_with_every_member_url(
    monitor: Monitor, project: Path
) -> None:
    ids = seed_queue(monitor)
    story = ids["kyodo"][:8]
    refused = cli(project, "review", story, "accept", "--by", "ana", code=2).stderr
    assert "waits on 2 commitments (EPCC23-SEMI-01, EPCC23-SEMI-02)" in refused
    out = cli(
        project, "review", story, "accept", "--commitment", "EPCC23-SEMI-01", "--by", "ana"
    ).stdout
    assert out.count("recorded EvidenceAccepted") == 1
    assert out.count("recorded ProposalAccepted") == 1
    assert out.count("recorded EvidenceRejected") == 2
    state = monitor.load("EPCC23-SEMI-01")
    [evidence] = state.evidence.values()
    assert (
        evidence.url == "https://www.japantimes.co.jp/news/2023/11/15/japan/politics/economic-2-2/"
    )
    [accepted] = [json.loads(r[6]) for r in monitor.store.iter_rows() if r[4] == "EvidenceAccepted"]
    assert accepted["also_urls"] == [
        GOOGLE_NEWS,
        "https://mainichi.jp/english/articles/20231115/p2g/00m/0na/040000c",
        "https://asia.nikkei.com/Politics/International-relations/economic-2-2",
    ]
    shown = json.loads(cli(project, "show", "EPCC23-SEMI-01", "--json").stdout)
    assert shown["evidence"][0]["also_urls"] == accepted["also_urls"]
    monitor.item_views.catch_up()
    states = {
        p: monitor.review.find_proposal(ids[p]).state
        for p in ("p-kyodo", "p-japan_times", "p-mainichi", "p-semi-02")
    }
    assert states == {
        "p-kyodo": "rejected",
        "p-japan_times": "accepted",
        "p-mainichi": "rejected",
        "p-semi-02": "pending",  # another commitment: decided on its own
    }
    rejected = monitor.review.find_proposal(ids["p-kyodo"])
    assert rejected.reject_reason == "duplicate"
    [row] = [r for r in monitor.review.stories.page() if r.story_id == ids["kyodo"]]
    assert [c.commitment_id for c in row.commitments] == ["EPCC23-SEMI-02"]
    again = cli(
        project,
        "review",
        story,
        "reject",
        "--commitment",
        "EPCC23-SEMI-01",
        "--reason",
        "other",
        "--by",
        "bo",
        code=2,
    ).stderr
    assert "already" in again
    # With one commitment left, none needs naming.
    cli(project, "review", story, "reject", "--reason", "irrelevant", "--by", "bo")
    assert ids["kyodo"] not in {r.story_id for r in monitor.review.stories.page()}
    # A proposal id still names one proposal.
    cli(
        project,
        "review",
        ids["r-EPCC23-SEMI-03"][:8],
        "snooze",
        "--until",
        "2099-01-01",
        "--by",
        "bo",
    )
    assert monitor.review.find_proposal(ids["r-EPCC23-SEMI-03"]).state == "snoozed"


def test_a_story_decision_for_several_commitments_and_a_snooze(monitor: Monitor) -> None:
    ids = seed_queue(monitor)
    readout = ids["readout"]
    events = monitor.review.decide(
        readout,
        "reject",
        by="bo",
        commitments=("EPCC23-SEMI-02", "EPCC23-SEMI-03"),
        reason="irrelevant",
    )
    assert [e.event_type for e in events] == ["EvidenceRejected", "EvidenceRejected"]
    assert all(e.metadata["story"] == readout for e in events)
    with pytest.raises(CommandRejected, match="has no proposal for EPCC23-ORD-01"):
        monitor.review.decide(readout, "reject", by="bo", commitments=("EPCC23-ORD-01",))
    with pytest.raises(CommandRejected, match="one --commitment"):
        monitor.review.decide(
            ids["kyodo"],
            "accept",
            by="ana",
            commitments=("EPCC23-SEMI-01", "EPCC23-SEMI-02"),
            status="in_progress",
        )
    monitor.review.decide(
        ids["kyodo"],
        "snooze",
        by="bo",
        commitments=("EPCC23-SEMI-01",),
        until=NOW + timedelta(days=7),
    )
    snoozed = [monitor.review.find_proposal(ids[p]).state for p in ("p-kyodo", "p-mainichi")]
    assert snoozed == ["snoozed", "snoozed"]
    [row] = [r for r in monitor.review.stories.page() if r.story_id == ids["kyodo"]]
    assert [c.commitment_id for c in row.commitments] == ["EPCC23-SEMI-02"]
    live = dump(monitor)
    monitor.item_views.rebuild()
    assert dump(monitor) == live


def test_undoing_a_story_acceptance_reopens_every_member(monitor: Monitor) -> None:
    ids = seed_queue(monitor)
    events = monitor.review.decide(
        ids["kyodo"], "accept", by="ana", commitments=("EPCC23-SEMI-01",)
    )
    [accepted] = [e for e in events if e.event_type == "EvidenceAccepted"]
    assert accepted.metadata == {
        "actor": "ana",
        "story": ids["kyodo"],
        "evidence": accepted.data["evidence_id"],
    }
    undone = monitor.review.undo(accepted.event_id, by="carol", rationale="another meeting")
    assert sorted(e.event_type for e in undone) == [
        "EvidenceRetracted",
        *["ProposalReopened"] * 3,
    ]
    assert monitor.load("EPCC23-SEMI-01").live_evidence() == []
    [row] = [r for r in monitor.review.stories.page() if r.story_id == ids["kyodo"]]
    assert [len(c.proposals) for c in row.commitments] == [3, 1]  # all waiting again
    with pytest.raises(CommandRejected, match="nothing to undo"):
        monitor.review.undo(accepted.event_id, by="carol", rationale="twice")


def test_two_reviewers_accept_one_story(monitor: Monitor, project: Path) -> None:
    ids = seed_queue(monitor)
    outcomes: dict[str, str] = {}

    def act(name: str) -> None:
        settings = load_settings(project / "config" / "monitor.toml", env={})
        with Monitor.open(settings, FixedClock(NOW)) as own:
            try:
                own.review.decide(ids["kyodo"], "accept", by=name, commitments=("EPCC23-SEMI-01",))
                outcomes[name] = "accepted"
            except CommandRejected as exc:
                outcomes[name] = str(exc)

    threads = [threading.Thread(target=act, args=(n,)) for n in ("ana", "ben")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes.values())[0] == "accepted"
    loser = next(o for o in outcomes.values() if o != "accepted")
    assert "already accepted this story for EPCC23-SEMI-01" in loser
    assert len(monitor.load("EPCC23-SEMI-01").evidence) == 1


def test_the_explanation_is_kept_and_old_proposals_have_none(monitor: Monitor) -> None:
    ids = seed_queue(monitor)
    old_id = uuid.uuid4()
    v1 = {
        "proposal_id": str(old_id),
        "commitment_id": "EPCC23-SEMI-01",
        "item_id": ids["later"],
        "url": "https://mainichi.jp/english/articles/20231125/p2g/00m/0na/010000c",
        "title": "Japan, U.S. agree to boost chip, critical minerals supply chains",
        "source": "mainichi-en",
        "score": 0.2,
        "matched_terms": ["chip"],
        "matcher_version": "v1",
    }
    monitor.store.append(
        proposal_stream(old_id), [NewEvent(uuid.uuid4(), "EvidenceProposed", 1, v1, {})], 0
    )
    monitor.item_views.catch_up()
    assert monitor.review.find_proposal(str(old_id)).explanation is None
    kept = json.loads(monitor.review.find_proposal(ids["r-EPCC23-SEMI-01"]).explanation or "")
    assert kept == [
        {"kind": "rule", "name": "chips-and-supply", "words": ["legacy"], "weight": 0.9}
    ]


# -- the web queue and the API ------------------------------------------------------------


HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def web(monitor: Monitor) -> Any:
    from argon2 import PasswordHasher

    from monitor.application.accounts import Accounts

    monitor.accounts = Accounts(monitor, PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    monitor.accounts.add("rita", "reviewer", PASSWORD)
    monitor.accounts.add("vera", "viewer", PASSWORD)
    with (
        LiveServer(create_app(monitor, secret_key="stories-key")) as server,
        httpx.Client(base_url=server.url(""), follow_redirects=False) as client,
    ):
        yield monitor, client, server


def login(client: httpx.Client, name: str) -> str:
    page = client.get("/login").text
    token = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    assert (
        client.post("/login", data={"name": name, "password": PASSWORD, "csrf": token}).status_code
        == 303
    )
    queue = client.get("/queue").text
    return (
        queue.split('name="csrf" value="', 1)[1].split('"', 1)[0] if 'name="csrf"' in queue else ""
    )


def test_the_web_queue_has_a_row_per_story_and_buttons_per_commitment(web: Any) -> None:
    monitor, client, _server = web
    ids = seed_queue(monitor)
    Journal(monitor).propose(
        Journal(monitor).item(
            "hostile",
            f"{HOSTILE} Japan, US chip supply chains talks",
            "https://hostile.example/1",
            T0 + timedelta(days=30),
        ),
        "EPCC23-SEMI-01",
        0.1,
        ("chip", "<b>"),
    )
    csrf = login(client, "rita")
    page = client.get("/queue").text
    assert page.count("<tr data-story=") == 3
    assert page.count(f'<tr data-story="{ids["kyodo"]}"') == 1
    row = page.split(f'<tr data-story="{ids["kyodo"]}"', 1)[1].split("</tr>", 1)[0]
    assert row.count('<div class="commitment"') == 2
    assert row.count(f'action="/queue/{ids["kyodo"]}"') == 2
    assert 'name="commitment" value="EPCC23-SEMI-01"' in row
    assert "4 sources tell this story" in row
    assert "chips-and-supply: <q>chip</q>" in row
    assert "<mark>chip</mark>" in row
    # Feed text and explanation words are escaped; only <mark> is added.
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<q>&lt;b&gt;</q>" in page
    # One accept for the story on SEMI-01 (CSRF and role as for every other action).
    form = {"action": "accept", "commitment": "EPCC23-SEMI-01", "csrf": csrf}
    assert client.post(f"/queue/{ids['kyodo']}", data={**form, "csrf": ""}).status_code == 403
    done = client.post(f"/queue/{ids['kyodo']}", data=form)
    assert (done.status_code, done.headers["location"]) == (303, "/queue?notice=accepted")
    [evidence] = monitor.load("EPCC23-SEMI-01").evidence.values()
    assert evidence.url.startswith("https://www.japantimes.co.jp/")
    assert "also told at 3 other address(es)" in client.get("/commitments/EPCC23-SEMI-01").text
    login(client, "vera")
    assert 'name="commitment"' not in client.get("/queue").text  # a viewer sees no forms


def test_the_api_lists_stories_and_reviews_one(web: Any) -> None:
    monitor, client, _server = web
    ids = seed_queue(monitor)
    viewer = {"Authorization": f"Bearer {monitor.accounts.create_token('vera', 'read')}"}
    reviewer = {"Authorization": f"Bearer {monitor.accounts.create_token('rita', 'bot')}"}
    queue = client.get("/api/queue", headers=viewer).json()
    assert [r["story_id"] for r in queue] == [ids["readout"], ids["kyodo"]]
    assert queue[1]["members"][0]["outlet"] == "Kyodo News"
    url = f"/api/queue/{ids['kyodo'][:8]}/reject"
    assert client.post(url, headers=viewer, json={"reason": "other"}).status_code == 403
    unclear = client.post(url, headers=reviewer, json={"reason": "other"})
    assert unclear.status_code == 400
    assert "choose with --commitment" in unclear.json()["error"]
    odd = client.post(url, headers=reviewer, json={"commitment": 5})
    assert odd.status_code == 422  # a bad body: the field is named
    assert all(p.startswith("commitment") for p in odd.json()["problems"])
    done = client.post(
        url, headers=reviewer, json={"reason": "irrelevant", "commitment": ["EPCC23-SEMI-01"]}
    )
    assert done.status_code == 200
    assert [r["event_type"] for r in done.json()["recorded"]] == ["EvidenceRejected"] * 3


def test_a_story_rejected_for_three_outlets_teaches_once_and_undoing_takes_it_back(
    monitor: Monitor,
) -> None:
    ids = seed_queue(monitor)
    rule = ("EPCC23-SEMI-01", "chips-and-supply")
    events = monitor.review.decide(
        ids["kyodo"], "reject", by="bo", commitments=("EPCC23-SEMI-01",), reason="irrelevant"
    )
    assert len([e for e in events if e.event_type == "EvidenceRejected"]) == 3
    assert monitor.learning.records()[rule].rejected == 1
    live = monitor.learning.records()
    monitor.learning.rebuild()
    assert monitor.learning.records() == live
    for event in events:
        monitor.review.undo(event.event_id, by="bo", rationale="wrong story")
    assert monitor.learning.records()[rule].rejected == 0
