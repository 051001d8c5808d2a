"""The search log: JSON lines that never lose a finished trial.

Line 1 is a header describing the search (strategy, space, base
hyperparameters, seed, metric, a fingerprint of the data); every other line
is one finished trial (for successive halving: one trial at one rung),
appended the moment it finishes, then flushed and synced to disk. Re-running
the same search with the same log reads the finished trials back and runs
only the missing ones; a log whose header describes a different search is
refused, never mixed.

Non-finite numbers (the NaN loss of a diverged trial) are written as the
strings ``"nan"``, ``"inf"`` and ``"-inf"``, so every line is standard JSON.
"""
import json
import math
import os
import warnings

__all__ = ["SearchLog", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def encode(obj):
    """JSON-safe copy: non-finite floats as strings, tuples as lists."""
    if isinstance(obj, float):
        if math.isfinite(obj):
            return obj
        return "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, dict):
        return {str(k): encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [encode(v) for v in obj]
    return obj


def decode_number(value):
    """Inverse of :func:`encode` for a field known to hold a number (or None)."""
    if isinstance(value, str):
        if value not in _NON_FINITE:
            raise ValueError(f"expected a number or 'nan'/'inf'/'-inf', got {value!r}")
        return _NON_FINITE[value]
    return value


def normalise(obj):
    """What ``obj`` looks like after a JSON round trip (tuples -> lists, ...)."""
    return json.loads(json.dumps(encode(obj), sort_keys=True, default=repr))


def _short(value, limit=160):
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _differences(logged, current):
    parts = []
    for key in sorted(set(logged) | set(current)):
        a, b = logged.get(key), current.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict) and key == "base":
            fields = [f"{f}={_short(a.get(f))} (now {_short(b.get(f))})"
                      for f in sorted(set(a) | set(b)) if a.get(f) != b.get(f)]
            parts.append("base: " + ", ".join(fields))
        else:
            parts.append(f"{key}: log {_short(a)}, now {_short(b)}")
    return parts


class SearchLog:
    """An append-only JSON-lines file of finished trials, with a header line.

    Parameters
    ----------
    path : str or path-like
        The file; created (with its folder) when missing.
    header : dict
        JSON-safe description of the search; a log with another header is refused.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "search.jsonl")
    >>> log = SearchLog(path, {"strategy": "random_search", "seed": 0})
    >>> log.open()                    # the finished trials already in the file
    []
    >>> log.append({"number": 0, "status": "ok", "value": 0.31})
    >>> log.close()
    >>> again = SearchLog(path, {"strategy": "random_search", "seed": 0})
    >>> again.open()                  # (line number, record)
    [(2, {'number': 0, 'status': 'ok', 'value': 0.31})]
    >>> again.close()
    """

    def __init__(self, path, header):
        self.path = os.fspath(path)
        self.header = normalise({"hpframe_search": FORMAT_VERSION, **header})
        self._file = None

    def open(self):
        """Check the file against the header and return the records already in it.

        Returns
        -------
        list of (int, dict)
            ``(line number, record)`` of every finished trial in the file.

        Raises
        ------
        ValueError
            The file is not a search log, is corrupt, or belongs to another search.
        """
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        records = []
        raw = b""
        if os.path.exists(self.path):
            with open(self.path, "rb") as f:
                raw = f.read()
        if raw and not raw.endswith(b"\n"):
            # The search stopped while writing the last line: that trial never
            # finished writing, so it is not a finished trial. Cut it off.
            keep = raw.rfind(b"\n") + 1
            warnings.warn(f"{self.path}: the last line was incomplete (the search stopped "
                          f"while writing it) and was dropped; that trial will run again",
                          RuntimeWarning, stacklevel=3)
            with open(self.path, "r+b") as f:
                f.truncate(keep)
            raw = raw[:keep]
        lines = raw.decode("utf-8").splitlines()
        if lines:
            try:
                logged = json.loads(lines[0])
            except json.JSONDecodeError:
                logged = None
            if not isinstance(logged, dict) or "hpframe_search" not in logged:
                raise ValueError(f"{self.path} is not an hpframe search log (its first line is "
                                 "not a search header); pass another log path")
            if logged.get("hpframe_search") != FORMAT_VERSION:
                raise ValueError(f"{self.path} was written by another version of the search "
                                 f"log format ({logged.get('hpframe_search')!r}; this hpframe "
                                 f"writes {FORMAT_VERSION}); pass another log path")
            if logged != self.header:
                diff = "; ".join(_differences(logged, self.header))
                raise ValueError(f"{self.path} holds the trials of a different search ({diff}). "
                                 "A log is never mixed with another search: pass a new log "
                                 "path, or delete the file to start over")
            for number, line in enumerate(lines[1:], start=2):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{self.path}, line {number}: not valid JSON ({exc}); "
                                     "the log is corrupt") from None
                if not isinstance(record, dict) or "number" not in record:
                    raise ValueError(f"{self.path}, line {number}: not a trial record")
                records.append((number, record))
        self._file = open(self.path, "a", encoding="utf-8")
        self._lock()
        if not lines:
            self._write(self.header)
            self._sync_folder(folder)
        return records

    def _lock(self):
        try:
            import fcntl
        except ImportError:             # Windows: no advisory locks, no check
            return
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._file.close()
            self._file = None
            raise RuntimeError(f"{self.path} is in use by another running search; two "
                               "searches cannot share a log") from None

    @staticmethod
    def _sync_folder(folder):
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

    def _write(self, obj):
        self._file.write(json.dumps(encode(obj), allow_nan=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def append(self, record):
        """Append one finished trial: written, flushed and synced before returning.

        Parameters
        ----------
        record : dict
        """
        if self._file is None:
            raise RuntimeError("SearchLog.append before open()")
        self._write(record)

    def close(self):
        """Close the file (and release its lock)."""
        if self._file is not None:
            self._file.close()
            self._file = None
