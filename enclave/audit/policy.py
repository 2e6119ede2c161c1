"""What a policy document allows, and to whom: the one statement analyser every audit check uses.

The audit reads many resource policies (key policies, bucket and access point
policies, secret policies, VPC endpoint policies, role trust policies). Each
check asks the same two questions of their ``Allow`` statements: *which
principals does it admit*, and *does a condition confine them to the site*?
This module answers them once, following AWS's policy evaluation rules:

- ``Principal: "*"`` (or ``{"AWS": "*"}``) admits everyone, anonymous callers and
  AWS services included; ``NotPrincipal`` with ``Allow`` admits everyone but the
  listed principals, so it is treated as ``*``.
- An AWS principal is identified by its account: a bare account id,
  ``arn:aws:iam::<account>:root|role/..|user/..`` or ``arn:aws:sts::<account>:...``.
  A wildcard in the account field identifies no account (it is outside).
- A condition *confines* a statement only if it can never hold for a request from
  outside: a positive operator (``StringEquals``, ``StringLike``, ``ArnEquals``,
  ``ArnLike``, ``StringEqualsIgnoreCase``, or their ``ForAnyValue:`` form) on a key
  that names the caller (``aws:PrincipalAccount``, ``aws:PrincipalArn``,
  ``kms:CallerAccount``), the service's customer (``aws:SourceAccount``,
  ``aws:SourceArn``, ``aws:SourceOwner``) or the site's network
  (``aws:SourceVpce``, ``aws:SourceVpc``), with every value inside the site.
  AWS: "If the key that you specify in a policy condition is not present in the
  request context, the values do not match and the condition is false", except for
  ``...IfExists`` (true when absent) and ``ForAllValues:`` (true when absent), so
  neither of those confines anything. Organisation keys (``aws:PrincipalOrgID``)
  do not confine: the organisation holds accounts outside the site.
- A service principal is never inside by itself: it acts for any customer, so it
  needs a confused-deputy condition pinning the source account or ARN to the site.
- An ``Allow`` is dead if a ``Deny`` of the same document covers all its actions and
  resources for every outsider: ``Principal: "*"`` and either no condition or only
  negated conditions (``StringNotEquals``, ``ArnNotLike``, ... with or without
  ``IfExists``) on the caller's account or ARN whose values are all inside. AWS:
  for a negated operator an absent key makes the condition *true*, so such a deny
  also catches anonymous callers and services.

Wildcards follow IAM (``*`` any run of characters, ``?`` one character), not
``fnmatch`` (whose ``[...]`` classes IAM does not have).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

ANYONE = "*"

POSITIVE_OPERATORS = frozenset({"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike"})
NEGATED_OPERATORS = frozenset(
    {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike"}
)

CALLER_ACCOUNT_KEYS = ("aws:PrincipalAccount", "kms:CallerAccount")
CALLER_ARN_KEYS = ("aws:PrincipalArn",)
SOURCE_ACCOUNT_KEYS = ("aws:SourceAccount", "aws:SourceOwner")
SOURCE_ARN_KEYS = ("aws:SourceArn",)
RESOURCE_ACCOUNT_KEYS = ("aws:ResourceAccount", "s3:ResourceAccount")

_ACCOUNT_RE = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class Perimeter:
    """Who and what is inside the site: its accounts, and its network and buckets in the site region."""

    accounts: frozenset[str]
    """The data, operator and auditor accounts."""
    vpc_ids: frozenset[str] = frozenset()
    """VPCs of the data account in the site region (``aws:SourceVpc``)."""
    endpoint_ids: frozenset[str] = frozenset()
    """VPC endpoints of those VPCs (``aws:SourceVpce``)."""
    bucket_names: frozenset[str] = frozenset()
    """Buckets of the data account (an S3 ARN carries no account; its name is global)."""


@dataclass(frozen=True)
class Principal:
    """One principal a statement names: ``kind`` is the Principal map key, ``value`` ``*`` for anyone."""

    kind: str  # "AWS" | "Service" | "Federated" | "CanonicalUser"
    value: str

    def __str__(self) -> str:
        if self.value == ANYONE:
            return ANYONE
        return self.value if self.kind == "AWS" else f"{self.kind}:{self.value}"


# --------------------------------------------------------------------------- documents


def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def parse(document: Any) -> dict:
    """The document as a dict (AWS returns JSON strings; boto3 decodes some); ``{}`` if unreadable."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            return {}
    return document if isinstance(document, dict) else {}


def statements(document: Any) -> list[dict]:
    """The document's statements (a single statement object counts as a list of one, as in IAM).

    A ``Condition`` that is not a map of maps (IAM refuses one; a shape the audit cannot read)
    is read the safe way: an Allow as unconditional, a Deny as denying nothing.
    """
    out = []
    for s in as_list(parse(document).get("Statement")):
        if not isinstance(s, dict):
            continue
        cond = s.get("Condition")
        if cond is not None and not (isinstance(cond, dict) and all(isinstance(b, dict) for b in cond.values())):
            s = {k: v for k, v in s.items() if k != "Condition"}
            if s.get("Effect") != "Allow":
                s["Effect"] = "Unreadable"
        out.append(s)
    return out


