def owner_tag(bucket: str) -> str:
    if not bucket.startswith("team-"):
        raise ValueError(f"bucket {bucket!r} has no team prefix")
    return bucket.removeprefix("team-")
