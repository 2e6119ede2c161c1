"""Naming rules shared by the team's programs."""


def bucket_name(purpose: str, tags: dict) -> str:
    return f"{tags['owner']}-{purpose}"