def label(statement: dict, index: int) -> str:
    """How a report names a statement: its Sid, else its 1-based position."""
    return str(statement.get("Sid") or f"statement {index + 1}")


@functools.lru_cache(maxsize=4096)
def _wildcard_regex(pattern: str) -> re.Pattern:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, flags=re.IGNORECASE | re.DOTALL)


def wildcard_match(pattern: Any, value: str) -> bool:
    """IAM wildcard matching (case-insensitive, as for actions and ARNs' service parts)."""
    return _wildcard_regex(str(pattern)).fullmatch(value) is not None


def covers(patterns: Any, value: str) -> bool:
    """Whether an ``Action``/``Resource`` list (with wildcards) covers ``value``."""
    return any(wildcard_match(p, value) for p in as_list(patterns))


def allows_action(statement: dict, action: str) -> bool:
    """Whether the statement's Action/NotAction covers ``action``."""
    if "NotAction" in statement:
        return not covers(statement["NotAction"], action)
    return covers(statement.get("Action"), action)


def is_everyone_principal(principal: Any) -> bool:
    """``Principal: "*"`` or ``{"AWS": "*"}`` (or a list holding ``*``)."""
    if principal == ANYONE:
        return True
    return isinstance(principal, dict) and ANYONE in as_list(principal.get("AWS"))


def account_of(value: str) -> str | None:
    """The account a principal, account id or ARN names; ``None`` for a wildcard or no account."""
    value = str(value)
    if _ACCOUNT_RE.match(value):
        return value
    parts = value.split(":")
    if len(parts) >= 6 and parts[0] == "arn" and _ACCOUNT_RE.match(parts[4]):
        return parts[4]
    return None


def principals(statement: dict, default_anyone: bool = False) -> list[Principal]:
    """The principals a statement names (``NotPrincipal`` counts as anyone).

    ``default_anyone``: VPC endpoint policies may omit ``Principal``, which AWS
    reads as ``*``; in identity policies there is no principal at all.
    """
    if "NotPrincipal" in statement:
        return [Principal("AWS", ANYONE)]
    principal = statement.get("Principal")
    if principal is None:
        return [Principal("AWS", ANYONE)] if default_anyone else []
    if principal == ANYONE:
        return [Principal("AWS", ANYONE)]
    if not isinstance(principal, dict):
        return [Principal("AWS", ANYONE)]  # malformed: assume the worst
    out = []
    for kind, values in principal.items():
        for value in as_list(values):
            out.append(Principal(str(kind), str(value)))
    return out


# --------------------------------------------------------------------------- conditions


def split_operator(operator: str) -> tuple[str, str, bool]:
    """``(qualifier, base operator, if_exists)`` of a condition operator."""
    qualifier = ""
    if ":" in operator:
        qualifier, operator = operator.split(":", 1)
    if_exists = operator.endswith("IfExists")
    return qualifier, operator.removesuffix("IfExists"), if_exists


def required_values(condition: dict, keys: tuple[str, ...]) -> list[list[str]]:
    """For each positive, key-required test on one of ``keys``: the values one of which must match.

    Every list returned must hold for the statement to apply (conditions are ANDed).
    """
    wanted = {k.lower() for k in keys}
    out = []
    for operator, block in (condition or {}).items():
        qualifier, base, if_exists = split_operator(operator)
        if if_exists or qualifier == "ForAllValues" or base not in POSITIVE_OPERATORS or not isinstance(block, dict):
            continue
        for key, values in block.items():
            if key.lower() in wanted:
                out.append([str(v) for v in as_list(values)])
    return out


def _accounts_inside(values: list[str], perimeter: Perimeter) -> bool:
    return bool(values) and all(v in perimeter.accounts for v in values)


def _arns_inside(values: list[str], perimeter: Perimeter) -> bool:
    def inside(value: str) -> bool:
        if account_of(value) in perimeter.accounts:
            return True
        # S3 ARNs carry no account: a literal bucket name of the data account is inside.
        if value.startswith("arn:aws:s3:::"):
            name = value.removeprefix("arn:aws:s3:::").split("/", 1)[0]
            return "*" not in name and "?" not in name and name in perimeter.bucket_names
        return False

    return bool(values) and all(inside(v) for v in values)


def network_confined(statement: dict, perimeter: Perimeter) -> bool:
    """Requests must come through the site's own VPC endpoints or VPCs."""
    cond = statement.get("Condition") or {}
    return any(
        vals and all(v in perimeter.endpoint_ids for v in vals) for vals in required_values(cond, ("aws:SourceVpce",))
    ) or any(vals and all(v in perimeter.vpc_ids for v in vals) for vals in required_values(cond, ("aws:SourceVpc",)))


def caller_confined(statement: dict, perimeter: Perimeter) -> bool:
    """A condition pins the caller (account or ARN) to the site."""
    cond = statement.get("Condition") or {}
    return any(_accounts_inside(v, perimeter) for v in required_values(cond, CALLER_ACCOUNT_KEYS)) or any(
        _arns_inside(v, perimeter) for v in required_values(cond, CALLER_ARN_KEYS)
    )


