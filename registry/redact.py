"""Credentials out of messages: URLs quoted in an error or a log line lose their secrets."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters whose value is a credential (matched as a part of the name, so
# X-Amz-Signature, client_secret and api_key count).
_SECRET_PARAMETER = re.compile(
    r"token|passw|pwd|secret|key|sig|auth|credential|session|cookie|jwt|bearer", re.IGNORECASE
)
# A URL ends before whitespace, quotes, brackets and sentence punctuation after it.
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>()]*[^\s'\"<>().,;:!?]")
REDACTED = "REDACTED"
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
