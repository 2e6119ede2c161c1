"""Policy documents kept as JSON next to the program."""

from pathlib import Path


def read_document(name: str) -> str:
    return Path("policies", name).read_text()
