"""Matched words marked in feed titles, for the review queue (escaped: feed text is untrusted)."""

import json
import re

from markupsafe import Markup, escape


def highlight(title: str, terms_json: str) -> Markup:
    """``title`` escaped, with every matched term wrapped in <mark> (case-insensitive)."""
    return highlight_words(title, tuple(json.loads(terms_json)))


def highlight_words(title: str, words: tuple[str, ...]) -> Markup:
    """``title`` escaped, with every one of ``words`` wrapped in <mark> (case-insensitive).

    Feed text is untrusted: the title and the words are escaped, only <mark> is added.
    """
    terms = sorted({t for t in words if t}, key=len, reverse=True)
    if not terms:
        return escape(title)
    pattern = re.compile("|".join(re.escape(t) for t in terms), re.IGNORECASE)
    out, last = [], 0
    for found in pattern.finditer(title):
        out.append(escape(title[last : found.start()]))
        out.append(Markup("<mark>") + escape(found.group()) + Markup("</mark>"))
        last = found.end()
    out.append(escape(title[last:]))
    return Markup("").join(out)
