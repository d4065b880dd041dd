"""Story groups as read models, folded by the intake projection in its own transaction.

``story_view`` is one row per story (its id is the id of its first item; the title, when
its first member was published, and the best waiting proposal, which orders the queue),
``story_member_view`` one row per item with its story, ``story_token_view`` the tokens every
member is indexed under (to find the members a new item may join without reading them
all) and ``story_token_count_view`` how many members hold each token (so the rarest are
looked up). Which story an item joins is decided by :mod:`monitor.domain.stories` from what these
tables hold when its ItemDiscovered is folded: the groups are a function of the journal's
order, and a rebuild makes the same ones.
"""

from __future__ import annotations

import bisect
import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from monitor.domain import stories
from monitor.timestamps import format_timestamp, parse_timestamp

#: postings read per looked-up token: the members most recently started within the window.
#: A token held by more members than this (a flood of near-identical titles) still finds
#: them through its rarer tokens; only recall through the common one is capped.
PROBE_LIMIT = 20
#: ids per IN (...) list
_CHUNK = 500
#: members kept in memory as candidates (see StoryFolder._known)
_KNOWN_LIMIT = 10_000


class StoryView(SQLModel, table=True):
    """One story: its first member, its size, and what waits for review in it."""

    __tablename__ = "story_view"
    story_id: str = Field(primary_key=True, max_length=36)
    title: str
    first_at: str = Field(max_length=32)
    first_position: int
    members: int
    pending: int
    best_score: float | None = None
    newest_at: str | None = Field(default=None, max_length=32)


class StoryMemberView(SQLModel, table=True):
    """One item of a story, as people see it, and what it is compared on."""

    __tablename__ = "story_member_view"
    item_id: str = Field(primary_key=True, max_length=36)
    story_id: str = Field(max_length=36)
    position: int
    source: str
    outlet: str | None = None
    url: str | None = None
    title: str
    published_at: str | None = Field(default=None, max_length=32)
    #: why it joined ("title 0.82 <item id>"); None for the story's first member
    joined_by: str | None = None
    features: str


class StoryTokenView(SQLModel, table=True):
    """A member's index token, with when its story started (the window a probe reads)."""

    __tablename__ = "story_token_view"
    token: str = Field(primary_key=True)
    item_id: str = Field(primary_key=True, max_length=36)
    story_at: str = Field(max_length=32)


class StoryTokenCountView(SQLModel, table=True):
    """How many members hold a token."""

    __tablename__ = "story_token_count_view"
    token: str = Field(primary_key=True)
    n: int


