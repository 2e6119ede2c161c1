"""CloudTrail: the site's trail logs, stays in the region, is encrypted with the operator key,
records the user data's object events and is delivering into the Object-Locked bucket."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from enclave.audit.base import MISSING_FIX, Audit, Check, Family, arn_account, arn_region, register
from enclave.audit.common import call

CHECKS = register(
    Check(
        "trail-logging",
        "The site's trail is logging",
        "trail exists and IsLogging true",
        "aws cloudtrail start-logging --name TRAIL (and find who stopped it: StopLogging in CloudTrail).",
    ),
    Check(
        "trail-single-region",
        "The trail is a single-region trail",
        "IsMultiRegionTrail false",
        "aws cloudtrail update-trail --name TRAIL --no-is-multi-region-trail, or pulumi up.",
    ),
    Check(
        "trail-log-validation",
        "Log file validation is on",
        "LogFileValidationEnabled true",
        "aws cloudtrail update-trail --name TRAIL --enable-log-file-validation, or pulumi up.",
    ),
    Check(
        "trail-log-bucket-object-lock",
        "The trail logs into the site's audit-logs bucket under Object Lock",
        "the site's audit-logs bucket, Object Lock enabled, COMPLIANCE retention of at least auditLogRetentionDays",
        "Point the trail at the audit-logs bucket (pulumi up); Object Lock can only be enabled on a new bucket.",
    ),
    Check(
        "trail-kms-operator-key",
        "The trail's log files are encrypted with the site's operator key",
        "KmsKeyId = the operator key (alias/enclave-<site>-data in the operator account, site region)",
        "aws cloudtrail update-trail --name TRAIL --kms-key-id OPERATOR_KEY_ARN, or pulumi up.",
    ),
    Check(
        "trail-data-events",
        "The trail records every read and write of user-data objects",
        "S3 data events (AWS::S3::Object, read and write) on the whole user-data bucket",
        "Run pulumi up (restores the trail's event selectors), or aws cloudtrail put-event-selectors with "
        "DataResources Type=AWS::S3::Object, Values=arn:aws:s3:::USER_DATA_BUCKET/ and ReadWriteType All.",
    ),
    Check(
        "trail-management-events",
        "The trail records every management event",
        "management events, read and write, no event source excluded",
        "Run pulumi up (restores the trail's event selectors): IncludeManagementEvents true, ReadWriteType All, "
        "no ExcludeManagementEventSources.",
    ),
    Check(
        "trail-delivering",
        "The trail is delivering log files without errors",
        "no delivery error and a log or digest file delivered within the last 2 hours",
        "Read LatestDeliveryError (aws cloudtrail get-trail-status): usually the audit bucket's policy or the "
        "operator key's policy no longer admits CloudTrail; pulumi up restores both.",
    ),
)

OTHER_DESTINATION = register(
    Check(
        "trail-no-other-destination",
        "No trail delivers the account's events outside the site",
        "every trail that logs this region (the site's, another one, a multi-region trail of another region) "
        "delivers only into a bucket of the data account in the site region, and into no CloudWatch Logs group "
        "of another account or region; an organization trail only from the guardrails' management account",
        "Delete the trail (aws cloudtrail delete-trail --name TRAIL) or point it at the audit-logs bucket, then "
        "find who created it (CreateTrail in CloudTrail): a trail's log files carry every request's parameters, "
        "object keys included.",
    ),
)[0]

PERMISSIONS = (
    "cloudtrail:DescribeTrails",
    "cloudtrail:GetEventSelectors",
    "cloudtrail:GetTrailStatus",
    "kms:DescribeKey",
    "s3:GetBucketObjectLockConfiguration",
)

DELIVERY_MAX_AGE = timedelta(hours=2)
"""CloudTrail delivers digest files every hour when validation is on; two hours without one is a stall."""

_READ_WRITE = {"All": {"read", "write"}, "ReadOnly": {"read"}, "WriteOnly": {"write"}}


def run(audit: Audit) -> None:
    cfg = audit.cfg
    ct = audit.client("cloudtrail")
    _destination_results(audit, ct)
    described = call(
        ct,
        "DescribeTrails",
        f"trail {cfg.trail_name}",
        none_codes=("TrailNotFoundException",),
        trailNameList=[cfg.trail_name],
        includeShadowTrails=False,
    )
    trail = next((t for t in (described or {}).get("trailList", []) if t.get("Name") == cfg.trail_name), None)
    if trail is None:
        for check in CHECKS:
            audit.add(
                check.id, False, [cfg.trail_arn], f"no trail named {cfg.trail_name} in {cfg.region}", fix=MISSING_FIX
            )
        return
    arn = trail.get("TrailARN", cfg.trail_arn)
    status = call(ct, "GetTrailStatus", f"trail {arn}", Name=arn)
    logging = status.get("IsLogging") is True
    audit.add("trail-logging", logging, [arn], "logging" if logging else "not logging (stopped)")
    multi = trail.get("IsMultiRegionTrail") is True
    audit.add("trail-single-region", not multi, [arn], "multi-region trail" if multi else "single-region trail")
    valid = trail.get("LogFileValidationEnabled") is True
    audit.add("trail-log-validation", valid, [arn], "validation on" if valid else "validation off")
    _key_result(audit, arn, trail.get("KmsKeyId") or "")
    _delivery_result(audit, arn, status, logging)
    selectors = call(ct, "GetEventSelectors", f"trail {arn}", TrailName=arn)
    _selector_results(audit, arn, selectors)
    _object_lock_result(audit, arn, trail.get("S3BucketName") or "")


def _key_result(audit: Audit, arn: str, key: str) -> None:
    cfg = audit.cfg
    if arn_account(key) == cfg.operator_account_id:
        audit.keys.setdefault(key, cfg.operator_account_id)
    site_key = audit.operator_key()
    site_arn = site_key["Arn"] if site_key else None
    if not key:
        found, ok = "no KMS key: log files are encrypted with S3-managed keys", False
    elif site_arn is None:
        found, ok = f"encrypted with {key}, but {cfg.key_alias} does not resolve in the operator account", False
    else:
        ok = key == site_arn
        found = f"encrypted with {key}" + ("" if ok else f", not the site's operator key {site_arn}")
    audit.add("trail-kms-operator-key", ok, [arn, *([key] if key else [])], found)


def _delivery_result(audit: Audit, arn: str, status: dict, logging: bool) -> None:
    if not logging:
        audit.add("trail-delivering", True, [arn], "not logging, so not delivering (see trail-logging)")
        return
    errors = [
        f"{field}: {status[field]}"
        for field in ("LatestDeliveryError", "LatestDigestDeliveryError")
        if status.get(field)
    ]
    times = [t for t in (status.get("LatestDeliveryTime"), status.get("LatestDigestDeliveryTime")) if t]
    latest = max(times) if times else None
    started = status.get("StartLoggingTime")
    cutoff = audit.now - DELIVERY_MAX_AGE
    if latest is not None and _aware(latest) < cutoff and not (started and _aware(started) >= cutoff):
        errors.append(f"last delivery {_aware(latest).isoformat()} (more than 2 hours before the audit)")
    elif latest is None and not (started and _aware(started) >= cutoff):
        errors.append("no log or digest file ever delivered")
    audit.add(
        "trail-delivering",
        not errors,
        [arn],
        "; ".join(errors) or f"last delivery {_aware(latest).isoformat() if latest else 'pending (just started)'}",
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _selector_results(audit: Audit, arn: str, response: dict) -> None:
    bucket_arn = audit.cfg.bucket_arn("user-data")
    basic = response.get("EventSelectors") or []
    advanced = response.get("AdvancedEventSelectors") or []
    if not basic and not advanced:
        # A trail with no selector set logs AWS's default: all management events, no data events.
        basic = [{"ReadWriteType": "All", "IncludeManagementEvents": True}]
    data: set[str] = set()
    management: set[str] = set()
    excluded: set[str] = set()
    for selector in basic:
        kinds = _READ_WRITE.get(selector.get("ReadWriteType", "All"), set())
        if selector.get("IncludeManagementEvents", True):
            management |= kinds
            excluded |= set(selector.get("ExcludeManagementEventSources") or [])
        for resource in selector.get("DataResources") or []:
            if resource.get("Type") == "AWS::S3::Object" and any(
                _covers_bucket(v, bucket_arn) for v in resource.get("Values") or []
            ):
                data |= kinds
    for selector in advanced:
        category, kinds, ok = _advanced(selector, bucket_arn)
        if ok and category == "Data":
            data |= kinds
        elif ok and category == "Management":
            management |= kinds
    audit.add(
        "trail-data-events",
        data == {"read", "write"},
        [arn, bucket_arn],
        f"data events on the user-data bucket: {_kinds(data)}",
    )
    excluded_note = f"; excludes events from {', '.join(sorted(excluded))}" if excluded else ""
    audit.add(
        "trail-management-events",
        management == {"read", "write"} and not excluded,
        [arn],
        f"management events: {_kinds(management)}{excluded_note}",
    )


def _kinds(kinds: set[str]) -> str:
    return {frozenset(): "none", frozenset({"read"}): "read only", frozenset({"write"}): "write only"}.get(
        frozenset(kinds), "read and write"
    )


def _covers_bucket(value: str, bucket_arn: str) -> bool:
    """A basic selector value covers every object of the bucket (values are ARN prefixes)."""
    return value in ("arn:aws:s3", "arn:aws:s3:::") or value.rstrip("/") == bucket_arn


def _advanced(selector: dict, bucket_arn: str) -> tuple[str, set[str], bool]:
    """(category, read/write kinds, whether every event of that category for the bucket's objects is selected)."""
    category, kinds, ok = "", {"read", "write"}, True
    for fs in selector.get("FieldSelectors") or []:
        field, equals = fs.get("Field"), fs.get("Equals") or []
        others = [k for k in ("StartsWith", "EndsWith", "NotEquals", "NotStartsWith", "NotEndsWith") if fs.get(k)]
        if field == "eventCategory" and not others and len(equals) == 1:
            category = equals[0]
        elif field == "resources.type" and not others:
            ok = ok and "AWS::S3::Object" in equals
        elif field == "readOnly" and not others and len(equals) == 1:
            kinds = {"read"} if str(equals[0]).lower() == "true" else {"write"}
        elif field == "resources.ARN":
            starts = fs.get("StartsWith") or []
            ok = ok and not equals and not [k for k in others if k != "StartsWith"]
            ok = ok and any(f"{bucket_arn}/".startswith(p) for p in starts)
        else:
            # Any other filter (event names, sources, identities) selects only some events.
            ok = False
    return category, kinds, ok


def _object_lock_result(audit: Audit, arn: str, bucket: str) -> None:
    cfg = audit.cfg
    bucket_arn = f"arn:aws:s3:::{bucket}"
    if bucket != cfg.bucket_name("audit-logs"):
        audit.add(
            "trail-log-bucket-object-lock",
            False,
            [arn, bucket_arn],
            f"logs into {bucket or 'no bucket'}, not {cfg.bucket_name('audit-logs')}",
        )
        return
    lock = call(
        audit.client("s3"),
        "GetObjectLockConfiguration",
        f"bucket {bucket}",
        none_codes=("ObjectLockConfigurationNotFoundError",),
        Bucket=bucket,
    )
    conf: dict[str, Any] = (lock or {}).get("ObjectLockConfiguration", {})
    retention = conf.get("Rule", {}).get("DefaultRetention", {})
    days = retention.get("Days") or 365 * (retention.get("Years") or 0)
    ok = (
        conf.get("ObjectLockEnabled") == "Enabled"
        and retention.get("Mode") == "COMPLIANCE"
        and days >= cfg.audit_log_retention_days
    )
    if conf.get("ObjectLockEnabled") != "Enabled":
        found = "Object Lock not enabled"
    elif not retention:
        found = "Object Lock enabled without a default retention"
    else:
        found = f"Object Lock {retention.get('Mode')} for {days} days"
    audit.add(
        "trail-log-bucket-object-lock",
        ok,
        [arn, bucket_arn],
        found,
        f"{bucket}: Object Lock enabled, COMPLIANCE default retention of at least {cfg.audit_log_retention_days} days",
    )


def _destination_results(audit: Audit, ct: Any) -> None:
    """Every trail that logs this region, shadow trails of other regions included, delivers inside the site."""
    cfg = audit.cfg
    described = call(ct, "DescribeTrails", f"trails of {audit.where}", includeShadowTrails=True)
    inside = {b["Name"] for b in audit.buckets() if b["Region"] == cfg.region}
    management = getattr(audit.guardrails, "management_account_id", None)
    for trail in sorted((described or {}).get("trailList") or [], key=lambda t: str(t.get("TrailARN"))):
        arn = str(trail.get("TrailARN") or trail.get("Name"))
        owner = arn_account(arn)
        bucket = trail.get("S3BucketName") or ""
        group = trail.get("CloudWatchLogsLogGroupArn") or ""
        if owner != audit.account:
            ok = bool(trail.get("IsOrganizationTrail")) and owner is not None and owner == management
            found = (
                f"organization trail of the guardrails' management account {owner}, into {bucket or 'no bucket'}"
                if ok
                else f"trail of account {owner} (not the guardrails' management account) into {bucket or 'no bucket'}"
            )
            audit.add(OTHER_DESTINATION.id, ok, [arn], found)
            continue
        outside = []
        if bucket not in inside:
            outside.append(f"log files into bucket {bucket or '?'}, not a bucket of the data account in {cfg.region}")
        if group and (arn_account(group) != audit.account or arn_region(group) != cfg.region):
            outside.append(f"events into log group {group}")
        where = f"home region {trail.get('HomeRegion', cfg.region)}"
        audit.add(
            OTHER_DESTINATION.id,
            not outside,
            [
                arn,
                *([f"arn:aws:s3:::{bucket}"] if bucket not in inside and bucket else []),
                *([group] if group else []),
            ],
            f"{where}: " + ("; ".join(outside) or f"into {bucket}"),
        )


FAMILY = Family("trail", (*CHECKS, OTHER_DESTINATION), PERMISSIONS, run)
