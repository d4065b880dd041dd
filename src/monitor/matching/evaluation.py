"""Scoring the rules on a labelled set of real items: precision and recall per commitment.

A labelled set is one or more TOML files of ``[[item]]`` tables (id, url, outlet, language,
published, kind, title, lede, labels, note), each a real published item with its title and
lede as published. ``labels`` maps a commitment id to "required" (an analyst links it: the
matcher must propose it) or "acceptable" (linking it is reasonable: proposing it is not an
error, missing it is not either); every other commitment is "none". Items of kind
"lookalike" or "pre-statement" must get no proposal at all.

Precision counts proposals that are required or acceptable; recall counts required pairs
that were proposed. :func:`replay` measures learning from review: the set in date order,
each item's labels taken as the reviewer's decisions once it has been matched.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Literal

from monitor.errors import CommandRejected
from monitor.matching.learning import RuleRecord, learned_factors, record_decision
from monitor.matching.matcher import Match, MatchableItem, Matcher

Label = Literal["required", "acceptable"]
KINDS = ("evidence", "lookalike", "pre-statement", "unrelated")
_ITEM_KEYS = {
    "id", "url", "outlet", "language", "published", "kind", "title", "lede", "labels", "note",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class LabelledItem:
    """One real item and what an analyst links it to."""

    item_id: str
    url: str
    outlet: str
    language: str
    published: date
    kind: str
    title: str
    lede: str
    labels: dict[str, Label]
    note: str = ""

    def matchable(self) -> MatchableItem:
        # the day as published; noon UTC is that day almost everywhere it was read
        return MatchableItem(
            self.title, self.lede, datetime.combine(self.published, time(12), tzinfo=UTC)
        )


def load_labelled(paths: Iterable[Path]) -> list[LabelledItem]:
    """Every item of the given files (a folder: its *.toml files), in date then id order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.glob("*.toml")))
        elif path.is_file():
            files.append(path)
        else:
            raise CommandRejected(
                f"no labelled set at {path}: give a .toml file of [[item]] tables or a folder"
                " of them (see tests/data/matching)"
            )
    if not files:
        raise CommandRejected("no labelled set given (a .toml file or a folder of them)")
    items: list[LabelledItem] = []
    seen: set[str] = set()
    problems: list[str] = []
    for file in files:
        try:
            raw = tomllib.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise CommandRejected(f"{file}: cannot read the labelled set: {exc}") from exc
        for index, entry in enumerate(raw.get("item", []), start=1):
            where = f"{file.name}: item #{index} ({entry.get('id', '?')})"
            unknown = set(entry) - _ITEM_KEYS
            if unknown:
                problems.append(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
            try:
                item = _item(entry)
            except (KeyError, TypeError, ValueError) as exc:
                problems.append(f"{where}: {exc}")
                continue
            if item.item_id in seen:
                problems.append(f"{where}: duplicate id")
            seen.add(item.item_id)
            items.append(item)
    if problems:
        raise CommandRejected("; ".join(problems[:10]))
    items.sort(key=lambda i: (i.published, i.item_id))
    return items


def _item(entry: dict[str, object]) -> LabelledItem:
    published = entry["published"]
    if not isinstance(published, date) or isinstance(published, datetime):
        raise ValueError("'published' must be a date (YYYY-MM-DD)")
    kind = str(entry["kind"])
    if kind not in KINDS:
        raise ValueError(f"'kind' must be one of {', '.join(KINDS)}")
    labels = entry.get("labels", {})
    if not isinstance(labels, dict):
        raise TypeError("'labels' must be a table")
    for commitment, label in labels.items():
        if label not in ("required", "acceptable"):
            raise ValueError(f"label of {commitment} must be required or acceptable")
    return LabelledItem(
        item_id=str(entry["id"]),
        url=str(entry["url"]),
        outlet=str(entry.get("outlet", "")),
        language=str(entry.get("language", "")),
        published=published,
        kind=kind,
        title=str(entry["title"]),
        lede=str(entry.get("lede", "")),
        labels=dict(labels),
        note=str(entry.get("note", "")),
    )


@dataclass(slots=True)
class Tally:
    proposed: int = 0
    correct: int = 0
    required: int = 0
    found: int = 0

    @property
    def precision(self) -> float:
        return self.correct / self.proposed if self.proposed else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.required if self.required else 1.0


@dataclass(slots=True)
class Evaluation:
    """How the rules did on a labelled set."""

    items: int
    overall: Tally = field(default_factory=Tally)
    by_commitment: dict[str, Tally] = field(default_factory=dict)
    #: (item id, commitment) proposed but labelled none
    false_positives: list[tuple[str, str]] = field(default_factory=list)
    #: (item id, commitment) required but not proposed
    misses: list[tuple[str, str]] = field(default_factory=list)
    #: look-alike and pre-statement items that got a proposal
    lookalikes_proposed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        def tally(t: Tally) -> dict[str, object]:
            return {
                "precision": round(t.precision, 3),
                "recall": round(t.recall, 3),
                "proposed": t.proposed,
                "correct": t.correct,
                "required": t.required,
                "found": t.found,
            }

        return {
            "items": self.items,
            "overall": tally(self.overall),
            "by_commitment": {k: tally(v) for k, v in sorted(self.by_commitment.items())},
            "false_positives": [list(p) for p in self.false_positives],
            "misses": [list(p) for p in self.misses],
            "lookalikes_proposed": self.lookalikes_proposed,
        }


def evaluate(
    items: Sequence[LabelledItem],
    matcher: Matcher,
    only: Callable[[LabelledItem], bool] | None = None,
) -> Evaluation:
    """Match every item and tally the proposals against the labels."""
    result = Evaluation(items=0)
    for item in items:
        if only is not None and not only(item):
            continue
        result.items += 1
        _tally(result, item, matcher.match(item.matchable()))
    return result


def _tally(result: Evaluation, item: LabelledItem, matches: Sequence[Match]) -> None:
    proposed = {m.commitment_id for m in matches}
    if proposed and item.kind in ("lookalike", "pre-statement"):
        result.lookalikes_proposed.append(item.item_id)
    for commitment in sorted(proposed | set(item.labels)):
        tally = result.by_commitment.setdefault(commitment, Tally())
        label = item.labels.get(commitment)
        for t in (tally, result.overall):
            if commitment in proposed:
                t.proposed += 1
                t.correct += label is not None
            if label == "required":
                t.required += 1
                t.found += commitment in proposed
        if commitment in proposed and label is None:
            result.false_positives.append((item.item_id, commitment))
        if label == "required" and commitment not in proposed:
            result.misses.append((item.item_id, commitment))


@dataclass(slots=True)
class Replay:
    """The labelled set replayed in date order, its labels taken as review decisions."""

    #: the later half, matched with what the earlier decisions taught
    learning: Evaluation
    #: the same half matched by the rules alone
    static: Evaluation
    factors: dict[tuple[str, str], float]


def replay(items: Sequence[LabelledItem], matcher: Matcher) -> Replay:
    """Match each item with the factors learned so far, then review its proposals.

    The reviewer accepts a proposal labelled required or acceptable and rejects the rest as
    irrelevant. The second half in date order is scored with and without learning.
    """
    records: dict[tuple[str, str], RuleRecord] = {}
    ordered = sorted(items, key=lambda i: (i.published, i.item_id))
    half = len(ordered) // 2
    learning = Evaluation(items=0)
    static = Evaluation(items=0)
    for index, item in enumerate(ordered):
        taught = matcher.with_learned(learned_factors(records))
        matches = taught.match(item.matchable())
        if index >= half:
            learning.items += 1
            _tally(learning, item, matches)
            static.items += 1
            _tally(static, item, matcher.match(item.matchable()))
        for match in matches:
            rules = [r.name for r in match.explanation if r.kind == "rule"]
            accepted = match.commitment_id in item.labels
            record_decision(records, match.commitment_id, rules, accepted)
    return Replay(learning, static, learned_factors(records))