def _features_json(features: stories.Features) -> str:
    return json.dumps(
        {
            "t": sorted(features.title),
            "d": sorted(features.distinctive),
            "l": sorted(features.lede),
            "cjk": features.cjk,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _features(text: str) -> stories.Features:
    data = json.loads(text)
    return stories.Features(
        frozenset(data["t"]), frozenset(data["d"]), frozenset(data["l"]), bool(data["cjk"])
    )


def _time(value: str | None) -> str | None:
    return format_timestamp(datetime.fromisoformat(value)) if value else None


def _marks(m: str, n: int) -> str:
    return ", ".join([m] * n)


class StoryFolder:
    """The story tables' share of the intake projection: same cursor, same transaction.

    Items are placed one by one, in journal order, and their rows written when the intake
    projection writes its batch (:meth:`flush`); until then the postings and counts they
    add are kept here and read with the tables' own, so the next item sees them.
    """

    #: emptied by a rebuild
    tables = (
        "story_token_count_view",
        "story_token_view",
        "story_member_view",
        "story_view",
    )

    def __init__(self, mark: str) -> None:
        m = self.m = mark
        # A member's story, its story's start and its features never change once placed,
        # so they are kept here, read once from the tables; a batch that fails drops them
        # (forget), as its rows are rolled back.
        self._known: dict[str, stories.Candidate] = {}
        # What this batch placed and has not written yet.
        self._placed: dict[str, stories.Candidate] = {}
        self._new_stories: dict[str, list[Any]] = {}
        self._grown: dict[str, int] = defaultdict(int)
        self._members: list[tuple[Any, ...]] = []
        self._postings: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self._counts: dict[str, int] = defaultdict(int)
        self._sql = {
            # A story may exist already only as the story of a proposal about an item never
            # discovered (see stories_of): the item joins it.
            "story_insert": (
                "INSERT INTO story_view (story_id, title, first_at, first_position, members, "
                f"pending) VALUES ({_marks(m, 5)}, 0) ON CONFLICT (story_id) DO UPDATE SET "
                "title = excluded.title, members = story_view.members + excluded.members"
            ),
            "story_grow": f"UPDATE story_view SET members = members + {m} WHERE story_id = {m}",
            "member_insert": (
                "INSERT INTO story_member_view (item_id, story_id, position, source, outlet, "
                f"url, title, published_at, joined_by, features) VALUES ({_marks(m, 10)})"
            ),
            "token_insert": (
                f"INSERT INTO story_token_view (token, item_id, story_at) VALUES ({_marks(m, 3)})"
            ),
            "token_count": (
                f"INSERT INTO story_token_count_view (token, n) VALUES ({m}, {m}) "
                "ON CONFLICT (token) DO UPDATE SET n = story_token_count_view.n + excluded.n"
            ),
            "probe": (
                "SELECT * FROM (SELECT token, story_at, item_id FROM story_token_view "
                f"WHERE token = {m} AND story_at >= {m} AND story_at <= {m} "
                f"ORDER BY story_at DESC, item_id DESC LIMIT {PROBE_LIMIT}) AS q"
            ),
            "pending_add": (
                f"UPDATE story_view SET pending = pending + {m}, "
                f"best_score = CASE WHEN best_score IS NULL OR best_score < {m} THEN {m} "
                "ELSE best_score END, "
                f"newest_at = CASE WHEN newest_at IS NULL OR newest_at < {m} THEN {m} "
                f"ELSE newest_at END WHERE story_id = {m}"
            ),
            "pending_of": (
                "SELECT COUNT(*), MAX(score), MAX(proposed_at) FROM proposal_view "
                f"WHERE story_id = {m} AND state = 'pending'"
            ),
            "pending_set": (
                f"UPDATE story_view SET pending = {m}, best_score = {m}, newest_at = {m} "
                f"WHERE story_id = {m}"
            ),
        }

    # -- items ---------------------------------------------------------------------------

    def discovered(self, cursor: Any, data: dict[str, Any], position: int) -> None:
        """Place a newly discovered item: in the story it joins, or as a story of its own."""
        item_id = data["item_id"]
        at = datetime.fromisoformat(data.get("published_at") or data["first_seen_at"])
        features = stories.features(
            data["title"],
            data.get("summary", ""),
            outlet=data.get("outlet"),
            url=data.get("url"),
        )
        tokens = features.index_tokens()
        joined = stories.choose(features, at, self._candidates(cursor, features, tokens, at))
        if joined is None:
            story_id, story_at, why = item_id, format_timestamp(at), None
            story_position, story_start = position, at
            self._new_stories[story_id] = [story_id, data["title"], story_at, position, 1]
        else:
            story_id, story_at = joined.story_id, format_timestamp(joined.story_at)
            story_position, story_start = joined.story_position, joined.story_at
            why = f"{joined.link.describe()} {joined.item_id}"
            if story_id in self._new_stories:
                self._new_stories[story_id][4] += 1
            else:
                self._grown[story_id] += 1
        self._placed[item_id] = stories.Candidate(
            story_id, story_position, story_start, item_id, features
        )
        self._members.append(
            (
                item_id,
                story_id,
                position,
                data["source"],
                data.get("outlet"),
                data.get("url"),
                data["title"],
                _time(data.get("published_at")),
                why,
                _features_json(features),
            )
        )
        for token in tokens:
            bisect.insort(self._postings[token], (story_at, item_id))
            self._counts[token] += 1

    def flush(self, cursor: Any) -> None:
        """Write the rows of the items placed since the last flush."""
        for sql, rows in (
            (self._sql["story_insert"], [tuple(row) for row in self._new_stories.values()]),
            (self._sql["story_grow"], [(n, s) for s, n in sorted(self._grown.items())]),
            (self._sql["member_insert"], self._members),
            (
                self._sql["token_insert"],
                [
                    (token, item_id, story_at)
                    for token, postings in self._postings.items()
                    for story_at, item_id in postings
                ],
            ),
            (self._sql["token_count"], sorted(self._counts.items())),
        ):
            if rows:
                cursor.executemany(sql, rows)
        for candidate in self._placed.values():
            self._remember(candidate)
        self._clear_pending()

    def _clear_pending(self) -> None:
        self._placed.clear()
        self._new_stories.clear()
        self._grown.clear()
        self._members.clear()
        self._postings.clear()
        self._counts.clear()

    def _candidates(
        self, cursor: Any, features: stories.Features, tokens: list[str], at: datetime
    ) -> list[stories.Candidate]:
        m = self.m
        if not tokens:
            return []
        frequency: dict[str, int] = {t: self._counts[t] for t in tokens if t in self._counts}
        for start in range(0, len(tokens), _CHUNK):
            chunk = tokens[start : start + _CHUNK]
            cursor.execute(
                "SELECT token, n FROM story_token_count_view "
                f"WHERE token IN ({_marks(m, len(chunk))})",
                chunk,
            )
            for token, n in cursor.fetchall():
                frequency[token] = frequency.get(token, 0) + int(n)
        probes = stories.probe_tokens(features, frequency)
        if not probes:
            return []
        low = format_timestamp(at - stories.WINDOW)
        high = format_timestamp(at + stories.WINDOW)
        cursor.execute(
            " UNION ALL ".join(f"{self._sql['probe']}{i}" for i in range(len(probes))),
            [value for token in probes for value in (token, low, high)],
        )
        postings: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for token, story_at, item_id in cursor.fetchall():
            postings[token].append((story_at, item_id))
        found: set[str] = set()
        for token in probes:
            # The tables' newest postings and this batch's (kept sorted), in one order.
            pending = self._postings.get(token, [])
            end = bisect.bisect_right(pending, (high, "\uffff"))
            begin = max(bisect.bisect_left(pending, (low, "")), end - PROBE_LIMIT)
            listed = sorted(postings[token] + pending[begin:end], reverse=True)
            found.update(item_id for _at, item_id in listed[:PROBE_LIMIT])
        chosen = {
            item_id: self._placed.get(item_id) or self._known.get(item_id)
            for item_id in sorted(found)
        }
        missing = [item_id for item_id, known in chosen.items() if known is None]
        for start in range(0, len(missing), _CHUNK):
            chunk = missing[start : start + _CHUNK]
            cursor.execute(
                "SELECT m.item_id, m.story_id, m.features, s.first_position, s.first_at "
                "FROM story_member_view m JOIN story_view s ON s.story_id = m.story_id "
                f"WHERE m.item_id IN ({_marks(m, len(chunk))})",
                chunk,
            )
            for item_id, story_id, text, first_position, first_at in cursor.fetchall():
                candidate = stories.Candidate(
                    story_id=story_id,
                    story_position=int(first_position),
                    story_at=parse_timestamp(first_at),
                    item_id=item_id,
                    features=_features(text),
                )
                chosen[item_id] = candidate
                self._remember(candidate)
        return [c for c in chosen.values() if c is not None]

    def _remember(self, candidate: stories.Candidate) -> None:
        if len(self._known) >= _KNOWN_LIMIT:
            self._known.clear()
        self._known[candidate.item_id] = candidate

    def forget(self) -> None:
        """Drop what is kept in memory: the transaction that read or made it rolled back."""
        self._known.clear()
        self._clear_pending()

    def revised(self, cursor: Any, data: dict[str, Any]) -> None:
        """An edited item shows its new title and link; its story stays the one it joined."""
        m = self.m
        cursor.execute(
            f"UPDATE story_member_view SET title = {m}, url = {m}, published_at = {m} "
            f"WHERE item_id = {m}",
            (data["title"], data.get("url"), _time(data.get("published_at")), data["item_id"]),
        )
        # Only a story's first member names it (its id is the item's).
        cursor.execute(
            f"UPDATE story_view SET title = {m} WHERE story_id = {m}",
            (data["title"], data["item_id"]),
        )

    # -- proposals -----------------------------------------------------------------------

    def stories_of(self, cursor: Any, proposals: Sequence[dict[str, Any]]) -> list[str]:
        """The story of each proposal's item (a proposal about an item never discovered, which
        only a hand-made journal has, is a story of its own)."""
        m = self.m
        item_ids = sorted({p["item_id"] for p in proposals})
        known: dict[str, str] = {}
        for start in range(0, len(item_ids), _CHUNK):
            chunk = item_ids[start : start + _CHUNK]
            cursor.execute(
                "SELECT item_id, story_id FROM story_member_view "
                f"WHERE item_id IN ({_marks(m, len(chunk))})",
                chunk,
            )
            known.update(cursor.fetchall())
        for p in proposals:
            if p["item_id"] not in known:
                at = p.get("published_at") or p["proposed_at"]
                cursor.execute(
                    "INSERT INTO story_view (story_id, title, first_at, first_position, "
                    f"members, pending) VALUES ({_marks(m, 4)}, 0, 0) "
                    "ON CONFLICT (story_id) DO NOTHING",
                    (p["item_id"], p["title"], at, p["position"]),
                )
                known[p["item_id"]] = p["item_id"]
        return [known[p["item_id"]] for p in proposals]

    def proposed(self, cursor: Any, waiting: Sequence[tuple[str, float, str]]) -> None:
        """New pending proposals, as (story id, score, proposed at): the queue's order."""
        by_story: dict[str, list[tuple[float, str]]] = defaultdict(list)
        for story_id, score, proposed_at in waiting:
            by_story[story_id].append((score, proposed_at))
        cursor.executemany(
            self._sql["pending_add"],
            [
                (len(rows), best, best, newest, newest, story_id)
                for story_id, rows in sorted(by_story.items())
                for best, newest in [(max(r[0] for r in rows), max(r[1] for r in rows))]
            ],
        )

    def refresh(self, cursor: Any, story_id: str) -> None:
        """Count a story's pending proposals again after a review decision."""
        cursor.execute(self._sql["pending_of"], (story_id,))
        n, best, newest = cursor.fetchone()
        cursor.execute(self._sql["pending_set"], (int(n or 0), best, newest, story_id))
