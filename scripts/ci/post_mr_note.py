#!/usr/bin/env python3
"""Show one environment's Markdown plan on this pipeline's merge request, in one note
that every later pipeline updates in place.

usage: post_mr_note.py PLAN.md [ENVIRONMENT]     (ENVIRONMENT defaults to $ENVIRONMENT)

Runs in the plan jobs of .gitlab-ci.yml. Skipped (exit 0) outside merge request
pipelines or when REGISTRY_MR_NOTE_TOKEN is unset. The note's first line is the
hidden marker ``<!-- vllm-model-registry plan: ENVIRONMENT -->``. The script lists
the merge request's notes (every page), keeps those that start with the marker and
were written by the token's own user (``GET /user``: anyone can paste a marker into a
note of theirs, and such a note is never taken over), and updates the newest one
(``PUT``); without one it posts a new note. If its user cannot be learned it posts.
A failure to post (GitLab unreachable, resetting, answering garbage) is a warning, not
a failed plan: the plan itself is in the job log and artifacts. Redirects are followed
only within GitLab's origin: the token would go with them. Only the standard library,
so it runs before anything is installed.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

MARKER = "<!-- vllm-model-registry plan: {environment} -->"
# The manifest's rule for an environment: a DNS label, so it cannot end the HTML comment.
ENVIRONMENT = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
PER_PAGE = 100
MAX_PAGES = 100  # 10,000 notes: past that, a new note is better than a long hunt
TIMEOUT = 30
# A page of 100 notes is far below this; a body past it is not GitLab's answer.
MAX_BODY = 32 * 1024 * 1024


class GitLabError(Exception):
    """A request to the GitLab API failed (the message never holds the token)."""


class SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to the origin of the request: urllib sends the request's
    headers, the PRIVATE-TOKEN too, to wherever a redirect points."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if not _same_origin(newurl, req.full_url):
            raise urllib.error.HTTPError(
                req.full_url, code, "a redirect to another host, not followed", headers, fp
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class GitLab:
    def __init__(self, api: str, token: str) -> None:
        self.api = api.rstrip("/")
        self.token = token
        self.opener = urllib.request.build_opener(SameOriginRedirects)

    def request(self, method: str, url: str, data: dict | None = None):
        """(status, decoded JSON body, response headers) of one API call; GitLabError for
        any failure of the network, the server or its answer."""
        body = None if data is None else json.dumps(data).encode()
        # The token travels in a header: no URL or message below can include it.
        headers = {"PRIVATE-TOKEN": self.token, "Content-Type": "application/json"}
        request = urllib.request.Request(url, data=body, headers=headers, method=method)
        try:
            with self.opener.open(request, timeout=TIMEOUT) as response:
                raw = response.read(MAX_BODY + 1)
                if len(raw) > MAX_BODY:
                    raise ValueError(f"an answer of more than {MAX_BODY} bytes")
                return response.status, json.loads(raw or b"null"), response.headers
        # OSError: reset, refused, timed out, and urllib's URLError; HTTPException: a
        # truncated or malformed answer; ValueError, RecursionError: a body that is not JSON.
        except (OSError, http.client.HTTPException, ValueError, RecursionError) as error:
            raise GitLabError(f"{method} {urllib.parse.urlsplit(url).path}: {error}") from None

    def user_id(self) -> int | None:
        try:
            _, user, _ = self.request("GET", f"{self.api}/user")
        except GitLabError:
            return None
        return user.get("id") if isinstance(user, dict) else None

    def notes(self, notes_url: str):
        """Every note of the merge request, following GitLab's pagination."""
        url = f"{notes_url}?per_page={PER_PAGE}&sort=asc&order_by=created_at"
        for _ in range(MAX_PAGES):
            _, page, headers = self.request("GET", url)
            if not isinstance(page, list):
                raise GitLabError(f"GET {urllib.parse.urlsplit(url).path}: not a list of notes")
            yield from (note for note in page if isinstance(note, dict))
            url = self._next_page(url, headers)
            if url is None:
                return

    def _next_page(self, url: str, headers) -> str | None:
        number = (headers.get("X-Next-Page") or "").strip()
        if number.isdigit():
            parts = urllib.parse.urlsplit(url)
            query = dict(urllib.parse.parse_qsl(parts.query))
            query["page"] = number
            return parts._replace(query=urllib.parse.urlencode(query)).geturl()
        # Keyset pagination gives only a Link; it is followed only to the same server,
        # since the token goes with it.
        match = re.search(r'<([^>]+)>;\s*rel="next"', headers.get("Link") or "")
        if match and _same_origin(match.group(1), self.api):
            return match.group(1)
        return None


def _same_origin(url: str, base: str) -> bool:
    origin = _origin(url)
    return origin is not None and origin == _origin(base)


def _origin(url: str) -> tuple[str, str, int] | None:
    """Scheme, host and port of ``url`` (the default port written out); None if unclear."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:  # a port that is not a number
        return None
    if not parts.hostname or port is None:
        return None
    return (parts.scheme.lower(), parts.hostname, port)


def find_own_note(gitlab: GitLab, notes_url: str, marker: str) -> int | None:
    """The id of the newest note of the token's user that starts with ``marker``."""
    user = gitlab.user_id()
    if user is None:
        return None
    found = None
    for note in gitlab.notes(notes_url):
        author = note.get("author")
        body = note.get("body")
        if (
            isinstance(author, dict)
            and author.get("id") == user
            and isinstance(body, str)
            and body.startswith(marker + "\n")
            and isinstance(note.get("id"), int)
        ):
            found = note["id"]
    return found


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print("usage: post_mr_note.py PLAN.md [ENVIRONMENT]", file=sys.stderr)
        return 1
    token = os.environ.get("REGISTRY_MR_NOTE_TOKEN")
    iid = os.environ.get("CI_MERGE_REQUEST_IID")
    if not token or not iid:
        reason = "REGISTRY_MR_NOTE_TOKEN is unset" if not token else "not a merge request pipeline"
        print(f"merge request note skipped: {reason}")
        return 0
    environment = argv[2] if len(argv) == 3 else os.environ.get("ENVIRONMENT", "")
    if not ENVIRONMENT.fullmatch(environment):
        print(
            f"error: post_mr_note.py needs the plan's environment, a DNS label such as "
            f"production, as its second argument or in $ENVIRONMENT; got {environment[:63]!r}",
            file=sys.stderr,
        )
        return 1
    with open(argv[1], encoding="utf-8") as f:
        plan = f.read()
    marker = MARKER.format(environment=environment)
    gitlab = GitLab(os.environ["CI_API_V4_URL"], token)
    notes_url = f"{gitlab.api}/projects/{os.environ['CI_PROJECT_ID']}/merge_requests/{iid}/notes"
    body = {"body": f"{marker}\n{plan}"}
    try:
        note = find_own_note(gitlab, notes_url, marker)
        if note is None:
            status, _, _ = gitlab.request("POST", notes_url, body)
            print(f"posted the plan to merge request !{iid} ({environment}, HTTP {status})")
        else:
            status, _, _ = gitlab.request("PUT", f"{notes_url}/{note}", body)
            print(
                f"updated the plan in note {note} of merge request !{iid} "
                f"({environment}, HTTP {status})"
            )
    except GitLabError as error:
        print(f"warning: could not post the plan to merge request !{iid} ({environment}): {error}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
