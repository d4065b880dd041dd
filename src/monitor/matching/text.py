"""How texts and rule variants are turned into comparable forms.

English (and any Latin-script text): NFKC, case folding, quotation marks dropped, single
spaces. A variant written in lower case also matches its inflections and derivations: the
forms are generated once, when the rules compile, and kept only where the Snowball stemmer
(a well-kept library) gives them the variant's own stem, so matching stays one pass.

Japanese: SudachiPy with its core dictionary (installed from the registry, nothing fetched at
run time) splits text into its shortest units (mode A) and gives each its normalised form, so
強靱/強靭, 取組/取り組み and inflected verbs compare alike, and a variant matches on word
boundaries inside a compound (重要鉱物 in 重要鉱物資源). Only text holding Japanese is
tokenised.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import pairwise, product
from typing import Any

import snowballstemmer

# Quotation marks carry no meaning for matching, and publishers vary them: the State
# Department writes Economic “2+2”, Japanese press 経済版「2+2」. Dashes of every kind are a
# hyphen; "U.S. – Japan" is written "U.S.-Japan" too. One table does both.
# Two regular expressions rather than str.translate: about 3x faster on Japanese text.
_QUOTES = re.compile("[\"'“”„‟‘’‚‛「」『』«»‹›〝〞]")
_DASHES = re.compile("[‐‑‒–—―−]")
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]")
#: joins Japanese tokens: a character no text or variant holds after normalising
SEP = "\x1f"
#: SudachiPy refuses very long inputs; text is analysed in pieces of at most this many chars
_CHUNK = 4000
_SENTENCE_END = re.compile(r"(?<=[。！？!?\n])")


def normalise(text: str) -> str:
    """NFKC, case folding, no quotation marks, one kind of dash, single spaces, and a hyphen
    between two words without the spaces around it ("U.S. - Japan" is "u.s.-japan").

    This is how terms and texts compare. Each step is a pass in C over the text; the spaces
    are rebuilt only when the text has other whitespace or two spaces in a row (a feed's
    text, as the parser gives it, mostly has not).
    """
    folded = _DASHES.sub("-", _QUOTES.sub("", unicodedata.normalize("NFKC", text).casefold()))
    # not printable: some whitespace other than the space (line breaks, tabs, separators)
    if "  " in folded or not folded.isprintable() or folded[:1] == " " or folded[-1:] == " ":
        folded = " ".join(folded.split())
    return _join_spaced_hyphens(folded) if " - " in folded else folded


def _word_char(char: str) -> bool:
    return char.isalnum() or char == "_"  # what \w of a regular expression matches


def _join_spaced_hyphens(text: str) -> str:
    """Each " - " between a word (or a full stop) and a word becomes "-"."""
    pieces = text.split(" - ")
    out = [pieces[0]]
    for before, after in pairwise(pieces):
        joins = before and after and (_word_char(before[-1]) or before[-1] == ".")
        out.append("-" if joins and _word_char(after[0]) else " - ")
        out.append(after)
    return "".join(out)


def has_japanese(text: str) -> bool:
    """Whether ``text`` holds kana or kanji (only such text is worth tokenising)."""
    return not text.isascii() and _JAPANESE.search(text) is not None  # isascii: O(1)


@cache
def _dictionary() -> Any:
    # Loaded once per process on first use (about 0.2 s): English-only work never pays it.
    from sudachipy import Dictionary

    return Dictionary(dict="core")


_local = threading.local()


@cache
def _surface() -> Any:
    """``Morpheme.surface`` as a plain function (mapped over a text's words: no Python loop);
    with the normalised projection it is the word's normalised form."""
    from sudachipy import Morpheme

    return Morpheme.surface


def _tokenizer() -> Any:
    """This thread's tokenizer: SudachiPy refuses one tokenizer used by two threads at once
    (the web UI explains while the scheduler polls); the dictionary is shared."""
    tokenizer = getattr(_local, "tokenizer", None)
    if tokenizer is None:
        from sudachipy import SplitMode

        tokenizer = _local.tokenizer = _dictionary().tokenizer(
            mode=SplitMode.A, projection="normalized"
        )
    return tokenizer


@dataclass(frozen=True, slots=True)
class Tokens:
    """Japanese text as normalised tokens joined by :data:`SEP`, with the text as written.

    ``joined`` starts and ends with SEP, so a variant wrapped in SEP matches only on token
    boundaries; token i is the one after the i-th SEP. ``morphemes`` give the words as
    written, read only for the tokens a rule fired on.
    """

    joined: str
    morphemes: Sequence[Any]
    #: the text the morphemes' offsets refer to (None: the morphemes of several pieces)
    text: str | None = None

    def token_at(self, offset: int) -> int:
        """The index of the token at ``offset`` of ``joined``."""
        return max(self.joined.count(SEP, 0, offset + 1) - 1, 0)

    def written(self, first: int, last: int) -> str:
        """Tokens ``first`` to ``last`` as the text wrote them."""
        if self.text is not None:  # two calls, however many tokens
            return self.text[self.morphemes[first].begin() : self.morphemes[last].end()]
        return "".join(self.morphemes[i].raw_surface() for i in range(first, last + 1))


def _pieces(text: str) -> Iterator[str]:
    if len(text) <= _CHUNK:
        yield text
        return
    piece = ""
    for sentence in _SENTENCE_END.split(text):
        while len(sentence) > _CHUNK:  # one endless "sentence": cut it hard
            if piece:
                yield piece
                piece = ""
            yield sentence[:_CHUNK]
            sentence = sentence[_CHUNK:]
        if len(piece) + len(sentence) > _CHUNK:
            yield piece
            piece = ""
        piece += sentence
    if piece:
        yield piece


def tokenize(text: str) -> Tokens:
    """Japanese ``text`` (already normalised by :func:`normalise`) as :class:`Tokens`."""
    tokenizer = _tokenizer()
    morphemes: Sequence[Any]
    whole: str | None = None
    if len(text) <= _CHUNK:
        morphemes = tokenizer.tokenize(text)  # a MorphemeList: indexable, kept for written()
        whole = text
    else:
        morphemes = [m for piece in _pieces(text) for m in tokenizer.tokenize(piece)]
    # normalised forms may hold capitals ("NIST"): one fold for the whole text
    joined = (SEP + SEP.join(map(_surface(), morphemes)) + SEP).casefold()
    return Tokens(joined, morphemes, whole)


def japanese_key(variant: str) -> str:
    """A Japanese variant as it is looked for in :attr:`Tokens.joined` (SEP-wrapped)."""
    return tokenize(normalise(variant)).joined


# -- English inflections -------------------------------------------------------------------

_STEMMER = snowballstemmer.stemmer("english")
_ACRONYM = re.compile(r"^[A-Z][A-Z0-9&]+$")
_SUFFIXES = (
    "", "s", "es", "ed", "d", "ing", "ion", "ions", "ation", "ations", "ment", "ments",
    "er", "ers", "al",
)  # fmt: skip
_ENDINGS = sorted({s for s in _SUFFIXES if s}, key=len, reverse=True)
_VOWELS = set("aeiou")
#: a phrase whose words inflect in more ways than this inflects its last word only
_MAX_FORMS = 48


def _roots(word: str) -> set[str]:
    roots = {word}
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            roots.add(word[: -len(ending)])
    more = set()
    for root in roots:
        if root.endswith("e"):
            more.add(root[:-1])
        else:
            more.add(root + "e")
        if root.endswith("y"):
            more.add(root[:-1] + "i")
        if root.endswith("i"):
            more.add(root[:-1] + "y")
        doubles = len(root) >= 3 and root[-1] not in _VOWELS | {"w", "x", "y"}
        if doubles and root[-2] in _VOWELS and root[-3] not in _VOWELS:
            more.add(root + root[-1])  # ban -> banned
    return roots | more


@cache
def word_forms(word: str) -> tuple[str, ...]:
    """``word`` and the forms of it that share its Snowball stem (lift: lifts, lifted...)."""
    if not word.isalpha() or len(word) < 3:
        return (word,)
    stem = _STEMMER.stemWord(word)
    forms = {word}
    for root in _roots(word):
        for suffix in _SUFFIXES:
            candidate = root + suffix
            if candidate not in forms and _STEMMER.stemWord(candidate) == stem:
                forms.add(candidate)
    return tuple(sorted(forms))


def english_keys(variant: str) -> tuple[str, ...]:
    """The normalised forms of an English variant that count as it.

    Words written in lower case inflect ("imports resumed" for "import resume"); words with a
    capital, digits or symbols are names and acronyms and stay as written.
    """
    words = variant.split()
    key = normalise(variant)
    if len(words) == 1 and _ACRONYM.match(variant):
        return (key, key + "s")  # "CBPRs", "MOUs"
    if not words or " ".join(normalise(w) for w in words) != key:
        return (key,)
    options = [word_forms(w) if w.isalpha() and w.islower() else (normalise(w),) for w in words]
    count = 1
    for option in options:
        count *= len(option)
    if count > _MAX_FORMS:
        options = [(normalise(w),) for w in words[:-1]] + [options[-1]]
    return tuple(sorted({" ".join(combo) for combo in product(*options)}))
