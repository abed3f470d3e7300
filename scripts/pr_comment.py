"""Post an evalkit report as ONE pull-request comment, updated in place on every later push.

    python scripts/pr_comment.py reports/comment.md

Used by docs/evalkit-pull-request.yml. The comment starts with a hidden marker
(``<!-- evalkit-report -->``); the script lists the pull request's comments, updates the first
one that carries the marker, and creates one only when none does, so a pull request pushed ten
times has one report, not ten.

It reads what GitHub Actions provides: ``GITHUB_TOKEN`` (passed in the step's ``env:``),
``GITHUB_REPOSITORY`` (``owner/name``), ``GITHUB_EVENT_PATH`` (the pull_request event, for its
number) and ``GITHUB_API_URL`` (default https://api.github.com). Standard library only: it runs
before, and whether or not, evalkit installed.

A token that may not comment (a pull request from a fork gets a read-only token: HTTP 403 or
404) is a warning, not a failure: the report is still in the job summary and the artifact.
Exit codes: 0 posted, updated or refused for lack of permission; 1 any other API or network
failure; 2 bad input (no body file, no pull request in the event, no token).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

#: The hidden first line that identifies evalkit's comment among a pull request's comments.
MARKER = "<!-- evalkit-report -->"
#: GitHub refuses comment bodies over 65,536 characters; keep a margin for the marker and note.
MAX_BODY = 65_000
#: Comments fetched per page (GitHub's maximum).
PER_PAGE = 100


class InputProblem(Exception):
    """Something the step must fix (exit code 2)."""


def comment_body(report: str) -> str:
    """The comment text: the marker, then the report, cut to GitHub's size limit.

    >>> comment_body("hello").splitlines()
    ['<!-- evalkit-report -->', 'hello']
    """
    if len(report) > MAX_BODY:
        report = report[:MAX_BODY] + "\n\n_(cut: the full report is in the job's artifact.)_\n"
    return f"{MARKER}\n{report}"


def pull_request_number(event_path: str) -> int:
    """The pull request's number from the event file GitHub writes for the job."""
    try:
        event = json.loads(Path(event_path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputProblem(
            f"GITHUB_EVENT_PATH {event_path}: cannot read the event: {exc}"
        ) from None
    number = (event.get("pull_request") or {}).get("number", event.get("number"))
    if not isinstance(number, int):
        raise InputProblem(
            f"{event_path}: no pull_request.number; run this step on pull_request events only "
            "(if: github.event_name == 'pull_request')."
        )
    return number


class GitHub:
    """The few REST calls this script needs, with the job's token."""

    def __init__(self, api_url: str, token: str) -> None:
        self.api_url = api_url.rstrip("/")
        self.token = token

    def call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        """One request; returns the decoded JSON response."""
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        request = urllib.request.Request(
            self.api_url + path,
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "Content-Type": "application/json",
                "User-Agent": "evalkit-pr-comment",
            },
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def find_report(self, repo: str, number: int) -> int | None:
        """The id of the first comment on the pull request that carries the marker."""
        page = 1
        while True:
            comments = self.call(
                "GET", f"/repos/{repo}/issues/{number}/comments?per_page={PER_PAGE}&page={page}"
            )
            for comment in comments:
                if str(comment.get("body") or "").startswith(MARKER):
                    return int(comment["id"])
            if len(comments) < PER_PAGE:
                return None
            page += 1


def post_report(github: GitHub, repo: str, number: int, body: str) -> str:
    """Update evalkit's comment on the pull request, or create it; says which it did."""
    existing = github.find_report(repo, number)
    if existing is None:
        created = github.call("POST", f"/repos/{repo}/issues/{number}/comments", {"body": body})
        return f"created comment {created.get('id')} on #{number}"
    github.call("PATCH", f"/repos/{repo}/issues/comments/{existing}", {"body": body})
    return f"updated comment {existing} on #{number}"


def _required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise InputProblem(
            f"{name} is not set; GitHub Actions sets it (GITHUB_TOKEN: pass "
            "`env: GITHUB_TOKEN: ${{ github.token }}` to the step)."
        )
    return value


def main(argv: list[str]) -> int:
    """Post or update the comment; returns the exit code."""
    try:
        if len(argv) != 1:
            raise InputProblem("usage: python scripts/pr_comment.py REPORT.md")
        path = Path(argv[0])
        if not path.is_file():
            raise InputProblem(f"{path}: no such report file; the step before writes it.")
        body = comment_body(path.read_text(encoding="utf-8"))
        number = pull_request_number(_required("GITHUB_EVENT_PATH"))
        repo = _required("GITHUB_REPOSITORY")
        api_url = os.environ.get("GITHUB_API_URL") or "https://api.github.com"
        github = GitHub(api_url, _required("GITHUB_TOKEN"))
    except InputProblem as exc:
        print(f"::error::pr_comment: {exc}", file=sys.stderr)
        return 2
    try:
        print(post_report(github, repo, number, body))
    except urllib.error.HTTPError as exc:
        if exc.code in (403, 404):  # a read-only token (a fork's pull request): not an error
            print(
                f"::warning::pr_comment: GitHub refused the comment (HTTP {exc.code}); the "
                "report is in the job summary and the evalkit-reports artifact.",
            )
            return 0
        print(f"::error::pr_comment: HTTP {exc.code} from {exc.url}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"::error::pr_comment: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
