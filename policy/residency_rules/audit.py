"""audit-on: each site has exactly one single-region CloudTrail trail with log-file validation, logging."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy

from . import exceptions, names
from .values import MISSING, get, is_unknown

NAME = names.AUDIT
TRAIL = "aws:cloudtrail/trail:Trail"


def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    trails = [r for r in args.resources if r.resource_type == TRAIL]
    if not trails:
        report_violation("the stack has no CloudTrail trail: add one single-region trail with log file validation")
        return
    if len(trails) > 1:
        for trail in trails[1:]:
            report_violation(
                f"the site must have exactly one trail, found {len(trails)}: keep one (first: {trails[0].urn})",
                trail.urn,
            )
    for trail in trails:
        props = trail.props
        multi = get(props, "isMultiRegionTrail")
        if is_unknown(multi) or multi not in (MISSING, None, False):
            report_violation(
                f"isMultiRegionTrail = {multi!r}: the trail must be single-region; set it false", trail.urn
            )
        validation = get(props, "enableLogFileValidation")
        if validation is not True:
            report_violation(
                f"enableLogFileValidation = {validation!r}: set it true so tampering with logs is detectable",
                trail.urn,
            )
        logging = get(props, "enableLogging")
        if is_unknown(logging) or logging is False:
            report_violation(f"enableLogging = {logging!r}: the trail must be logging; set it true", trail.urn)
        bucket = get(props, "s3BucketName")
        if bucket is MISSING or bucket in (None, ""):
            report_violation(
                "s3BucketName is not set: the trail must deliver to the site's audit-log bucket", trail.urn
            )


POLICY = StackValidationPolicy(
    name=NAME,
    description="Each site has exactly one single-region CloudTrail trail, logging, with log-file validation.",
    validate=exceptions.stack_policy(NAME, validate),
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=exceptions.config_schema(),
)
