"""Atomic file writes: a crash or an exception leaves either the old file or the new one, never half of one.

Both helpers write next to the destination (same filesystem, so ``os.replace`` is atomic) and remove the
temporary file if writing fails.
"""

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import IO


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[str]:
    """Yield a fresh temporary path beside ``path`` (not yet created; ending in ``suffix`` for writers that
    check extensions); on success move it onto ``path``."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".kerasformers-", suffix=suffix)
    os.close(handle)
    os.remove(temporary)  # some writers (Keras) refuse to overwrite an existing file
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str = "utf-8") -> Iterator[IO]:
    """``with atomic_write(path) as handle: handle.write(...)`` — an ``open`` that commits on success."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write: mode must be 'w' or 'wb', got {mode!r}")
    with atomic_path(path) as temporary:
        with open(temporary, mode, encoding=None if "b" in mode else encoding) as handle:
            yield handle


@contextlib.contextmanager
def staging_directory(destination: str | os.PathLike) -> Iterator[str]:
    """Yield an empty folder beside ``destination``; on success it replaces ``destination`` (an existing
    one is moved aside first and deleted only after the swap), on failure it is deleted."""
    destination = os.path.abspath(os.fspath(destination))
    parent = os.path.dirname(destination)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(destination)}-new-")
    os.chmod(staging, 0o755)  # mkdtemp makes a private folder; a model folder is shared
    try:
        yield staging
        retired = None
        if os.path.lexists(destination):
            retired = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(destination)}-old-")
            os.replace(destination, os.path.join(retired, "previous"))
        os.replace(staging, destination)
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging, ignore_errors=True)
