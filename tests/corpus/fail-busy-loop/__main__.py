"""Polls for a condition that never becomes true, without ever yielding."""

import pulumi

attempts = 0
while not pulumi.runtime.is_dry_run() or attempts >= 0:
    attempts += 1
