"""The eu-data-residency CrossGuard pack: `pulumi preview --policy-pack policy --policy-pack-config ...`.

Only builds the pack: the ``PolicyPack`` constructor starts the analyzer's gRPC
server and never returns, so the rules live in ``residency_rules`` instead.
"""

from pulumi_policy import EnforcementLevel, PolicyPack
from residency_rules import ALL_POLICIES

PolicyPack(name="eu-data-residency", policies=ALL_POLICIES, enforcement_level=EnforcementLevel.MANDATORY)
