"""Tables that fit the terminal: the id column whole, the rest shortened or wrapped, and one
record per block when even that does not fit.

Every listing command (queue, sources, list, history, digest status) prints through
:func:`print_table`. The id a user must type next is never cut: its column is as wide as
its longest value. Other columns wrap (long words folded); a column marked ``wide`` is
left out below :data:`WIDE` columns (``--json`` has everything). When the narrowest table
that keeps every cell readable is wider than the terminal, each row is printed as a block:
its id on a line of its own, then one ``name: value`` line per non-empty cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from monitor.cli.output import escape, out

#: from this many columns, the columns marked ``wide`` are shown too
WIDE = 120
#: the narrowest a wrapping column may get before the rows become blocks
READABLE = 12


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its heading and how it gives way on a narrow terminal."""

    name: str
    #: the id a user types next: never shortened or wrapped
    key: bool = False
    #: kept on one line (a date, a number); else it wraps
    one_line: bool = False
    justify: Literal["left", "right"] = "left"
    #: shown only from :data:`WIDE` columns
    wide: bool = False


def print_table(
    title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]], *, markup: bool = False
) -> None:
    """Print ``rows`` (plain text, escaped here unless ``markup``) under ``title``."""
    from rich import box
    from rich.measure import Measurement
    from rich.table import Table

    width = out.width
    shown = [i for i, c in enumerate(columns) if width >= WIDE or not c.wide]
    cells = [[row[i] if markup else escape(row[i]) for i in shown] for row in rows]
    # no vertical rules: two spaces between columns leave the room to the cells
    table = Table(
        title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False
    )
    for position, i in enumerate(shown):
        column = columns[i]
        longest = max([len(column.name), *(_longest_line(r[position]) for r in cells)])
        if column.key or column.one_line:
            table.add_column(column.name, no_wrap=True, min_width=longest, justify=column.justify)
        else:
            table.add_column(
                column.name,
                overflow="fold",
                min_width=min(longest, READABLE),
                justify=column.justify,
            )
    for row in cells:
        table.add_row(*row)
    # measured as if the terminal were unbounded (a measurement is clamped to the width)
    unbounded = out.options.update_width(1_000_000)
    if not rows or Measurement.get(out, unbounded, table).minimum <= width:
        out.print(table)
        return
    _print_blocks(title, [columns[i] for i in shown], cells)


def _print_blocks(title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> None:
    """One record per block: the id alone on its line, then each other cell named."""
    out.print(title)
    key = next((i for i, c in enumerate(columns) if c.key), 0)
    for row in rows:
        out.print()
        out.print(f"[bold]{row[key]}[/bold]")
        for i, column in enumerate(columns):
            if i != key and row[i].strip():
                value = row[i].replace("\n", "\n    ")
                out.print(f"  {column.name}: {value}")


def _longest_line(text: str) -> int:
    from rich.text import Text

    return max((Text.from_markup(line).cell_len for line in text.split("\n")), default=0)
