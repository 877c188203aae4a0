"""Files written whole or not at all.

Every file bayescale writes (a saved fit, a figure) is first written in full to a temporary file
in the target's folder, flushed and fsynced, then renamed over the target with ``os.replace``
(atomic on POSIX and Windows). A crash, a kill, a full disk or Ctrl-C at any point leaves the
previous file as it was; at worst a hidden ``.<name>.<random>.tmp`` file stays behind after a
``SIGKILL`` (nothing can run then to remove it).

Writing to :data:`os.devnull` discards the output (nothing is written, nothing fails). Once
:data:`INTERRUPTED` is set (the command line's Ctrl-C handler sets it) no file is replaced any
more: the write raises ``KeyboardInterrupt`` instead, even where the interrupt itself was
swallowed (by a callback that ignores exceptions) and the program carried on.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import secrets
import signal
import stat
import threading
from typing import Any

from ._errors import InvalidTypeError, InvalidValueError

__all__ = ["INTERRUPTED", "WRITTEN", "check_target", "write_atomic", "save_figure"]

# Set by the command line's SIGINT handler: from then on, nothing is written.
INTERRUPTED = threading.Event()
# Paths replaced by write_atomic in this process, in order (the command line reports them).
WRITTEN: list[str] = []


def _is_devnull(path: str) -> bool:
    if os.path.abspath(path) == os.path.abspath(os.devnull):
        return True
    try:
        return os.path.samefile(path, os.devnull)
    except OSError:
        return False


def check_target(path: Any, *, what: str = "path") -> str:
    """``path`` as a string, checked to be a file bayescale can write: not None or empty, not a
    folder, in a folder that exists and is writable, not an existing device or pipe (other
    than :data:`os.devnull`, which discards what is written).

    Args:
        path: The target path (``str`` or ``os.PathLike``).
        what: How the message names the path (``"--out"`` on the command line).

    Returns:
        The path, resolved through a symbolic link (the link's target is replaced, not the link).

    Raises:
        TypeError: for ``None`` or a value that is not a path.
        ValueError: for an empty path, a folder, a missing or read-only folder, or a special
            file.
    """
    if path is None:
        raise InvalidTypeError(f"{what} is None: give a file path, e.g. 'fit.nc'")
    try:
        path = os.fspath(path)
    except TypeError:
        raise InvalidTypeError(
            f"{what} must be a file path (str or os.PathLike), got {type(path).__name__}"
        ) from None
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not path or not path.strip():
        raise InvalidValueError(f"{what} is empty: give a file path, e.g. 'fit.nc'")
    if _is_devnull(path):
        return path
    if os.path.islink(path):
        path = os.path.realpath(path)
    if os.path.isdir(path):
        raise InvalidValueError(
            f"{what} {path!r} is a folder; name a file, e.g. {os.path.join(path, 'fit.nc')!r}"
        )
    if os.path.exists(path) and not stat.S_ISREG(os.stat(path).st_mode):
        raise InvalidValueError(
            f"{what} {path!r} exists and is not a regular file (a device or pipe?)"
        )
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InvalidValueError(f"{what} {path!r}: the folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InvalidValueError(f"{what} {path!r}: cannot write in the folder {folder!r}")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise InvalidValueError(f"{what} {path!r}: the file is read-only")
    return path


@contextlib.contextmanager
def _signals_blocked():
    """Hold SIGINT back (on the main thread, where it is delivered) while the target is
    replaced and the replacement recorded: an interrupt then arrives before or after both."""
    block = hasattr(signal, "pthread_sigmask") and threading.current_thread() is (
        threading.main_thread()
    )
    if block:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        if block:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _open_temporary(path: str) -> tuple[int, str]:
    """A new hidden file beside ``path``, created with the permissions a plain ``open`` would
    give (0o666 less the umask), or those of the file it replaces."""
    folder, name = os.path.split(os.path.abspath(path))
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mode = 0o666
    for _ in range(100):
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(
                tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode
            )
        except FileExistsError:
            continue
        return fd, tmp
    raise FileExistsError(errno.EEXIST, f"no free temporary name beside {path!r}")


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(
    path: Any, data: bytes | bytearray | memoryview, *, what: str = "path", report: bool = True
) -> None:
    """Write ``data`` to ``path`` whole or not at all (see the module docstring).

    Args:
        path: The target file (checked by :func:`check_target`).
        data: The file's full contents.
        what: How error messages name the path.
        report: List the path in :data:`WRITTEN`, which the command line reports after an
            interrupt (False for bayescale's own cache files, which the user did not ask for).

    Raises:
        KeyboardInterrupt: when :data:`INTERRUPTED` is set: nothing is replaced.
        OSError: when the temporary file cannot be written (a full disk, a file-size limit);
            the message says the previous file is unchanged.
    """
    target = check_target(path, what=what)
    if _is_devnull(target):
        return
    if INTERRUPTED.is_set():
        raise KeyboardInterrupt
    fd, tmp = _open_temporary(target)
    try:
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as err:
            raise OSError(
                err.errno,
                f"{target}: not written ({err.strerror or err}); the previous file, if any, "
                "is unchanged",
            ) from err
        with _signals_blocked():
            if INTERRUPTED.is_set():
                raise KeyboardInterrupt
            os.replace(tmp, target)
            if report:
                WRITTEN.append(target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(os.path.dirname(os.path.abspath(target)))


def save_figure(fig: Any, path: Any, **kwargs: Any) -> None:
    """``fig.savefig(path, **kwargs)`` through :func:`write_atomic`.

    The format comes from ``format=`` or the path's extension (``.png``, ``.svg``, ``.pdf``...).
    """
    target = check_target(path)
    fmt = kwargs.pop("format", None)
    if fmt is None:
        fmt = os.path.splitext(target)[1].lstrip(".").lower() or None
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, **kwargs)
    with buffer.getbuffer() as contents:  # released also when the write fails
        write_atomic(target, contents)
