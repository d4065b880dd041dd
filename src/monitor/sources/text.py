"""Untrusted text from feeds made plain, single-spaced and bounded; and shown as it reads.

:func:`visible` is what every display applies (the web pages, the command line's tables
and lines, the Atom feed, the digest), not what a poll records: the journal keeps what
was published, byte for byte, and what a reader is shown cannot be turned around.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any

TITLE_LIMIT = 500
SUMMARY_LIMIT = 1_000
TEXT_LIMIT = 20_000

#: what changes how text reads without being seen: the bidirectional controls (U+202A-202E
#: embeddings and overrides, U+2066-2069 isolates, U+200E/200F and U+061C marks), the
#: zero-width characters (U+200B-200D, U+2060 word joiner, U+FEFF) and the control
#: characters but tab and newline (a carriage return or an escape rewrites a terminal line)
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]"
)

# Tags whose content is never text a reader sees.
_SKIPPED = {"script", "style", "head", "title", "noscript", "template"}
# Tags that separate words when rendered.
_BLOCKS = {"br", "p", "div", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "dd"}


@functools.cache
def _extractor() -> Any:
    """The HTML text extractor class, made on first use: showing text (`visible`, on every
    listing) needs none of the HTML parser, which only parsing a feed does."""
    from html.parser import HTMLParser

    class _TextExtractor(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.parts: list[str] = []
            self._skipping = 0

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag in _SKIPPED:
                self._skipping += 1
            elif tag in _BLOCKS:
                self.parts.append(" ")

        def handle_endtag(self, tag: str) -> None:
            if tag in _SKIPPED and self._skipping:
                self._skipping -= 1

        def handle_data(self, data: str) -> None:
            if not self._skipping:
                self.parts.append(data)

    return _TextExtractor


def _clean(text: str) -> str:
    # Control characters (NUL and friends) have no place in a title or a summary.
    kept = "".join(ch for ch in text if ch in "\t\n" or unicodedata.category(ch) != "Cc")
    return " ".join(kept.split())


def plain_text(markup: str, limit: int, *, html_markup: bool = True) -> str:
    """The visible text of an HTML fragment (or of plain text), bounded to ``limit``.

    Text that is already plain (``html_markup=False``) is never unescaped: "a&region=b" in
    a plain title stays as it is.
    """
    if not markup:
        return ""
    # Bound the work before parsing: a feed may send megabytes of markup.
    markup = markup[: limit * 8]
    if html_markup and ("<" in markup or "&" in markup):
        extractor = _extractor()()
        try:
            extractor.feed(markup)
            extractor.close()
            text = "".join(extractor.parts)
        except (AssertionError, ValueError):  # malformed markup: fall back to unescaping
            from html import unescape

            text = unescape(markup)
    else:
        text = markup
    # Cleaning is per character: never clean much more than will be kept.
    return clip(_clean(text[: limit * 2]), limit)


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def visible(text: str) -> str:
    """``text`` without the characters that reorder or hide what it says (see
    :data:`_INVISIBLE`): "\u202etxt.exe" is shown as "txt.exe", "pay\u200bpal" as
    "paypal", never reversed or split unseen. For display: what is stored stays as given."""
    return _INVISIBLE.sub("", text) if _INVISIBLE.search(text) else text
