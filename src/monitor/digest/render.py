"""A digest's subject, text and HTML from Jinja2 templates a user may override.

The built-in templates live beside this module (``templates/``); a file of the same name in
the folder ``digest.templates`` (default ``config/digest-templates/``) replaces one of them.
HTML templates are autoescaped, so feed text cannot become markup; the text parts get text
that :mod:`monitor.digest.contents` made single-line and bounded; the subject is cleaned
again after rendering (:func:`~monitor.digest.contents.header_text`) so no template can put
a line break or an RFC 2047 encoded word (which decodes to one) into it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    select_autoescape,
)

from monitor.digest.contents import Contents, header_text
from monitor.errors import ConfigError

BUILTIN = Path(__file__).parent / "templates"
TEMPLATES = ("subject.txt", "body.txt", "body.html")
SUBJECT_LIMIT = 200


@dataclass(frozen=True, slots=True)
class Rendered:
    """The three parts of a digest, ready for a message."""

    subject: str
    text: str
    html: str


class Renderer:
    """Renders digests with the user's templates first, then the built-in ones."""

    def __init__(self, user_folder: Path | None = None) -> None:
        folders = [str(user_folder)] if user_folder is not None and user_folder.is_dir() else []
        self.overridden = sorted(
            name for name in TEMPLATES if folders and (Path(folders[0]) / name).is_file()
        )
        self.env = Environment(
            loader=ChoiceLoader([FileSystemLoader(folders), FileSystemLoader(str(BUILTIN))]),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def render(self, contents: Contents, *, unsubscribe: str) -> Rendered:
        """Subject, text and HTML of one digest, in the recipient's time zone."""
        zone = contents.recipient.timezone

        def when(moment: datetime | None) -> str:
            if moment is None:
                return ""
            return moment.astimezone(zone).strftime("%a %d %b %Y %H:%M %Z")

        def day(value: date | datetime | None) -> str:
            if value is None:
                return ""
            if isinstance(value, datetime):
                value = value.astimezone(zone).date()
            return value.strftime("%a %d %b %Y")

        context = {
            "d": contents,
            "recipient": contents.recipient,
            "when": when,
            "day": day,
            "label": lambda status: str(status or "").replace("_", " "),
            "unsubscribe": unsubscribe,
        }
        try:
            subject = self.env.get_template("subject.txt").render(context)
            text = self.env.get_template("body.txt").render(context)
            html = self.env.get_template("body.html").render(context)
        except Exception as exc:  # a template may raise anything
            # Not only Jinja2's own errors: `{{ 1 / 0 }}`, `{{ d.summary + 1 }}` or
            # `{{ when("x") }}` raise Python's. Let through, one would leave the claim without
            # an outcome: re-sent after every lease all day, never shown as failed.
            where = f" (your templates: {', '.join(self.overridden)})" if self.overridden else ""
            problem = exc if isinstance(exc, TemplateError) else f"{type(exc).__name__}: {exc}"
            raise ConfigError(f"digest.templates: a template failed{where}: {problem}") from exc
        return Rendered(header_text(subject, SUBJECT_LIMIT), text, html)
