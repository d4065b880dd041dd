"""A trial on real data: replay the State Department press-release captures, one per poll.

The corpus is ``../shared/corpus/state-dept-press-2021-2022.tar.xz`` (2,343 captures of the
U.S. Department of State press-release RSS feed, 2021-05-23 to 2022-08-03, taken by the public
git-scrape markschaver/State-Department-PR; one file per capture, named by its capture time
in UTC, e.g. ``20220729T192150Z.rss``). This script reads it where it is: it unpacks the
tarball into a temporary directory (or reads already unpacked captures with ``--captures``)
and never copies it into the repository.

What it does, as a user would:

1. creates a throw-away project folder (``config/monitor.toml`` with a SQLite database in the
   temporary directory, a copy of ``config/commitments.toml``, no ``sources.toml``) and runs
   ``Monitor.init``;
2. starts the loopback ``FeedServer`` of the test suite (127.0.0.1 only) and registers one
   source, ``state-press``, pointing at its ``/feeds/state``;
3. for every capture in time order: serves the capture's bytes, sets the ``FixedClock`` to the
   capture time, and runs ``monitor.sources.poll(monitor.sources.due(names=["state-press"]))``
   once (one poll per capture; the monitor sends its stored ETag, so an unchanged capture is
   a 304);
4. counts what the journal holds (``ItemDiscovered``, ``ItemRevised``, ``ItemAlsoSeen``,
   ``EvidenceProposed``, ``SourceChecked``), diffs edits against the version they replace,
   runs ``rematch(dry_run=True)``, runs the catalogue's matcher once more on every stored item
   *undated* (``published_at=None``, i.e. without the rule that only items published on or
   after the 14 Nov 2023 statement are proposed) to show what the matcher sees in real text,
   and runs ``verify()``.

Usage::

    .venv/bin/python bench/trial_corpus.py [--captures DIR] [--limit N] [--json OUT]
        [--profile] [--keep DIR]

``--limit N`` replays only the first N captures; ``--profile`` prints where the replay's time
goes (cProfile); ``--keep DIR`` leaves the trial's project folder and database in DIR.
"""

from __future__ import annotations

import argparse
import cProfile
import difflib
import json
import pstats
import re
import shutil
import sys
import tarfile
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from monitor import FixedClock, Monitor, load_settings
from monitor.events import REGISTRY
from monitor.matching import MatchableItem

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "state-dept-press-2021-2022.tar.xz"
CATALOGUE = ROOT / "config" / "commitments.toml"
SOURCE = "state-press"
FEED = "state"
CONTENT_TYPE = "application/rss+xml; charset=UTF-8"
CAPTURE_NAME = re.compile(r"^(\d{8}T\d{6})Z\.(?:rss|xml)$")
GUID = re.compile(rb"<guid[^>]*>(.*?)</guid>", re.DOTALL)
ITEM_FIELDS = ("title", "summary", "text", "url", "published_at")
TEXT_FIELDS = ("title", "summary", "text")
RELEVANT = ("Japan", "Economic", "Supply Chain", "Indo-Pacific", "Minerals")


def _feedserver() -> Any:
    """The test suite's loopback FeedServer (tests/feedserver.py, standard library only)."""
    sys.path.insert(0, str(ROOT))
    try:
        from tests.feedserver import FeedServer
    finally:
        sys.path.remove(str(ROOT))
    return FeedServer


def capture_time(path: Path) -> datetime:
    """The capture's UTC time, from its file name (``20220729T192150Z.rss``)."""
    match = CAPTURE_NAME.match(path.name)
    if match is None:
        raise ValueError(f"{path.name}: not a capture name (YYYYMMDDTHHMMSSZ.rss)")
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)


def list_captures(folder: Path) -> list[tuple[datetime, Path]]:
    """Every capture under ``folder``, oldest first."""
    found = [p for p in folder.rglob("*") if p.is_file() and CAPTURE_NAME.match(p.name)]
    return sorted((capture_time(p), p) for p in found)


