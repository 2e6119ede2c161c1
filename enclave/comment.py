"""The GitHub pull-request comment (``--format github`` of ``diff`` and ``review``).

- It starts with a hidden marker (``<!-- eu-data-enclave:diff -->`` or ``:review``), so a
  workflow finds its own comment and edits it in place instead of adding one per push.
- The verdict comes first, then the summary table, then one collapsible block per change.
- GitHub refuses a comment body over 65,536 characters. The comment is capped below that
  (``CAP``, counted in UTF-16 code units, as GitHub's limit is): the verdict and the summary
  are always kept; change details are dropped from the end (the least risky first) and a note
  says how many were left out and where the full report is (the workflow's artifact).
"""

from __future__ import annotations

GITHUB_LIMIT = 65_536
CAP = 60_000
"""Kept below GitHub's limit, with room for what a workflow adds around the body."""
ARTIFACT_HINT = "the full report is in this workflow run's artifacts"


def marker(kind: str) -> str:
    return f"<!-- eu-data-enclave:{kind} -->"


def size(text: str) -> int:
    """Length as GitHub counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def fit(
    kind: str, head: list[str], details: list[str], tail: list[str], cap: int = CAP, hint: str = ARTIFACT_HINT
) -> str:
    """The comment: marker, ``head`` (verdict and summary) in full, as many ``details`` as fit, ``tail`` if it fits.

    ``details`` are in rank order, so the ones cut are the least risky. If even the head is too
    long (thousands of changes), its lines are cut from the end, and the note says so.
    """
    top = marker(kind)
    body = "\n".join([top, *head])

    def note(left_out: int, total: int, what: str = "changes") -> str:
        return (
            f"\n> ✂️ {left_out} of {total} {what} not shown: this comment is capped at {cap:,} characters "
            f"(GitHub allows {GITHUB_LIMIT:,}); {hint}.\n"
        )

    reserve = size(note(len(details), len(details))) + 8
    if size(body) + reserve > cap:
        lines = [top]
        for i, line in enumerate(head):
            if size("\n".join([*lines, line])) + reserve > cap:
                return "\n".join(lines) + note(len(head) - i, len(head), "summary lines and every change detail")
            lines.append(line)
        body = "\n".join(lines)
    shown = 0
    for block in details:
        candidate = body + "\n" + block
        if size(candidate) + reserve > cap:
            break
        body, shown = candidate, shown + 1
    if shown < len(details):
        return body + note(len(details) - shown, len(details))
    closing = "\n".join(tail)
    if tail and size(body + "\n" + closing) <= cap:
        body += "\n" + closing
    return body + ("" if body.endswith("\n") else "\n")
