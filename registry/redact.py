"""Credentials out of messages: URLs quoted in an error or a log line lose their secrets,
and a driver's message that quotes a password is withheld whole (``withhold``)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters whose value is a credential (matched as a part of the name, so
# X-Amz-Signature, client_secret and api_key count).
_SECRET_PARAMETER = re.compile(
    r"token|passw|pwd|secret|key|sig|auth|credential|session|cookie|jwt|bearer", re.IGNORECASE
)
# A URL ends before whitespace, quotes, brackets and sentence punctuation after it.
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>()]*[^\s'\"<>().,;:!?]")
REDACTED = "REDACTED"
WITHHELD = "the driver's message is withheld because it contains the password"
# What may follow a word of a sentence; a quotation ends in a quote, '@', '/', ...
_SENTENCE_PUNCTUATION = frozenset(".,;:!?")
# Usage text's optional credentials, as in redis://[:PASSWORD@]HOST: placeholders, no secret.
_USAGE_USERINFO = re.compile(r"\[[A-Z_]*(?::[A-Z_]+)?@\]")


def redact_url(url: str) -> str:
    """``url`` without its userinfo and with credential-like query values replaced."""
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed IPv6 bracket, or usage text such as the above
        # Shown only when nothing in it can be a secret: no userinfo, no query, no fragment.
        plain = _USAGE_USERINFO.sub("", url)
        return "<unparsable URL>" if any(char in plain for char in "@?#") else url
    netloc = parts.netloc.rpartition("@")[2]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_SECRET_PARAMETER.search(name) for name, _ in pairs):
            query = urlencode(
                [
                    (name, REDACTED if _SECRET_PARAMETER.search(name) else value)
                    for name, value in pairs
                ],
                safe=":/",
            )
    fragment = REDACTED if _SECRET_PARAMETER.search(parts.fragment) else parts.fragment
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def redact_urls(text: str) -> str:
    """``text`` with every URL in it passed through ``redact_url``."""
    return _URL.sub(lambda match: redact_url(match.group()), text) if "://" in text else text


def withhold(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` (a driver's message), or ``WITHHELD`` when it may quote one of ``secrets``.

    The whole message is held back: starring the secret where it stands would show
    what it is when it is also a word of the message (the password ``refused`` in
    "Connection ****").
    """
    for secret in secrets:
        if secret and any(_echoed(text, secret, at) for at in _found(text, secret)):
            return WITHHELD
    return text


def _found(text: str, secret: str) -> Iterable[int]:
    at = text.find(secret)
    while at != -1:
        yield at
        at = text.find(secret, at + 1)


def _echoed(text: str, secret: str, at: int) -> bool:
    """Whether ``secret``, found in ``text`` at ``at``, may be an echo of it.

    Drivers quote what they echo (``"..."``, ``'...'``, ``key=...``, ``:...@``). A
    secret of letters only that stands as a word of a sentence, or inside a longer
    word, is the driver's own text: the message reads the same whatever the password.
    """
    if not secret.isalpha():
        return True
    before = text[at - 1 : at] or " "
    after = text[at + len(secret) : at + len(secret) + 1] or " "
    in_prose = (before.isspace() or before.isalnum()) and (
        after.isspace() or after.isalnum() or after in _SENTENCE_PUNCTUATION
    )
    return not in_prose
