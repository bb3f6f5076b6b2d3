"""The files users name: read only if regular and bounded, written by rename.

A FIFO or a device given as a manifest or a saved plan would hang the
command or feed it without end, so anything but a regular file is refused
from ``os.stat``, before it is opened. The size is checked before reading and
the read stops at the limit, so a sparse 1 GiB file or a file that grows
costs nothing. Writes go to a temporary file in the same folder and are
renamed over the target: a reader never sees half a file, and a symlink
planted at the target is replaced, not followed.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from registry.errors import RegistryError, UnreadableFile

_READ_CHUNK = 1 << 20
_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _refuse_unless_regular(path: str | Path, mode: int) -> None:
    kind = next((kind for test, kind in _KINDS if test(mode)), None)
    if kind is not None:
        raise UnreadableFile(path, f"it is {kind}, not a regular file: refused")


def _size_text(size: int) -> str:
    return f"{size // 2**20} MiB" if size % 2**20 == 0 else f"{size} bytes"


def read_bounded(path: str | Path, limit: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    Raises ``UnreadableFile`` for anything else: missing, not a regular file,
    over the limit (judged from the size before reading, and again while
    reading, which never takes more than ``limit + 1`` bytes).
    """

    def too_big(size: str) -> UnreadableFile:
        return UnreadableFile(path, f"it is {size}, over the {_size_text(limit)} limit")

    try:
        _refuse_unless_regular(path, os.stat(path).st_mode)
        # O_NONBLOCK: should a FIFO be swapped in after the stat, open does not wait for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as error:
        raise UnreadableFile(path, error.strerror or str(error)) from None
    try:
        info = os.fstat(fd)
        _refuse_unless_regular(path, info.st_mode)
        if info.st_size > limit:
            raise too_big(f"{info.st_size} bytes")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(_READ_CHUNK, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:  # it grew since the stat
            raise too_big(f"more than {limit} bytes")
        return b"".join(chunks)
    except OSError as error:
        raise UnreadableFile(path, error.strerror or str(error)) from None
    finally:
        os.close(fd)


def outside_folder(folder: Path, member: Path) -> bool:
    """Whether ``member`` of ``folder`` is a symbolic link that leads out of it."""
    if not member.is_symlink():
        return False
    try:
        return not member.resolve(strict=True).is_relative_to(folder.resolve(strict=True))
    except (OSError, RuntimeError):  # a dangling or looping link leads nowhere inside
        return True


def write_text(path: str | Path, text: str, what: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename.

    ``what`` names the file in the error ("saved plan", "JUnit report").
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
    try:
        # O_EXCL | O_NOFOLLOW: the temporary name is ours alone, even if someone guessed it.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(temporary, flags, 0o666)  # the umask applies, as for any new file
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)  # replaces a symlink at ``path``; never follows it
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise
    except OSError as error:
        reason = error.strerror or str(error)
        raise RegistryError(f"cannot write the {what} to {path}: {reason}") from None