def make_project(folder: Path) -> Path:
    """A project folder of its own: SQLite in ``folder/data``, the catalogue, no sources."""
    config = folder / "config"
    config.mkdir(parents=True)
    shutil.copyfile(CATALOGUE, config / "commitments.toml")
    (config / "monitor.toml").write_text(
        '[paths]\ndata_dir = "data"\ncatalogue = "config/commitments.toml"\n'
        'sources = "config/sources.toml"\n'
        # the captures are served on loopback, which the fetcher refuses unless allowed
        "[poll]\nallow_private_addresses = true\n",
        encoding="utf-8",
    )
    return config / "monitor.toml"


# -- the replay ------------------------------------------------------------------------------


def replay(
    monitor: Monitor,
    clock: FixedClock,
    server: Any,
    captures: list[tuple[datetime, Path]],
    every: int = 100,
) -> dict[str, Any]:
    """One poll per capture, in time order; returns the poll reports' totals."""
    totals: Counter[str] = Counter()
    failures: list[str] = []
    skipped: list[str] = []
    identical_to_previous = 0
    duplicate_guids = 0
    captures_with_duplicates = 0
    previous: bytes | None = None
    started = time.perf_counter()
    for count, (moment, path) in enumerate(captures, start=1):
        body = path.read_bytes()
        if body == previous:
            identical_to_previous += 1
        previous = body
        guids = GUID.findall(body)
        extra = len(guids) - len(set(guids))
        duplicate_guids += extra
        captures_with_duplicates += extra > 0
        server.set_body(FEED, body, CONTENT_TYPE)
        clock.set(moment)
        report = monitor.sources.poll(monitor.sources.due(names=[SOURCE]))
        for key in ("sources", "ok", "not_modified", "failed", "items_new", "items_revised"):
            totals[key] += getattr(report, key)
        totals["proposals"] += report.proposals
        if report.skipped:
            skipped.append(path.name)
        failures += [f"{path.name}: {error}" for _name, error in report.failures]
        if count % every == 0 or count == len(captures):
            elapsed = time.perf_counter() - started
            print(
                f"  {count:>5}/{len(captures)}  {moment:%Y-%m-%d %H:%M}  ok={totals['ok']} "
                f"304={totals['not_modified']} failed={totals['failed']} "
                f"new={totals['items_new']} edits={totals['items_revised']} "
                f"proposals={totals['proposals']}  {elapsed:.1f}s",
                flush=True,
            )
    seconds = time.perf_counter() - started
    return {
        "captures_polled": len(captures),
        "polls": totals["sources"],
        "outcomes": {
            "ok": totals["ok"],
            "not_modified": totals["not_modified"],
            "failed": totals["failed"],
        },
        "captures_identical_to_previous": identical_to_previous,
        "items_new_reported": totals["items_new"],
        "items_revised_reported": totals["items_revised"],
        "proposals_reported": totals["proposals"],
        "skipped_on_conflict": len(skipped),
        "skipped_runs": _runs(skipped, [p.name for _m, p in captures]),
        "duplicate_guids_in_captures": duplicate_guids,
        "captures_with_duplicate_guids": captures_with_duplicates,
        "failures": failures[:20],
        "feed_requests_served": server.count(f"/feeds/{FEED}"),
        "seconds": round(seconds, 2),
        "polls_per_second": round(len(captures) / seconds, 1) if seconds else None,
    }


def _runs(skipped: list[str], names: list[str]) -> list[dict[str, Any]]:
    """Consecutive skipped captures as runs: first, last, how many."""
    index = {name: i for i, name in enumerate(names)}
    runs: list[dict[str, Any]] = []
    for name in skipped:
        if runs and index[name] == index[runs[-1]["last"]] + 1:
            runs[-1]["last"] = name
            runs[-1]["polls"] += 1
        else:
            runs.append({"first": name, "last": name, "polls": 1})
    return runs


# -- what the journal holds --------------------------------------------------------------------


