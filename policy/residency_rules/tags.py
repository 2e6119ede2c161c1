"""residency-tags: every AWS resource carries the site's residency tags (via its provider's default tags)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from . import exceptions, names
from .values import MISSING, config_value, decode_json, get, is_aws_provider, is_unknown, missing_config_message, plain

NAME = names.TAGS


def _tag_findings(where: str, tags: Any, required: dict[str, str], must_have: bool) -> Iterator[str]:
    if is_unknown(tags):
        yield f"{where} is unknown at preview; set the residency tags from known values"
        return
    tags = plain(tags) if tags not in (MISSING, None) else {}
    if not isinstance(tags, dict):
        yield f"{where} is not a map of tags"
        return
    for key, value in required.items():
        if key not in tags:
            if must_have:
                yield f"{where} lacks {key}={value!r}: add it"
        elif tags[key] != value:
            yield f"{where} sets {key}={tags[key]!r}; the site requires {key}={value!r}"


def findings(resource_type: str, props: Any, provider_props: Any, required: dict[str, str]) -> Iterator[str]:
    """Missing or contradicting residency tags of one resource or provider."""
    if is_aws_provider(resource_type):
        default_tags = decode_json(get(props, "defaultTags"))
        tags = get(default_tags, "tags") if isinstance(plain(default_tags), dict) else default_tags
        if is_unknown(default_tags):
            tags = default_tags
        yield from _tag_findings("defaultTags.tags", tags, required, must_have=True)
        return
    # A resource's own tags override its provider's default tags key by key, so
    # they must not contradict them. Whether a type takes tags at all is not in
    # its inputs: untagged resources rely on the provider check above.
    own = get(props, "tags")
    if own is MISSING or own is None:
        return
    yield from _tag_findings("tags", own, required, must_have=False)
    if is_unknown(own) or not isinstance(plain(own), dict):
        return
    merged = dict(_provider_tags(provider_props))
    merged.update(plain(own))
    yield from (
        m for m in _tag_findings("tags (with the provider's default tags)", merged, required, True) if "lacks" in m
    )


def _provider_tags(provider_props: Any) -> dict[str, Any]:
    if provider_props is None:
        return {}
    default_tags = decode_json(get(provider_props, "defaultTags"))
    tags = plain(get(default_tags, "tags")) if isinstance(plain(default_tags), dict) else None
    return tags if isinstance(tags, dict) else {}


def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    typ = args.resource_type
    if not (typ.startswith("aws:") or is_aws_provider(typ)):
        return
    required = config_value(args, "requiredTags")
    if not isinstance(required, dict) or not required:
        report_violation(missing_config_message(NAME, "requiredTags"))
        return
    provider_props = args.provider.props if args.provider is not None else None
    for message in findings(typ, args.props, provider_props, required):
        report_violation(message)


POLICY = ResourceValidationPolicy(
    name=NAME,
    description="Every AWS resource carries the site's residency tags (site, region, data classification) and none contradicts them.",
    validate=exceptions.resource_policy(NAME, validate),
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=exceptions.config_schema(
        {
            "requiredTags": {
                "type": "object",
                "description": "Tag key -> value every resource must carry (the provider's default_tags).",
                "additionalProperties": {"type": "string"},
            }
        },
        required=["requiredTags"],
    ),
)
