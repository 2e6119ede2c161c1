"""Reading resource properties the way the engine hands them over, failing closed on unknowns.

The engine wraps ``props`` in pulumi-policy's unknown-checking proxy: touching
an unknown value raises ``UnknownValueError``, which the engine turns into an
*advisory* "can't run policy during preview" note, so the resource passes.
Residency rules must not pass on what they cannot see, so they read through
the proxy's ``__target`` (never raising) and treat every unknown sentinel as a
value to report.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from pulumi.output import Unknown
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    _DictProxy,
    _ListProxy,
)

from .aws_names import REGION_RE as REGION_RE  # re-exported: a region name of any AWS partition

_UNKNOWN_SENTINELS = frozenset(
    {
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_STRING_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_OBJECT_VALUE,
    }
)


ARN_RE = re.compile(r"^arn:(aws[\w-]*):([\w-]+):([\w-]*):(\d{12}|aws|)?:(.+)$")


_WORD_RE = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


@lru_cache(maxsize=8192)
def words(key: str) -> tuple[str, ...]:
    """The lower-case words of a camelCase or snake_case key: ``destinationRegion`` -> ``("destination", "region")``."""
    return tuple(w.lower() for w in _WORD_RE.findall(key))


class _Missing:
    """Marker for a property that is not set at all (distinct from ``None``)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def is_unknown(value: Any) -> bool:
    """True for a value only known after deployment (preview sentinel or SDK ``Unknown``)."""
    return isinstance(value, Unknown) or (isinstance(value, str) and value in _UNKNOWN_SENTINELS)


_PROXIES = {_DictProxy, _ListProxy}
"""The proxy classes whose ``__target`` is the value itself (a set: offline tooling adds its own)."""


def register_proxy_types(*types: type) -> None:
    """Let ``raw`` see through proxies that subclass pulumi-policy's (offline evaluation's lazy ones)."""
    _PROXIES.update(types)


def raw(value: Any) -> Any:
    """The proxied container itself (children may still be proxies); never raises on unknowns."""
    # type() rather than isinstance(): the proxies are ABCs, whose isinstance checks are slow.
    if type(value) in _PROXIES:
        return value["__target"]
    return value


def plain(value: Any) -> Any:
    """A plain copy of ``value`` with every proxy removed (unknowns kept as they are)."""
    value = raw(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def get(props: Any, *path: str | int) -> Any:
    """The value at ``path`` (keys and list indexes), ``MISSING`` if absent, unknowns returned as-is."""
    # Inlined raw()/is_unknown(): this runs for nearly every property a rule reads.
    value = props["__target"] if type(props) in _PROXIES else props
    for step in path:
        kind = type(value)
        if kind is dict:
            if type(step) is int or step not in value:
                return MISSING
            value = value[step]
        elif kind is list or kind is tuple:
            if type(step) is not int or step >= len(value):
                return MISSING
            value = value[step]
        elif is_unknown(value):
            return value
        else:
            return MISSING
        if type(value) in _PROXIES:
            value = value["__target"]
    return value


def items(value: Any) -> list[Any]:
    """The elements of a list value (a single block counts as one), ``[]`` when absent or null."""
    value = raw(value)
    if value is MISSING or value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [raw(v) for v in value]
    return [value]


def is_set(value: Any) -> bool:
    """True when a value is present and not empty (unknowns count as set: fail closed)."""
    value = raw(value)
    if value is MISSING or value is None or value is False:
        return False
    if isinstance(value, (str, list, tuple, dict)) and not is_unknown(value):
        return len(value) > 0
    return True


def decode_json(value: Any) -> Any:
    """Provider inputs that are not strings reach policies JSON-encoded; decode them when they are."""
    value = raw(value)
    if isinstance(value, str) and value[:1] in ("[", "{") and not is_unknown(value):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def walk(value: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    """Every ``(path, key, value)`` below ``value``, depth first; list items inherit their list's key."""
    value = raw(value)
    if isinstance(value, dict):
        for key, child in value.items():
            child = raw(child)
            child_path = f"{path}.{key}" if path else str(key)
            yield child_path, str(key), child
            if isinstance(child, (dict, list, tuple)):
                yield from _walk_children(child, child_path, str(key))


def _walk_children(value: Any, path: str, key: str) -> Iterator[tuple[str, str, Any]]:
    if isinstance(value, dict):
        yield from walk(value, path)
        return
    for i, child in enumerate(value):
        child = raw(child)
        child_path = f"{path}[{i}]"
        yield child_path, key, child
        if isinstance(child, (dict, list, tuple)):
            yield from _walk_children(child, child_path, key)


def arn_parts(value: Any) -> tuple[str, str, str, str] | None:
    """``(service, region, account, resource)`` of an ARN string, or None if it is not one."""
    if not isinstance(value, str):
        return None
    m = ARN_RE.match(value)
    if not m:
        return None
    return m.group(2), m.group(3), m.group(4) or "", m.group(5)


def is_aws_resource(resource_type: str) -> bool:
    return resource_type.startswith("aws:")


def is_aws_provider(resource_type: str) -> bool:
    return resource_type == "pulumi:providers:aws"


def config_value(args: Any, key: str) -> Any:
    """A policy-config value, or None (rules report a missing value instead of guessing)."""
    value = args.get_config().get(key)
    return None if value in (None, "") else value


def missing_config_message(policy: str, key: str) -> str:
    return (
        f"policy config '{key}' is not set, so '{policy}' cannot prove residency: run with "
        f"--policy-pack-config policy/config/<stack>.json (or `python -m enclave check`, which passes it)"
    )
