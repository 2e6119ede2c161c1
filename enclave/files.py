"""Reading inputs with clear errors and writing outputs atomically (shared by every command).

A reader names the file and what is wrong with it (missing, a directory, not
UTF-8) in one line. A writer never leaves a half-written file: the text goes
to a temporary file in the same directory, which then replaces the target in
one ``os.replace`` (atomic on POSIX and Windows within one file system). For
several files, every temporary is written before any target is replaced, so a
failure while writing leaves all the previous files as they were.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from enclave.cli import UsageError


def read_text(path: Path, what: str) -> str:
    """The UTF-8 text of ``path``; ``UsageError`` naming ``what`` and the problem otherwise."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{what} {path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{what} {path}: is a directory, expected a file") from None
    except OSError as exc:
        raise UsageError(f"{what} {path}: cannot read it ({exc.strerror})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UsageError(
            f"{what} {path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at line {line}); save it as UTF-8"
        ) from None


def _temp_for(target: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    return Path(name)


def write_files(files: Mapping[Path, str]) -> None:
    """Write every ``path -> text`` atomically, all or nothing while writing.

    Raises ``UsageError`` naming the path that could not be written; nothing
    has been replaced then.
    """
    for target in files:
        if target.is_dir():
            raise UsageError(f"cannot write {target}: it is a directory")
    temps: dict[Path, Path] = {}
    try:
        for target, text in files.items():
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                temp = _temp_for(target)
                temps[target] = temp
                with temp.open("w", encoding="utf-8", newline="\n") as out:
                    out.write(text)
                    out.flush()
                    os.fsync(out.fileno())
                if target.exists():
                    # Keep the mode of the file being replaced (mkstemp creates 0600).
                    os.chmod(temp, target.stat().st_mode & 0o7777)
                else:
                    os.chmod(temp, 0o666 & ~_umask())
            except OSError as exc:
                raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from None
        for target, temp in temps.items():
            os.replace(temp, target)
    finally:
        for temp in temps.values():
            if temp.exists():
                temp.unlink()


def write_file(path: Path, text: str) -> None:
    """Write one file atomically."""
    write_files({path: text})


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def repo_root(start: Path) -> Path:
    """The nearest ancestor of ``start`` holding ``.git`` (a checkout or worktree), else ``start``."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return start


def emit(body: str, output: Path | None, label: str) -> None:
    """A report to ``output`` (atomically, with a one-line status on stderr) or to stdout."""
    import sys

    if output is None:
        sys.stdout.write(body)
        return
    write_file(output, body)
    print(f"{label}: wrote {output}", file=sys.stderr)
