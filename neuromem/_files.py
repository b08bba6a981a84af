"""Durable file writes shared by every atomic writer (result files, sweeps, the corpus cache,
energy reports): flush a file or a folder's entries to disk, and recognise a full disk."""

from __future__ import annotations

import contextlib
import errno
import os
import uuid
from pathlib import Path

__all__ = ["fsync_file", "fsync_folder", "disk_full", "atomic_write", "check_output_file"]


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


@contextlib.contextmanager
def atomic_write(path, *, tmp_suffix: str | None = None):
    """Write a file atomically: yields a temporary path beside `path` to write to; on success
    it is fsynced and ``os.replace``\\ d onto `path` (folder fsynced); on any error or Ctrl-C
    it is removed and an earlier file at `path` is unchanged.

    The temporary file is ``.NAME.<pid>-<random>.tmp`` (no two writers share one), or
    ``NAME + tmp_suffix`` where a fixed, documented name is part of a format (result files
    and sweep folders name theirs ``NAME.tmp``; resume removes stray ones).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_write(out) as tmp:
    ...     _ = tmp.write_text("hello")
    >>> out.read_text()
    'hello'
    """
    path = Path(path)
    tmp = path.with_name(path.name + tmp_suffix if tmp_suffix else
                         f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
        fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_folder(path.parent)


def check_output_file(path, key: str = "-o") -> Path:
    """Check, before any work, that a result file can be written at `path`.

    Raises
    ------
    ConfigError
        If `path` is a folder, its folder does not exist, or no file can be created there
        (read-only file system or no permission); the message names `path` and `key`.
    """
    from neuromem.exceptions import ConfigError

    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path} is a folder; expected a file name such as "
                          f"{path / 'result.h5'}", key=key)
    if not path.parent.is_dir():
        raise ConfigError(f"output folder does not exist: {path.parent}", key=key)
    probe = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.probe")
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"cannot write in {path.parent}: {exc.strerror or exc}",
                          key=key) from None
    return path
