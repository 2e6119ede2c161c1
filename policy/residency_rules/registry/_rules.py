"""Short names of the rules, for the registry's one-line entries."""

from ..names import (
    AUDIT as AUD,
)
from ..names import (
    ENCRYPTION as ENC,
)
from ..names import (
    IDENTITY_PERIMETER as ID,
)
from ..names import (
    NETWORK_PERIMETER as NET,
)
from ..names import (
    PROTECTED as PROT,
)
from ..names import (
    PUBLIC as PUB,
)
from ..names import (
    REGION_PERIMETER as REG,
)

__all__ = ["AUD", "ENC", "ID", "NET", "ONE_PER_TARGET", "PROT", "PUB", "REG"]

ONE_PER_TARGET = "; AWS keeps one per target, so no-public-data refuses a second resource that sets it"
