"""region-pinned: every AWS resource lands in the site's region, through a pinned, explicit provider."""

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
from .site import Site, site_of
from .values import (
    MISSING,
    REGION_RE,
    config_value,
    decode_json,
    get,
    is_aws_provider,
    is_aws_resource,
    is_unknown,
    missing_config_message,
    walk,
)

NAME = names.REGION_PINNED

CHECKED_PACKAGES = ("aws", "random")
"""Packages whose resources this pack can place: AWS, and random (local, no cloud API)."""


def _foreign_package(resource_type: str, has_provider: bool) -> str | None:
    """The package of a provider or custom resource this pack cannot place in a region, if any."""
    if resource_type.startswith("pulumi:providers:"):
        package = resource_type.split(":")[2]
    elif has_provider:  # components carry no provider reference; custom resources always do
        package = resource_type.split(":")[0]
    else:
        return None
    return None if package in CHECKED_PACKAGES else package


def is_default_provider(name: str, urn: str = "") -> bool:
    """The engine names default providers ``default`` or ``default_<version>``."""
    last = urn.rsplit("::", 1)[-1]
    return any(n == "default" or n.startswith("default_") for n in (name, last))


def provider_findings(name: str, urn: str, props: Any, region: str, site: Site) -> Iterator[str]:
    """What is wrong with one AWS provider's pinning."""
    if is_default_provider(name, urn):
        yield (
            f"the default AWS provider ({name}) takes its region and account from the environment: "
            "disable it (pulumi:disable-default-providers: [aws]) and pass an explicit provider"
        )
    own = get(props, "region")
    if is_unknown(own):
        yield f"provider {name}: region is unknown at preview; pin it to {region}"
    elif own is MISSING or own in (None, ""):
        yield f"provider {name}: region is not set, so it comes from AWS_REGION at run time; set region={region!r}"
    elif own != region:
        yield f"provider {name}: region {own!r} is outside the site; set region={region!r}"
    allowed = decode_json(get(props, "allowedAccountIds"))
    if is_unknown(allowed):
        yield f"provider {name}: allowedAccountIds is unknown at preview; list the site's accounts explicitly"
    elif not isinstance(allowed, list) or not allowed:
        yield (
            f"provider {name}: allowedAccountIds is not set, so the credentials decide the account; "
            f"set allowed_account_ids to one of {sorted(a for a in (site.data, site.operator) if a)}"
        )
    else:
        # A provider deploys into the data or operator account, or into one the config trusts for it
        # (the guardrails' management account, say); never into the auditor's.
        outside = [
            a
            for a in allowed
            if a not in (site.data, site.operator)
            and not any(t.account == a and t.covers(urn, name) for t in site.trusted)
        ]
        if outside and (site.data or site.operator):
            yield (
                f"provider {name}: allowedAccountIds {allowed} includes accounts outside the site "
                f"{sorted(a for a in (site.data, site.operator) if a)}: pin it to the site's accounts, or trust the "
                "account in this policy's config (trustedAccounts, with a reason and this provider in resources)"
            )
    # Endpoint overrides and the STS region can send calls to another region.
    for key in ("endpoints", "stsRegion"):
        value = decode_json(get(props, key))
        if value is MISSING:
            continue
        for path, _k, leaf in walk({key: value}):
            if is_unknown(leaf):
                yield f"provider {name}: {path} is unknown at preview; remove it or pin it to {region}"
            elif isinstance(leaf, str):
                foreign = [p for p in leaf.replace("/", ".").split(".") if REGION_RE.match(p) and p != region]
                if foreign:
                    yield f"provider {name}: {path} = {leaf!r} points at {foreign[0]}; remove it or use {region}"


def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    typ = args.resource_type
    foreign = _foreign_package(typ, args.provider is not None)
    if foreign:
        report_violation(
            f"package {foreign!r} is not one the residency pack can place in a region (it checks "
            f"{', '.join(CHECKED_PACKAGES)}): manage this resource with pulumi-aws on the site's providers"
        )
        return
    if not (is_aws_provider(typ) or is_aws_resource(typ)):
        return
    region = config_value(args, "allowedRegion")
    if region is None:
        report_violation(missing_config_message(NAME, "allowedRegion"))
        return
    if is_aws_provider(typ):
        for message in provider_findings(args.name, args.urn, args.props, region, site_of(args)):
            report_violation(message)
        return

    prov = args.provider
    own = get(args.props, "region")
    if is_unknown(own):
        report_violation(f"region is unknown at preview; pin it to {region}")
    elif own not in (MISSING, None, "") and own != region:
        report_violation(f"region = {own!r} overrides the provider's region: remove it or set it to {region!r}")
    for message in _through_provider(prov, region, own in (MISSING, None, "")):
        report_violation(message)


_VERDICTS: dict[tuple[int, str, bool], tuple[Any, list[str]]] = {}


def _through_provider(prov: Any, region: str, inherits: bool) -> list[str]:
    """What is wrong with a resource's provider, for the resource (cached: every resource asks of the same few)."""
    key = (id(prov), region, inherits)
    cached = _VERDICTS.get(key)
    if cached is not None and cached[0] is prov:
        return cached[1]
    found: list[str] = []
    if prov is None or is_default_provider(prov.name, prov.urn):
        found.append(
            "this resource uses the default AWS provider, whose region and account come from the "
            "environment: pass provider= one of the site's pinned providers"
        )
    if inherits and prov is not None:
        prov_region = get(prov.props, "region")
        if is_unknown(prov_region):
            found.append(f"the provider's region is unknown at preview; pin it to {region}")
        elif prov_region in (MISSING, None, ""):
            found.append(
                f"provider {prov.name} sets no region, so this resource lands wherever AWS_REGION points: "
                f"use a provider pinned to {region}"
            )
        elif prov_region != region:
            found.append(
                f"effective region {prov_region!r} (from provider {prov.name}) is outside the site: "
                f"use a provider pinned to {region}"
            )
    if len(_VERDICTS) > 256:
        _VERDICTS.clear()
    _VERDICTS[key] = (prov, found)
    return found


POLICY = ResourceValidationPolicy(
    name=NAME,
    description="Every AWS resource and provider is pinned to the site's region and accounts; the default provider is not used.",
    validate=exceptions.resource_policy(NAME, validate),
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=exceptions.config_schema(
        required=["allowedRegion", "dataAccountId", "operatorAccountId"], accounts=True
    ),
)
