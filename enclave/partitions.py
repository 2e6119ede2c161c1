"""AWS partitions and zone ids, from botocore's own data: which partition, DNS suffix and zone ids a region has."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re


@functools.cache
def _partitions() -> list[dict]:
    # Found without importing botocore: only its data file is needed.
    spec = importlib.util.find_spec("botocore")
    directory = next(iter(spec.submodule_search_locations or [])) if spec else ""
    with open(os.path.join(directory, "data", "partitions.json"), encoding="utf-8") as f:
        return json.load(f)["partitions"]


@functools.cache
def partition_of(region: str) -> dict:
    """``{"name", "dnsSuffix", "regions": {name: {"description"}}}`` of the partition a region is in."""
    parts = _partitions()
    for part in parts:
        if region in part["regions"]:
            return {**part["outputs"], "regions": part["regions"]}
    for part in parts:
        if re.match(part["regionRegex"], region):
            return {**part["outputs"], "regions": part["regions"]}
    return {**parts[0]["outputs"], "regions": parts[0]["regions"]}


def zone_id(region: str, index: int) -> str:
    """The AZ id AWS gives zone ``index`` (1-based) of a region: ``euw1-az1``, ``use1-az2``, ``apse2-az3``."""
    words = region.split("-")
    initials = {"north": "n", "south": "s", "east": "e", "west": "w", "central": "c", "gov": "g"}

    def short(word: str) -> str:
        for compass in ("northeast", "northwest", "southeast", "southwest"):
            if word == compass:
                return compass[0] + compass[5]
        return initials.get(word, word[:1])

    return words[0] + "".join(short(w) for w in words[1:-1]) + words[-1] + f"-az{index}"