def read_journal(monitor: Monitor) -> dict[str, Any]:
    """Every event, counted; items as first seen and as each edit left them."""
    by_type: Counter[str] = Counter()
    discovered: dict[str, dict[str, Any]] = {}
    revisions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    proposals: Counter[str] = Counter()
    checks: Counter[str] = Counter()
    items_in_feed = 0
    also_seen: list[dict[str, Any]] = []
    for row in monitor.store.iter_rows():
        event_type = row[4]
        by_type[event_type] += 1
        if event_type not in {
            "ItemDiscovered",
            "ItemRevised",
            "ItemAlsoSeen",
            "EvidenceProposed",
            "SourceChecked",
        }:
            continue
        data = REGISTRY.upcast(event_type, row[5], json.loads(row[6]))
        if event_type == "ItemDiscovered":
            discovered[data["item_id"]] = data
        elif event_type == "ItemRevised":
            revisions[data["item_id"]].append(data)
        elif event_type == "ItemAlsoSeen":
            first = discovered[data["item_id"]]
            also_seen.append(
                {
                    "seen_at": row[8],
                    "source": data["source"],
                    "key": data["key"],
                    "url": data.get("url"),
                    "item_source": first["source"],
                    "item_key": first["key"],
                    "item_title": first["title"],
                    "item_first_seen_at": first["first_seen_at"],
                }
            )
        elif event_type == "EvidenceProposed":
            proposals[data["commitment_id"]] += 1
        else:
            checks[data["outcome"]] += 1
            items_in_feed += data.get("items_in_feed", 0)
    return {
        "by_type": by_type,
        "discovered": discovered,
        "revisions": revisions,
        "proposals": proposals,
        "checks": checks,
        "items_in_feed": items_in_feed,
        "also_seen": also_seen,
    }


def _word_diff(old: str, new: str, context: int = 6, limit: int = 3) -> list[dict[str, str]]:
    """The first ``limit`` changed word runs between two texts, with a little context."""
    a, b = old.split(), new.split()
    changes = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        changes.append(
            {
                "op": tag,
                "before": " ".join(a[max(0, i1 - context) : i1]),
                "old": " ".join(a[i1:i2])[:300],
                "new": " ".join(b[j1:j2])[:300],
                "after": " ".join(a[i2 : i2 + context]),
            }
        )
        if len(changes) >= limit:
            break
    return changes


