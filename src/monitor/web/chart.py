"""The dashboard's status chart: one stacked column per month, computed here as SVG shapes."""

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


def status_chart(points: list[tuple[Any, dict[str, int]]]) -> dict[str, Any]:
    """Stacked columns (one per month) as SVG rectangles, computed here, drawn by the page."""
    width, height, gap = 1000, 160, 4
    column = width / max(1, len(points))
    most = max((sum(c.values()) for _, c in points), default=1) or 1
    rects, labels = [], []
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
        if i % 3 == 0 or i == len(points) - 1:
            labels.append({"x": i * column, "text": day.strftime("%Y-%m")})
    return {"width": width, "height": height, "rects": rects, "labels": labels}


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
