"""A small IAM policy evaluator, limited to the elements and condition operators the program's documents use.

Why not a library: the one maintained candidate that evaluates conditions
offline, principalmapper's ``local_policy_simulation`` (last release 2022,
AGPL-3.0), treats ``StringNotLike`` on an absent key as false, where AWS says
a negated operator on an absent key is true. So this module implements only
what the enclave's documents need, follows the IAM reference
(reference_policies_elements_condition_operators) and refuses anything else
with ``UnsupportedError``, so a document that grows a new operator fails the tests
instead of being misjudged.

What it decides, for one request against one document: which Allow and which
Deny statements match (principal, action, resource, condition). It does not
combine policy types (identity, boundary, resource, SCP): callers do.

Semantics (from the IAM reference):
- the operators of a condition block, and the keys under one operator, are ANDed;
- the values of one key are ORed for positive operators; for negated operators
  (``...Not...``) the condition holds only if the value matches none of them;
- a key absent from the request: positive operators are false, negated ones true;
  ``...IfExists`` is true; ``Null`` tests presence itself;
- ``ForAllValues:`` is true when every request value matches (true if absent),
  ``ForAnyValue:`` when at least one does (false if absent);
- ``*`` and ``?`` are the only wildcards (no character classes); actions match
  case-insensitively, resources and string values case-sensitively;
- ``ArnEquals`` and ``ArnLike`` behave alike: each of the six ARN components is
  matched separately, wildcards allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any


class UnsupportedError(ValueError):
    """The document uses an element or operator this evaluator does not decide."""


@dataclass(frozen=True)
class Request:
    """One request: who (an IAM principal ARN or a service principal), what, on what, in which context."""

    action: str
    resource: str
    principal: str = ""
    """ARN of the calling IAM role or user (``arn:aws:iam::<account>:role/<name>``)."""
    service: str = ""
    """Service principal instead of an IAM principal, e.g. ``delivery.logs.amazonaws.com``."""
    context: dict[str, Any] = field(default_factory=dict)
    """Condition keys and their values (a list for multivalued keys)."""


def role_request(principal_arn: str, action: str, resource: str, context: dict[str, Any] | None = None) -> Request:
    """A request by an IAM role over TLS, from outside any VPC endpoint, with the keys AWS always sets."""
    base = {
        "aws:PrincipalArn": principal_arn,
        "aws:PrincipalAccount": principal_arn.split(":")[4],
        "aws:PrincipalIsAWSService": "false",
        "aws:SecureTransport": "true",
    }
    base.update(context or {})
    return Request(action=action, resource=resource, principal=principal_arn, context=base)


@cache
def _wildcard(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"\\A{body}\\Z", (re.IGNORECASE | re.DOTALL) if ignore_case else re.DOTALL)


def _listed(value: Any) -> list:
    return list(value) if isinstance(value, list) else [value]


def _like(pattern: str, value: str, ignore_case: bool = False) -> bool:
    return bool(_wildcard(pattern, ignore_case).match(value))


def _arn_like(pattern: str, value: str) -> bool:
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return False
    return all(_like(p, v) for p, v in zip(pattern_parts, value_parts, strict=True))


def _bool(value: Any) -> str:
    return str(value).lower()


# operator -> (value matcher, negated)
_MATCHERS = {
    "StringEquals": (lambda p, v: p == v, False),
    "StringNotEquals": (lambda p, v: p == v, True),
    "StringLike": (_like, False),
    "StringNotLike": (_like, True),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
    "Bool": (lambda p, v: _bool(p) == _bool(v), False),
    "NumericLessThanEquals": (lambda p, v: float(v) <= float(p), False),
    "NumericLessThan": (lambda p, v: float(v) < float(p), False),
}


def _condition_holds(operator: str, key: str, policy_values: Any, context: dict[str, Any]) -> bool:
    policy_values = [str(v) for v in _listed(policy_values)]
    if operator == "Null":
        absent = key not in context or context[key] in ("", [], None)
        return all(absent == (_bool(v) == "true") for v in policy_values)
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    if base not in _MATCHERS or qualifier not in ("", "ForAllValues", "ForAnyValue"):
        raise UnsupportedError(f"condition operator {operator!r} is not decided by this evaluator")
    matches, negated = _MATCHERS[base]

    def one(value: str) -> bool:
        hit = any(matches(p, value) for p in policy_values)
        return not hit if negated else hit

    if key not in context:
        if qualifier == "ForAllValues":
            return True
        if qualifier == "ForAnyValue":
            return False
        return if_exists or negated
    value = context[key]
    if qualifier == "ForAllValues":
        return all(one(str(v)) for v in _listed(value))
    if qualifier == "ForAnyValue":
        return any(one(str(v)) for v in _listed(value))
    if isinstance(value, list):
        raise UnsupportedError(f"{key} is multivalued: {operator} needs ForAllValues: or ForAnyValue:")
    return one(str(value))


def conditions_hold(condition: dict[str, dict[str, Any]], context: dict[str, Any]) -> bool:
    """Whether a statement's whole Condition block holds for the request context."""
    return all(
        _condition_holds(operator, key, values, context)
        for operator, keys in condition.items()
        for key, values in keys.items()
    )


def _principal_matches(principal: Any, request: Request) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict) or set(principal) - {"AWS", "Service"}:
        raise UnsupportedError(f"principal {principal!r} is not decided by this evaluator")
    if request.service:
        return request.service in _listed(principal.get("Service", []))
    account = request.principal.split(":")[4]
    for value in _listed(principal.get("AWS", [])):
        # An account (its root ARN or bare id) stands for every principal of it.
        if value in ("*", request.principal, account, f"arn:aws:iam::{account}:root"):
            return True
    return False


def statement_matches(statement: dict[str, Any], request: Request) -> bool:
    """Whether one statement applies to the request (its effect aside)."""
    if "NotPrincipal" in statement or "NotResource" in statement:
        raise UnsupportedError(f"statement {statement.get('Sid')!r}: NotPrincipal/NotResource are not decided")
    if "Principal" in statement and not _principal_matches(statement["Principal"], request):
        return False
    if "Action" in statement:
        if not any(_like(a, request.action, ignore_case=True) for a in _listed(statement["Action"])):
            return False
    elif any(_like(a, request.action, ignore_case=True) for a in _listed(statement["NotAction"])):
        return False
    if "Resource" in statement and not any(_like(r, request.resource) for r in _listed(statement["Resource"])):
        return False
    return conditions_hold(statement.get("Condition", {}), request.context)


def matching(document: dict[str, Any], request: Request, effect: str) -> list[str]:
    """Sids (or positions) of the statements with ``effect`` that match the request."""
    return [
        statement.get("Sid", str(i))
        for i, statement in enumerate(_listed(document["Statement"]))
        if statement["Effect"] == effect and statement_matches(statement, request)
    ]


def denies(document: dict[str, Any], request: Request) -> list[str]:
    return matching(document, request, "Deny")


def allows(document: dict[str, Any], request: Request) -> list[str]:
    return matching(document, request, "Allow")
