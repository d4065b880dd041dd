"""The scorecard as one self-contained HTML file (``monitor report --format html``): inline
CSS, the dashboard's status chart as inline SVG (:func:`monitor.web.chart.status_chart` and
its template), no external asset; every text from a feed or a user escaped (autoescape).

The only links are the evidence's and the commitments' sources: a reader follows them by
choice, the page loads nothing from anywhere.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from jinja2 import Environment, FileSystemLoader, select_autoescape

from monitor.application.report import NOT_IN_THIS_CUT, STATUS_MEANING, score_of
from monitor.web.chart import STATUS_COLOURS, status_chart

if TYPE_CHECKING:
    from monitor.application.report import Report

TEMPLATES = Path(__file__).parent / "templates"


def render_html(report: Report) -> str:
    """The report as one HTML page."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )

    def day(moment: datetime | None) -> str:
        return moment.astimezone(report.zone).date().isoformat() if moment else ""

    env.filters["day"] = day
    return env.get_template("report.html").render(
        report=report,
        chart=status_chart(report.chart),
        colours=STATUS_COLOURS,
        scale=[(s.value, score_of(s), meaning) for s, meaning in STATUS_MEANING.items()],
        not_in_this_cut=NOT_IN_THIS_CUT,
    )
