"""The eu-data-residency policy pack's rules, importable without starting the pack's server.

``policy/__main__.py`` builds the ``PolicyPack`` from ``ALL_POLICIES``; the
offline ``python -m enclave check`` evaluates the same objects.
"""

from . import audit, egress, encryption, identity, protection, region, replication, reviewed, tags

ALL_POLICIES = [
    reviewed.POLICY,
    replication.POLICY,
    region.POLICY,
    encryption.POLICY,
    egress.POLICY,
    identity.POLICY,
    protection.PUBLIC_POLICY,
    protection.PROTECTED_POLICY,
    audit.POLICY,
    tags.POLICY,
]

__all__ = ["ALL_POLICIES"]
