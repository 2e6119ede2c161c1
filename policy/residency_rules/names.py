"""The pack's policy names, in one place: the registry names the rule that checks each type."""

REVIEWED_TYPES = "reviewed-types"
REGION_PERIMETER = "no-cross-region-replication"
REGION_PINNED = "region-pinned"
ENCRYPTION = "operator-held-encryption"
NETWORK_PERIMETER = "no-egress"
IDENTITY_PERIMETER = "identity-perimeter"
PUBLIC = "no-public-data"
PROTECTED = "data-protected"
AUDIT = "audit-on"
TAGS = "residency-tags"

ALL = (
    REVIEWED_TYPES,
    REGION_PERIMETER,
    REGION_PINNED,
    ENCRYPTION,
    NETWORK_PERIMETER,
    IDENTITY_PERIMETER,
    PUBLIC,
    PROTECTED,
    AUDIT,
    TAGS,
)
