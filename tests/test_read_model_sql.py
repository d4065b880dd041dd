"""Read models own their SQL (issue 12): every query on a read-model table lives in
``monitor.projections``, behind typed functions, and the capabilities call those.

The scan reads every module of ``src/monitor`` outside the places allowed SQL of their own:
``projections/`` (the read models and their queries), ``store/`` (the journal and the
migrations), ``accounts.py`` (its own table, outside the journal) and ``service/lease.py``
(the lease). Elsewhere it refuses:

- a string naming a read-model table in SQL (``SELECT ... FROM proposal_view``);
- a column of a read-model class (``ProposalView.score``: only a query needs one);
- a read-model class handed to a call (``select(ProposalView)``, ``session.get(...)``);
- ``sqlmodel``'s query tools (``select``, ``col``, ``Session``) imported at all.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from sqlmodel import SQLModel

import monitor
from monitor import projections

SOURCE = Path(monitor.__file__).parent
#: where SQL of its own is allowed, relative to src/monitor
ALLOWED = ("projections/", "store/", "accounts.py", "service/lease.py")
#: calls that take a class without querying it
HARMLESS_CALLS = {"isinstance", "issubclass", "cast", "TypeAdapter"}
SQL_WORDS = re.compile(r"\b(SELECT|FROM|JOIN|UPDATE|INSERT|DELETE|WHERE)\b", re.IGNORECASE)


def read_models() -> tuple[set[str], set[str]]:
    """The read models' class names and table names."""
    projections.load_all()
    classes: set[str] = set()
    tables: set[str] = set()
    stack = list(SQLModel.__subclasses__())
    while stack:
        cls = stack.pop()
        stack += cls.__subclasses__()
        table = getattr(cls, "__table__", None)
        if table is not None and cls.__module__.startswith("monitor.projections."):
            classes.add(cls.__name__)
            tables.add(table.name)
    return classes, tables


def violations(code: str, classes: set[str], tables: set[str]) -> list[str]:
    """What in ``code`` queries a read model, one line per finding, in line order."""
    found: list[tuple[int, str]] = []
    tree = ast.parse(code)
    # a read model imported under another name is still one
    known = set(classes)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            known |= {a.asname for a in node.names if a.name in classes and a.asname}

    def read_model(node: ast.expr) -> str | None:
        if isinstance(node, ast.Name) and node.id in known:
            return node.id
        if isinstance(node, ast.Attribute) and node.attr in classes:  # projections.ProposalView
            return node.attr
        return None

    table_names = re.compile(r"\b(" + "|".join(sorted(map(re.escape, tables))) + r")\b")
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            named = table_names.search(node.value)
            if named and SQL_WORDS.search(node.value):
                found.append((line, f"SQL on {named.group(1)}"))
        elif isinstance(node, ast.Attribute) and (cls := read_model(node.value)):
            found.append((line, f"a column of {cls} ({node.attr})"))
        elif isinstance(node, ast.Call):
            called = node.func.id if isinstance(node.func, ast.Name) else None
            if called in HARMLESS_CALLS:
                continue
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                if cls := read_model(arg):
                    found.append((line, f"{cls} handed to a call"))
        elif isinstance(node, ast.ImportFrom) and node.module == "sqlmodel":
            tools = [a.name for a in node.names if a.name in {"select", "col", "Session"}]
            if tools:
                found.append((line, f"imports {', '.join(tools)} from sqlmodel"))
    return [f"line {line}: {what}" for line, what in sorted(found)]


def test_read_model_sql_lives_in_projections() -> None:
    classes, tables = read_models()
    assert {"ProposalView", "SourceView", "CommitmentView"} <= classes
    assert {"proposal_view", "item_view", "proposal_count_view"} <= tables
    report = []
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE).as_posix()
        if relative.startswith(ALLOWED):
            continue
        report += [
            f"{relative} {finding}"
            for finding in violations(path.read_text(encoding="utf-8"), classes, tables)
        ]
    assert not report, (
        "queries on read-model tables belong in monitor/projections/ (a query module "
        "beside the read model), behind typed functions:\n" + "\n".join(report)
    )


@pytest.mark.parametrize(
    "code",
    [
        'conn.execute(text("SELECT proposal_id FROM proposal_view WHERE item_id IN :ids"))',
        'conn.execute(text(f"SELECT n FROM proposal_count_view WHERE state = {s}"))',
        "session.exec(select(SourceView))",
        "session.get(ProposalView, pid)",
        "query.where(ProposalView.score >= 0.5)",
        "from sqlmodel import Session, select",
        "from monitor.projections.items import ProposalView as P\nP.score > 0.5",
        "session.exec(select(projections.SourceView.name))",
    ],
)
def test_the_scan_sees_sql_on_read_models(code: str) -> None:
    """The guard itself: each of these is a query on a read model the scan must find."""
    classes, tables = read_models()
    assert violations(code, classes, tables)


@pytest.mark.parametrize(
    "code",
    [
        'def f(v: ProposalView) -> str:\n    """A proposal_view row."""\n    return v.title',
        "isinstance(row, ProposalView)",
        'conn.execute(text("SELECT COUNT(*) FROM events"))',
        "rows = proposal_queries.queue(engine, now, limit=10)",
    ],
)
def test_the_scan_lets_callers_be(code: str) -> None:
    """Typed results, type checks, journal SQL and the query functions are not flagged."""
    classes, tables = read_models()
    assert violations(code, classes, tables) == []
