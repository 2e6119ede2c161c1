"""Sessions that record every AWS call their clients make: the read-only tests of ``audit`` and ``preflight``.

A call is recorded at ``before-parameter-build``, which fires for every call
before anything (moto, or ``tests.aws_unmodelled``) can answer it, with the
client, so the IAM action and the region the request goes to can be derived.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from enclave.audit.common import iam_action
from tests.estate import AccountSession

READ_ONLY = re.compile(r"^(Get|List|Describe|Head|Simulate)[A-Z]")
"""API operations that read: what an audit or preflight may call (IAM's policy simulator evaluates, and
IAM's access level for it is Read: it changes nothing)."""


@dataclass(frozen=True)
class Call:
    client: Any
    operation: str

    @property
    def action(self) -> str:
        """The IAM permission the call needs (``enclave.audit.common.iam_action``)."""
        return iam_action(self.client, self.operation)

    @property
    def requested_region(self) -> str:
        """``aws:RequestedRegion`` of the request: the endpoint's region; us-east-1 for a global endpoint."""
        host = self.client.meta.endpoint_url.split("//", 1)[-1]
        region = self.client.meta.region_name
        return region if f".{region}." in host else "us-east-1"


class Recording(AccountSession):
    """An ``AccountSession`` whose clients append every call to ``calls``."""

    def __init__(self, region: str, account: str, calls: list[Call]):
        super().__init__(region, account)
        self.calls = calls

    def client(self, service: str, region_name: str | None = None) -> Any:
        client = self.new_client(service, region_name)
        client.meta.events.register(
            "before-parameter-build", lambda model, **_: self.calls.append(Call(client, model.name)), unique_id="record"
        )
        return client


def writes(calls: list[Call]) -> list[str]:
    """The operations among ``calls`` that are not reads."""
    return [c.operation for c in calls if not READ_ONLY.match(c.operation)]
