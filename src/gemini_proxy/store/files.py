"""File steps the file-backed stores share: private files, atomic replace, moving aside.

State files hold raw keys (keys added through the admin API), so they are created with
mode 0600 and their folder with 0700. These helpers raise ``OSError``; the store calling
them maps it into the store's exception tree.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

PRIVATE_FILE_MODE = 0o600
PRIVATE_FOLDER_MODE = 0o700


def ensure_private_file(path: Path) -> None:
    """Create ``path`` (and its missing parent folders) empty with mode 0600.

    An existing file is kept, and its mode narrowed to 0600 if it was wider.
    """
    path.parent.mkdir(mode=PRIVATE_FOLDER_MODE, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        if path.is_file() and path.stat().st_mode & 0o777 & ~PRIVATE_FILE_MODE:
            path.chmod(PRIVATE_FILE_MODE)
        return
    os.close(fd)


def fsync_folder(folder: Path) -> None:
    """Make a rename or unlink inside ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_file_prefix(path: Path) -> str:
    """Prefix of the temporary files ``write_atomically`` creates beside ``path``."""
    return f".{path.name}."


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so a reader sees the old or the new file, never half.

    The data goes to a temporary file (mode 0600) in the same folder, is fsynced, renamed
    over ``path``, and the folder is fsynced so the rename survives a power cut.
    """
    path.parent.mkdir(mode=PRIVATE_FOLDER_MODE, parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=temp_file_prefix(path), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as temp_file:
            temp_file.write(data)
            temp_file.flush()
            os.fsync(temp_file.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    fsync_folder(path.parent)


def remove_leftover_temp_files(path: Path) -> None:
    """Delete temporary files a killed ``write_atomically`` left beside ``path``."""
    for leftover in path.parent.glob(f"{temp_file_prefix(path)}*.tmp"):
        with contextlib.suppress(OSError):
            leftover.unlink()


def corrupt_name(path: Path, now: float) -> Path:
    """Where a corrupt ``path`` goes: ``<name>.corrupt-<UTC time>``, numbered if taken."""
    stamp = datetime.fromtimestamp(now, tz=UTC).strftime("%Y%m%dT%H%M%S")
    candidate = path.with_name(f"{path.name}.corrupt-{stamp}")
    number = 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.name}.corrupt-{stamp}-{number}")
    return candidate


def move_aside(path: Path, now: float, *, companion_suffixes: Iterable[str] = ()) -> Path:
    """Rename a corrupt ``path`` out of the way, never deleting it; where it went.

    Companion files (``path`` + suffix, such as SQLite's ``-wal``) move with it and keep
    their suffix, so the moved set can still be opened together.
    """
    target = corrupt_name(path, now)
    os.rename(path, target)
    for suffix in companion_suffixes:
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            os.rename(companion, target.with_name(target.name + suffix))
    fsync_folder(path.parent)
    return target
