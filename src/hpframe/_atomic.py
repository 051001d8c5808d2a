"""Atomic file writes: a crash, a kill or a full disk never leaves a half-written file.

Everything hpframe writes to a path (models, checkpoints, CSV exports, plots) goes
through :func:`atomic_open`: the bytes go to a temporary file in the target's own
folder, which is flushed and fsynced, then renamed over the target (``os.replace`` is
atomic on POSIX and Windows), and finally the folder itself is fsynced so that the
rename survives a power cut. A reader sees either the old file or the new one, never
a mixture; if anything fails before the rename, the temporary file is removed and the
old file is left exactly as it was.
"""
import contextlib
import os
import tempfile

__all__ = ["atomic_open", "atomic_write_bytes", "fsync_folder"]


def fsync_folder(folder):
    """Make a rename or a new file in ``folder`` durable (no-op where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:                     # Windows cannot open a folder: nothing to sync
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path, mode="wb", **kwargs):
    """Open a temporary file that replaces ``path`` when the ``with`` block succeeds.

    Parameters
    ----------
    path : str or path-like
        The file to (re)write. Its folder must exist.
    mode : {"wb", "w"}
        Binary or text; ``**kwargs`` (``encoding``, ``newline``) go to :func:`open`.

    Yields
    ------
    file object
        Write to it as to ``open(path, mode)``. On leaving the block without an
        exception it is flushed, fsynced and renamed over ``path``; on an exception
        it is deleted and ``path`` is untouched.

    Examples
    --------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with atomic_open(os.path.join(folder, "a.txt"), "w") as f:
    ...     _ = f.write("hello")
    >>> open(os.path.join(folder, "a.txt")).read()
    'hello'
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w', got {mode!r}")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        try:                            # keep the old file's permissions, else the umask's
            os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_folder(folder)


def atomic_write_bytes(path, data):
    """Write ``data`` (bytes) to ``path`` atomically; see :func:`atomic_open`."""
    with atomic_open(path, "wb") as f:
        f.write(data)
