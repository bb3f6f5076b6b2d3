#!/usr/bin/env python3
"""Post a Markdown plan to the merge request of this pipeline as a note.

Runs in the plan jobs of .gitlab-ci.yml. Skipped (exit 0) outside merge request
pipelines or when REGISTRY_MR_NOTE_TOKEN is unset. A failure to post is a
warning, not a failed plan: the plan itself is in the job log and artifacts.
Only the standard library, so it runs before anything else is installed.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: post_mr_note.py PLAN.md", file=sys.stderr)
        return 1
    token = os.environ.get("REGISTRY_MR_NOTE_TOKEN")
    iid = os.environ.get("CI_MERGE_REQUEST_IID")
    if not token or not iid:
        reason = "REGISTRY_MR_NOTE_TOKEN is unset" if not token else "not a merge request pipeline"
        print(f"merge request note skipped: {reason}")
        return 0
    with open(argv[1], encoding="utf-8") as f:
        body = f.read()
    url = (
        f"{os.environ['CI_API_V4_URL']}/projects/{os.environ['CI_PROJECT_ID']}"
        f"/merge_requests/{iid}/notes"
    )
    request = urllib.request.Request(
        url,
        data=json.dumps({"body": body}).encode(),
        headers={"PRIVATE-TOKEN": token, "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            print(f"posted the plan to merge request !{iid} (HTTP {response.status})")
    except (urllib.error.URLError, TimeoutError) as error:
        # The URL and message never include the token (it travels in a header).
        print(f"warning: could not post the plan to merge request !{iid}: {error}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