def source_confined(statement: dict, perimeter: Perimeter) -> bool:
    """A confused-deputy condition pins the service's customer (account or ARN) to the site."""
    cond = statement.get("Condition") or {}
    return any(_accounts_inside(v, perimeter) for v in required_values(cond, SOURCE_ACCOUNT_KEYS)) or any(
        _arns_inside(v, perimeter) for v in required_values(cond, SOURCE_ARN_KEYS)
    )


def principal_inside(principal: Principal, statement: dict, perimeter: Perimeter) -> bool:
    """Whether the statement can admit ``principal`` only from inside the site."""
    if network_confined(statement, perimeter):
        return True
    if principal.kind == "AWS":
        if principal.value != ANYONE and account_of(principal.value) in perimeter.accounts:
            return True
        return caller_confined(statement, perimeter)
    if principal.kind == "Service":
        return source_confined(statement, perimeter)
    # Federated identities and canonical users (CloudFront OAIs) are outside by nature.
    return False


# --------------------------------------------------------------------------- denies


def _patterns_covered(deny_patterns: Any, allow_patterns: Any) -> bool:
    """Every pattern of the Allow is matched, as a string, by a pattern of the Deny.

    Sound for IAM wildcards: if ``d`` matches the literal text of ``a``, every value
    ``a`` matches is matched by ``d`` (``*`` in ``a`` is matched by ``*`` in ``d``).
    """
    allows = as_list(allow_patterns)
    return bool(allows) and all(covers(deny_patterns, str(a)) for a in allows)


def _element_covered(deny: dict, allow: dict, name: str) -> bool:
    not_name = f"Not{name}"
    if not_name in deny:
        return False
    deny_patterns = deny.get(name, ANYONE if name == "Resource" else None)
    if not_name in allow:
        # An Allow of "everything but ..." is covered only by a Deny of everything.
        return ANYONE in [str(p) for p in as_list(deny_patterns)]
    return _patterns_covered(deny_patterns, allow.get(name, ANYONE if name == "Resource" else None))


def excludes_outsiders(deny: dict, perimeter: Perimeter) -> bool:
    """A Deny that applies to every principal outside the site (whatever else it does)."""
    if deny.get("Effect") != "Deny" or "NotPrincipal" in deny:
        return False
    if not any(p.value == ANYONE for p in principals(deny, default_anyone=True)):
        return False
    for operator, block in (deny.get("Condition") or {}).items():
        qualifier, base, _ = split_operator(operator)
        if qualifier or base not in NEGATED_OPERATORS or not isinstance(block, dict):
            return False
        for key, values in block.items():
            vals = [str(v) for v in as_list(values)]
            if key.lower() in {k.lower() for k in CALLER_ACCOUNT_KEYS}:
                if not _accounts_inside(vals, perimeter):
                    return False
            elif key.lower() in {k.lower() for k in CALLER_ARN_KEYS}:
                if not _arns_inside(vals, perimeter):
                    return False
            else:
                return False
    return True


def neutralised(allow: dict, document_statements: list[dict], perimeter: Perimeter) -> bool:
    """Some Deny of the same document removes everything ``allow`` grants to outsiders."""
    return any(
        excludes_outsiders(d, perimeter)
        and _element_covered(d, allow, "Action")
        and _element_covered(d, allow, "Resource")
        for d in document_statements
    )


# --------------------------------------------------------------------------- verdicts


def outsiders(
    statement: dict, perimeter: Perimeter, document_statements: list[dict] = (), default_anyone: bool = False
) -> list[str]:
    """The principals outside the site an ``Allow`` statement admits (``[]`` when confined or dead)."""
    if statement.get("Effect") != "Allow":
        return []
    found = [str(p) for p in principals(statement, default_anyone) if not principal_inside(p, statement, perimeter)]
    if found and neutralised(statement, list(document_statements), perimeter):
        return []
    return sorted(set(found))


def policy_outsiders(document: Any, perimeter: Perimeter, default_anyone: bool = False) -> list[str]:
    """``"<statement>: <principal>"`` for every outsider any Allow of the document admits."""
    stmts = statements(document)
    return [
        f"{label(s, i)} allows {who}"
        for i, s in enumerate(stmts)
        for who in outsiders(s, perimeter, stmts, default_anyone)
    ]


def resources_outside(statement: dict, perimeter: Perimeter) -> list[str]:
    """Resources of an ``Allow`` (an endpoint policy's) that may belong to an account outside the site."""
    if statement.get("Effect") != "Allow":
        return []
    cond = statement.get("Condition") or {}
    if any(_accounts_inside(v, perimeter) for v in required_values(cond, RESOURCE_ACCOUNT_KEYS)):
        return []
    if "NotResource" in statement:
        return [f"NotResource {', '.join(map(str, as_list(statement['NotResource'])))}"]
    resources = [str(r) for r in as_list(statement.get("Resource", ANYONE))]
    return sorted({r for r in resources if not _arns_inside([r], perimeter)})