def edits(journal: dict[str, Any], examples: int) -> dict[str, Any]:
    """Each ItemRevised against the version it replaced: which fields changed, and how."""
    discovered = journal["discovered"]
    revisions = journal["revisions"]
    fields: Counter[str] = Counter()
    title_case_only = 0
    combos: Counter[str] = Counter()
    per_item: Counter[int] = Counter()
    delays: list[float] = []
    listed: list[dict[str, Any]] = []
    for item_id, revs in revisions.items():
        per_item[len(revs)] += 1
        before = discovered[item_id]
        first_seen = datetime.fromisoformat(before["first_seen_at"].replace("Z", "+00:00"))
        for rev in revs:
            changed = [f for f in ITEM_FIELDS if (before.get(f) or "") != (rev.get(f) or "")]
            hashed = [f for f in changed if f != "published_at"]
            fields.update(changed)
            if changed == ["title"] and before["title"].casefold() == rev["title"].casefold():
                title_case_only += 1
            combos["+".join(hashed) or "(none)"] += 1
            seen = datetime.fromisoformat(rev["seen_at"].replace("Z", "+00:00"))
            delays.append((seen - first_seen).total_seconds() / 3600)
            listed.append(
                {
                    "item_id": item_id,
                    "title_before": before["title"],
                    "title_after": rev["title"],
                    "url": rev.get("url"),
                    "published_at": before.get("published_at"),
                    "published_at_after": rev.get("published_at"),
                    "first_seen_at": before["first_seen_at"],
                    "revised_at": rev["seen_at"],
                    "changed": changed,
                    "diff": {
                        f: _word_diff(before.get(f) or "", rev.get(f) or "")
                        for f in TEXT_FIELDS
                        if f in changed
                    },
                }
            )
            before = {**before, **rev}
    delays.sort()
    return {
        "events": sum(len(r) for r in revisions.values()),
        "items_edited": len(revisions),
        "edits_per_item": {str(k): v for k, v in sorted(per_item.items())},
        "fields_changed": dict(fields.most_common()),
        "changed_combinations": dict(combos.most_common()),
        "title_only_case_changes": title_case_only,
        "hours_after_first_seen": {
            "median": round(delays[len(delays) // 2], 1) if delays else None,
            "max": round(delays[-1], 1) if delays else None,
        },
        "examples": _pick_examples(listed, examples),
        "all": listed,
    }


def _pick_examples(listed: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """One edit per kind of change (title, text, URL...), Japan and supply chains first."""

    def rank(edit: dict[str, Any]) -> tuple[bool, bool]:
        relevant = any(w in edit["title_after"] for w in RELEVANT)
        cosmetic = edit["title_before"].casefold() == edit["title_after"].casefold()
        return (not relevant, cosmetic and edit["changed"] == ["title"])

    ordered = sorted(listed, key=rank)
    chosen: list[dict[str, Any]] = []
    kinds: set[tuple[str, ...]] = set()
    for edit in ordered:
        kind = tuple(edit["changed"])
        if kind in kinds:
            continue
        kinds.add(kind)
        chosen.append(edit)
        if len(chosen) >= count:
            break
    return chosen


# -- what the matcher sees ---------------------------------------------------------------------


def latest_items(journal: dict[str, Any]) -> list[dict[str, Any]]:
    """Every item as its last version stands (as rematch folds them)."""
    items = []
    for item_id, first in journal["discovered"].items():
        item = dict(first)
        for rev in journal["revisions"].get(item_id, []):
            item.update(rev)
        items.append(item)
    return items


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def undated_matches(monitor: Monitor, items: list[dict[str, Any]], top: int) -> dict[str, Any]:
    """The catalogue's matcher on every item, dated as stored and undated (no date rule)."""
    matcher = monitor.matching.matcher()
    per_commitment: Counter[str] = Counter()
    dated_matches = 0
    matched_items: list[dict[str, Any]] = []
    terms: Counter[str] = Counter()
    for item in items:
        body = item.get("text") or item.get("summary", "")
        when = item.get("published_at") or item.get("first_seen_at")
        dated_matches += len(matcher.match(MatchableItem(item["title"], body, _moment(when))))
        found = matcher.match(MatchableItem(item["title"], body, None))
        if not found:
            continue
        per_commitment.update(m.commitment_id for m in found)
        item_terms = sorted({t for m in found for t in m.terms})
        terms.update(item_terms)
        best = found[0]
        matched_items.append(
            {
                "title": item["title"],
                "published_at": item.get("published_at"),
                "url": item.get("url"),
                "best_score": best.score,
                "best_commitment": best.commitment_id,
                "commitments": len(found),
                "terms": item_terms,
            }
        )
    matched_items.sort(key=lambda m: (-m["best_score"], -m["commitments"], m["title"]))
    return {
        "matcher_version": matcher.version,
        "items": len(items),
        "dated_matches": dated_matches,
        "undated_items_matched": len(matched_items),
        "undated_matches": sum(per_commitment.values()),
        "undated_by_commitment": dict(sorted(per_commitment.items())),
        "terms_by_items": dict(terms.most_common()),
        "top": matched_items[:top],
    }


# -- the run -----------------------------------------------------------------------------------


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    captures_dir = args.captures
    unpack_seconds = 0.0
    if captures_dir is None:
        captures_dir = workdir / "captures"
        captures_dir.mkdir()
        print(f"unpacking {args.corpus} ...", flush=True)
        started = time.perf_counter()
        with tarfile.open(args.corpus, "r:xz") as tar:
            tar.extractall(captures_dir, filter="data")
        unpack_seconds = time.perf_counter() - started
    captures = list_captures(captures_dir)
    if args.limit:
        captures = captures[: args.limit]
    if not captures:
        raise SystemExit(f"no captures (YYYYMMDDTHHMMSSZ.rss) under {captures_dir}")
    print(
        f"{len(captures)} captures, {captures[0][0]:%Y-%m-%d %H:%M} to "
        f"{captures[-1][0]:%Y-%m-%d %H:%M} UTC",
        flush=True,
    )

    project = args.keep or workdir / "project"
    config = make_project(project)
    settings = load_settings(config, env={})
    clock = FixedClock(captures[0][0] - timedelta(minutes=1))
    timings: dict[str, float] = {"unpack": round(unpack_seconds, 2)}
    result: dict[str, Any] = {
        "corpus": str(args.corpus if args.captures is None else captures_dir),
        "first_capture": captures[0][0].isoformat(),
        "last_capture": captures[-1][0].isoformat(),
        "database": settings.database_url,
        "sqlite_synchronous": settings.sqlite_synchronous,
    }
    with Monitor.open(settings, clock) as monitor, _feedserver()() as server:
        started = time.perf_counter()
        monitor.init("trial on the State Department press-release captures")
        url = server.url(f"/feeds/{FEED}")
        monitor.sources.add(url, SOURCE, interval="15m", by="trial")
        timings["init"] = round(time.perf_counter() - started, 2)
        print(f"source {SOURCE} -> {url}; replaying one poll per capture", flush=True)

        profiler = cProfile.Profile() if args.profile else None
        if profiler:
            profiler.enable()
        result["replay"] = replay(monitor, clock, server, captures)
        if profiler:
            profiler.disable()
            stats = pstats.Stats(profiler).sort_stats("cumulative")
            stats.print_stats(30)
        timings["replay"] = result["replay"]["seconds"]

        started = time.perf_counter()
        journal = read_journal(monitor)
        timings["read_journal"] = round(time.perf_counter() - started, 2)
        items = latest_items(journal)
        result["journal"] = {
            "events": sum(journal["by_type"].values()),
            "by_type": dict(sorted(journal["by_type"].items())),
            "source_checks": dict(sorted(journal["checks"].items())),
            "items_in_responses": journal["items_in_feed"],
            "distinct_items": len(journal["discovered"]),
            "items_also_seen": len(journal["also_seen"]),
            "also_seen": journal["also_seen"],
            "proposals": sum(journal["proposals"].values()),
            "proposals_by_commitment": dict(sorted(journal["proposals"].items())),
            "items_without_summary": sum(1 for i in items if not i.get("summary")),
            "items_without_published_at": sum(1 for i in items if not i.get("published_at")),
        }
        result["edits"] = edits(journal, args.examples)

        started = time.perf_counter()
        rematch = monitor.matching.rematch(dry_run=True)
        timings["rematch_dry_run"] = round(time.perf_counter() - started, 2)
        result["rematch_dry_run"] = {
            "matcher_version": rematch.matcher_version,
            "items": rematch.items,
            "would_propose": len(rematch.new),
        }
        started = time.perf_counter()
        result["undated_matcher"] = undated_matches(monitor, items, args.top)
        timings["undated_matcher"] = round(time.perf_counter() - started, 2)

        started = time.perf_counter()
        verify = monitor.verify()
        timings["verify"] = round(time.perf_counter() - started, 2)
        result["verify"] = {
            "ok": verify.ok,
            "events": verify.events,
            "streams": verify.streams,
            "problems": verify.problems[:20],
        }
        if server.errors:
            result["server_errors"] = [repr(e) for e in server.errors[:10]]
    timings["total"] = round(sum(v for k, v in timings.items() if k != "total"), 2)
    result["timings_seconds"] = timings
    return result


def print_summary(result: dict[str, Any]) -> None:
    replayed, journal, edited = result["replay"], result["journal"], result["edits"]
    undated, verify = result["undated_matcher"], result["verify"]
    outcomes = replayed["outcomes"]
    print()
    print(f"captures polled          {replayed['captures_polled']}")
    print(
        f"outcomes                 ok {outcomes['ok']}, not_modified {outcomes['not_modified']}, "
        f"failed {outcomes['failed']} (captures identical to the previous one: "
        f"{replayed['captures_identical_to_previous']})"
    )
    print(
        f"polls skipped            {replayed['skipped_on_conflict']} (ConcurrencyError, in "
        f"{len(replayed['skipped_runs'])} runs: no SourceChecked, items left for a later poll)"
    )
    print(f"items in responses       {journal['items_in_responses']}")
    print(f"distinct items           {journal['distinct_items']} (ItemDiscovered)")
    print(
        f"edits (ItemRevised)      {edited['events']} on {edited['items_edited']} items; "
        f"fields changed: {edited['fields_changed']}; title case only: "
        f"{edited['title_only_case_changes']}"
    )
    print(f"items seen again         {journal['items_also_seen']} (ItemAlsoSeen)")
    for seen in journal["also_seen"]:
        print(
            f"    {seen['seen_at'][:16]} {seen['source']} {seen['key']} -> item of "
            f"{seen['item_source']} {seen['item_key']} ({seen['item_title'][:50]})"
        )
    print(
        f"proposals                {journal['proposals']} "
        f"{journal['proposals_by_commitment'] or ''}".rstrip()
    )
    print(
        f"duplicate guids          {replayed['duplicate_guids_in_captures']} in "
        f"{replayed['captures_with_duplicate_guids']} captures (skipped: first one wins)"
    )
    print(
        f"rematch --dry-run        would propose {result['rematch_dry_run']['would_propose']} "
        f"over {result['rematch_dry_run']['items']} items"
    )
    print(
        f"matcher, dated           {undated['dated_matches']} matches; undated: "
        f"{undated['undated_matches']} matches on {undated['undated_items_matched']} items"
    )
    for commitment, n in undated["undated_by_commitment"].items():
        print(f"    {commitment:<16} {n}")
    print("top undated matches (score, commitments, title, terms):")
    for m in undated["top"]:
        day = (m["published_at"] or "")[:10]
        print(f"  {m['best_score']:.2f} {m['commitments']:>2}  {day}  {m['title'][:90]}")
        print(f"               terms: {', '.join(m['terms'])}")
    print("edit examples:")
    for e in edited["examples"]:
        print(f"  {e['title_after'][:90]}  ({', '.join(e['changed'])})")
        for field, changes in e["diff"].items():
            for c in changes[:2]:
                print(f"      {field}: {c['op']} {c['old'][:80]!r} -> {c['new'][:80]!r}")
    print(f"verify                   ok={verify['ok']} events={verify['events']}")
    print(
        f"timings                  {result['timings_seconds']} "
        f"({replayed['polls_per_second']} polls/s)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="the tarball")
    parser.add_argument("--captures", type=Path, help="already unpacked captures (a folder)")
    parser.add_argument("--limit", type=int, default=0, help="replay only the first N captures")
    parser.add_argument("--json", type=Path, help="write the figures as JSON to this file")
    parser.add_argument("--top", type=int, default=10, help="undated matches to list")
    parser.add_argument("--examples", type=int, default=3, help="edit examples to list")
    parser.add_argument("--profile", action="store_true", help="cProfile the replay")
    parser.add_argument("--keep", type=Path, help="keep the trial project folder here")
    args = parser.parse_args(argv)
    if args.keep is not None and args.keep.exists():
        parser.error(f"--keep {args.keep}: exists already")
    with tempfile.TemporaryDirectory(prefix="monitor-trial-") as tmp:
        result = run(args, Path(tmp))
    print_summary(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", "utf-8")
        print(f"wrote {args.json}")
    return 0 if result["verify"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
