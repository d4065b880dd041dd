"""The dashboard's status chart: one stacked column per month, computed here as SVG shapes."""

import math
from typing import Any

from fastapi.templating import Jinja2Templates
from markupsafe import Markup

#: one colour per status, in the order the columns stack (bottom first); the pages use it too
STATUS_COLOURS = {
    "not_yet_assessed": "#9aa0a6",
    "in_progress": "#1a73e8",
    "stalled": "#f29900",
    "fulfilled": "#188038",
    "partially_fulfilled": "#7cb342",
    "not_fulfilled": "#d93025",
    "superseded": "#8e24aa",
    "withdrawn": "#5f6368",
}


#: the labels' size, in the chart's own units (1000 across); the chart is never drawn
#: narrower than 48em (it scrolls in its box instead), so a label is at least about 11 px
LABEL_SIZE = 16
#: how much room one "YYYY-MM" label takes, in the same units, with a gap
LABEL_ROOM = 80


def status_chart(points: list[tuple[Any, dict[str, int]]]) -> dict[str, Any]:
    """Stacked columns (one per month) as SVG rectangles, computed here, drawn by the page:
    month labels that do not overlap (the first and the last always, inside the edges), and
    the statuses that appear, for the legend."""
    width, height, gap = 1000, 160, 4
    column = width / max(1, len(points))
    most = max((sum(c.values()) for _, c in points), default=1) or 1
    rects, labels = [], []
    step = max(1, math.ceil(LABEL_ROOM / column))
    last = len(points) - 1
    for i, (day, counts) in enumerate(points):
        y = float(height)
        for status in STATUS_COLOURS:
            n = counts.get(status, 0)
            if n:
                h = height * n / most
                y -= h
                rects.append(
                    {
                        "x": i * column,
                        "y": y,
                        "w": column - gap,
                        "h": h,
                        "status": status,
                        "title": f"{day}: {status} {n}",
                    }
                )
        text = day.strftime("%Y-%m")
        if i == 0:
            labels.append({"x": 0, "anchor": "start", "text": text})
        elif i == last:
            labels.append({"x": width, "anchor": "end", "text": text})
        elif i % step == 0 and LABEL_ROOM <= i * column <= width - 1.5 * LABEL_ROOM:
            labels.append({"x": i * column + (column - gap) / 2, "anchor": "middle", "text": text})
    shown = {status for _, counts in points for status, n in counts.items() if n}
    return {
        "width": width,
        "height": height,
        "label_size": LABEL_SIZE,
        "rects": rects,
        "labels": labels,
        "legend": [status for status in STATUS_COLOURS if status in shown],
    }


class StatusChart:
    """The chart as SVG markup, drawn once per set of figures: the core hands back the same
    list object until a commitment changes (or the day does), so the last drawing is kept."""

    def __init__(self, templates: Jinja2Templates) -> None:
        self.templates = templates
        self.last: tuple[object, Markup] | None = None  # (the figures, their drawing)

    def svg(self, points: list[tuple[Any, dict[str, int]]]) -> Markup:
        last = self.last
        if last is not None and last[0] is points:
            return last[1]
        # An autoescaped template's output (numbers and status names, no feed text).
        svg = Markup(  # noqa: S704
            self.templates.get_template("chart.html").render(
                chart=status_chart(points), colours=STATUS_COLOURS
            )
        )
        self.last = (points, svg)
        return svg
