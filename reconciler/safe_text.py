"""Text from outside (files, the database, the cluster, argv) made safe to show.

Checked on the way in (``printable``), escaped on the way out: a value can
never move the cursor, retitle a terminal, reorder what a reviewer reads
(Unicode bidi controls), start a spreadsheet formula, leave a Markdown code
span (credentials of URLs: ``registry.redact``). Pure functions.
"""

from __future__ import annotations

import datetime
import functools
import re
from typing import Any

from registry.errors import InvalidText
from registry.redact import redact_urls

# Every code point of the Unicode categories Cc (C0, DEL, C1), Cf (format: bidi
# overrides and isolates, zero-width characters, BOM, ...), Cs (lone surrogates,
# what os.fsdecode makes of non-UTF-8 bytes), Zl and Zp (line and paragraph
# separators). Written out: building it from unicodedata costs 0.3 s at every start;
# tests/reconciler/test_safe_text.py checks it against unicodedata.
_CONTROL_CLASS = (
    "\x00-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ud800-\udfff\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f"
)


@functools.cache  # compiled on first need: printable text never needs it
def _control(keep_newlines: bool = False) -> re.Pattern[str]:
    ranges = (
        _CONTROL_CLASS.replace("\x00-\x1f", "\x00-\x09\x0b-\x1f")
        if keep_newlines
        else _CONTROL_CLASS
    )
    return re.compile(f"[{ranges}]")


_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    point = ord(char)
    if point < 0x100:
        return f"\\x{point:02x}"
    return f"\\u{point:04x}" if point < 0x10000 else f"\\U{point:08x}"


def escape(value: Any, *, keep_newlines: bool = False) -> str:
    """``value`` as text with every control character written as a visible escape.

    ESC becomes ``\\x1b``, CR ``\\r``, U+202E ``\\u202e``. ``keep_newlines``: for
    multi-line output made by us, whose values were escaped already.
    """
    text = "" if value is None else str(value)
    # Fast path (str.isprintable is C and rejects a superset of what is escaped): the
    # regular expression costs 6 us per value, 0.1 s for the text of 10,000 changes.
    if (text.replace("\n", "") if keep_newlines else text).isprintable():
        return text
    return _control(keep_newlines).sub(_escape_one, text)


def control_character(text: str) -> str | None:
    """The first control character of ``text``, escaped (``\\x1b``), or None."""
    found = None if text.isprintable() else _control().search(text)
    return _escape_one(found) if found else None


EXCERPT_CHARS = 40


def excerpt(value: Any, limit: int = EXCERPT_CHARS, *, quote: bool = True) -> str:
    """A short, escaped excerpt of ``value`` for a message about it.

    A string is quoted (unless not ``quote``), anything else is its repr. A
    file that is not a manifest (a secret a symlink points at) must not be
    echoed into a job log: only the first ``limit`` characters are ever shown,
    with the credentials of any URL in them removed.
    """
    text = redact_urls(value if isinstance(value, str) else repr(value))
    cut = escape(text[:limit]) + ("…" if len(text) > limit else "")
    return f"'{cut}'" if quote and isinstance(value, str) else cut


# --- spreadsheets ----------------------------------------------------------------------------

# OWASP "CSV injection": a cell starting with one of these is a formula to Excel,
# LibreOffice and Google Sheets; an apostrophe before it makes it text. A spreadsheet
# may split on another separator than ours (';' in most European locales), so a cell
# also starts after a ';' or ',' inside a value, and after quotes or spaces there. (A
# tab inside a value splits nothing: ``escape`` writes it as the two characters \t.)
_FORMULA_CELL = re.compile(r"(?:^|(?<=[;,]))([\" ]*)(?=[=+\-@\t\r])")


def csv_cell(value: Any) -> str:
    """One CSV cell: escaped, and neutralised wherever a spreadsheet would read a formula."""
    if value is None:
        text = ""
    elif isinstance(value, datetime.datetime):
        text = value.isoformat()  # as the JSON of the same result writes it
    else:
        text = str(value)
    return escape(_FORMULA_CELL.sub(r"\1'", text))


# --- Markdown (GitLab Flavored) --------------------------------------------------------------

_BACKTICKS = re.compile("`+")
_MD_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def md_code(value: Any) -> str:
    """``value`` as an inline code span that nothing in it can leave.

    The fence is one backtick longer than the longest run inside (CommonMark's
    rule), so a backtick ends nothing; links, images and HTML are literal in a
    code span. ``|`` is escaped because GitLab splits table rows on it even
    inside code spans (outside a table the backslash merely shows).
    """
    text = escape(value)
    if "`" not in text and "|" not in text:
        return f"`{text}`"
    text = text.replace("|", "\\|")
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_text(value: Any) -> str:
    """``value`` as literal Markdown text: every ASCII punctuation character escaped.

    CommonMark lets a backslash escape any ASCII punctuation, which turns
    links, images, HTML, emphasis, code and table pipes into plain characters.
    """
    return _MD_PUNCTUATION.sub(r"\\\1", escape(value))


# --- free text on the way in -----------------------------------------------------------------


def printable(value: str, what: str, *, limit: int, advice: str) -> str:
    """``value`` if it is UTF-8 text without control characters, at most ``limit`` long.

    Raises ``InvalidText`` naming ``what`` (e.g. "--actor") and saying what to do.
    """
    problem = None
    if re.search("[\ud800-\udfff]", value):
        problem = "is not valid UTF-8"
    elif (char := control_character(value)) is not None:
        problem = f"contains the control character {char}"
    elif len(value) > limit:
        problem = f"is {len(value)} characters long, over the limit of {limit}"
    elif not value.strip():
        problem = "is empty"
    if problem is None:
        return value
    raise InvalidText(f"{what} {excerpt(value)} {problem}: {advice}")
