"""Durable file writes shared by every atomic writer (result files, sweeps, the corpus cache,
energy reports): flush a file or a folder's entries to disk, and recognise a full disk."""

from __future__ import annotations

import contextlib
import errno
import os

__all__ = ["fsync_file", "fsync_folder", "disk_full"]


def fsync_file(path) -> None:
    """Flush a written (closed) file's data to disk."""
    fd = os.open(path, os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_folder(folder) -> None:
    """Flush a folder's entries (a rename into it) to disk; skipped quietly where folders
    cannot be opened or synced (not POSIX, some network file systems)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def disk_full(exc: BaseException | None) -> bool:
    """Whether `exc` or an error it came from is ENOSPC (h5py puts errno in the text)."""
    for _ in range(8):                          # the exception and the ones it came from
        if exc is None:
            return False
        text = str(exc)
        if (getattr(exc, "errno", None) == errno.ENOSPC or f"errno = {errno.ENOSPC}," in text
                or os.strerror(errno.ENOSPC) in text):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
