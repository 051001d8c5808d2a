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
import numbers
import os
import tempfile
import warnings

from hpframe._atomic import fsync_folder

__all__ = ["SearchLog", "FORMAT_VERSION", "check_record"]

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


def _create_exclusive(path, data):
    """Create ``path`` holding ``data`` whole, or leave an existing file alone.

    The bytes go to a temporary file in the same folder, fsynced, then linked to
    ``path`` (a link never replaces a file: if another process created ``path``
    first, its file stays and this one is dropped), and the folder is fsynced.
    """
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return
        except OSError:             # a file system without hard links
            if os.path.exists(path):
                return
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    fsync_folder(folder)


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_record(record):
    """What is impossible in a trial record read from a log, or None when it is valid.

    A record is a dict with a ``number`` (int >= 0), a ``status`` (``ok``,
    ``diverged`` or ``failed``) and a ``value``: a finite number when ``ok``, else
    null (or ``"nan"``). ``rung``, ``epochs`` and ``peak_memory`` are counts when
    present, ``train_time`` a number >= 0.
    """
    from hpframe.search.trial import STATUSES
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__}, not an object"
    if not _is_count(record.get("number")):
        return f"'number' must be an integer >= 0, got {record.get('number')!r}"
    status = record.get("status")
    if status not in STATUSES:
        return f"'status' must be one of {', '.join(STATUSES)}, got {status!r}"
    try:
        value = decode_number(record.get("value"))
    except ValueError as exc:
        return f"'value': {exc}"
    if status == "ok" and not (_is_number(value) and math.isfinite(value)):
        return f"status 'ok' needs a finite number as 'value', got {record.get('value')!r}"
    if status != "ok" and value is not None and not _is_number(value):
        return f"'value' must be a number or null, got {record.get('value')!r}"
    values = record.get("values")
    if values is not None:
        if not isinstance(values, list) or not values:
            return f"'values' must be a list of numbers or null, got {values!r}"
        try:
            values = [decode_number(v) for v in values]
        except ValueError as exc:
            return f"'values': {exc}"
        if status == "ok" and not all(_is_number(v) and math.isfinite(v) for v in values):
            return f"status 'ok' needs finite numbers in 'values', got {record['values']!r}"
    for key in ("rung", "epochs"):
        if key in record and not _is_count(record[key]):
            return f"{key!r} must be an integer >= 0, got {record[key]!r}"
    if record.get("peak_memory") is not None and not _is_count(record["peak_memory"]):
        return f"'peak_memory' must be a byte count or null, got {record['peak_memory']!r}"
    if "train_time" in record:
        try:
            seconds = decode_number(record["train_time"])
        except ValueError as exc:
            return f"'train_time': {exc}"
        if not (_is_number(seconds) and seconds >= 0):
            return f"'train_time' must be a number of seconds >= 0, got {seconds!r}"
    return None


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

        The file is locked before anything is read, and nothing in it changes until
        its first line has been found to be this search's header and every complete
        line a valid trial record: a file that is not this search's log (a model, a
        CSV, another search's log, a damaged log) is refused untouched. Only then is
        a torn last line (the search stopped while writing it) cut off.

        Returns
        -------
        list of (int, dict)
            ``(line number, record)`` of every finished trial in the file.

        Raises
        ------
        ValueError
            The file is not a search log, is corrupt, or belongs to another search;
            the message names the file (and the line).
        RuntimeError
            Another running search holds the log.
        """
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        header_line = (json.dumps(encode(self.header), allow_nan=False) + "\n").encode()
        if not os.path.exists(self.path):
            _create_exclusive(self.path, header_line)
        self._file = open(self.path, "r+b")      # neither created nor truncated here
        try:
            self._lock()
            self._file.seek(0)
            raw = self._file.read()
            records, keep, torn = self._check(raw)
            if not raw:                          # an empty file holds nothing to damage
                self._file.write(header_line)
            elif torn:
                # The search stopped while writing the last line: that trial never
                # finished writing, so it is not a finished trial. Cut it off.
                warnings.warn(f"{self.path}: the last line was incomplete (the search stopped "
                              f"while writing it) and was dropped; that trial will run again",
                              RuntimeWarning, stacklevel=3)
                self._file.truncate(keep)
            self._file.seek(0, os.SEEK_END)
            self._file.flush()
            os.fsync(self._file.fileno())
        except BaseException:
            self.close()
            raise
        return records

    def _check(self, raw):
        """(records, bytes to keep, torn) of the file's bytes; raises on a foreign file."""
        if not raw:
            return [], 0, False
        end = raw.find(b"\n")
        first = raw if end < 0 else raw[:end]
        try:
            logged = json.loads(first.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            logged = None
        if not isinstance(logged, dict) or "hpframe_search" not in logged:
            raise ValueError(f"{self.path} is not an hpframe search log (its first line is "
                             "not a search header); it was left untouched: pass another log "
                             "path")
        if logged.get("hpframe_search") != FORMAT_VERSION:
            raise ValueError(f"{self.path} was written by another version of the search "
                             f"log format ({logged.get('hpframe_search')!r}; this hpframe "
                             f"writes {FORMAT_VERSION}); pass another log path")
        if logged != self.header:
            diff = "; ".join(_differences(logged, self.header))
            raise ValueError(f"{self.path} holds the trials of a different search ({diff}). "
                             "A log is never mixed with another search: pass a new log "
                             "path, or delete the file to start over")
        if end < 0:
            raise ValueError(f"{self.path}, line 1: the header line has no end (the file was "
                             "cut); delete the file to start over")
        keep = raw.rfind(b"\n") + 1
        torn = keep < len(raw)
        records = []
        for number, line in enumerate(raw[end + 1:keep].split(b"\n")[:-1], start=2):
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ValueError(f"{self.path}, line {number}: bytes that are not UTF-8 "
                                 f"({exc.reason} at byte {exc.start}); the log is "
                                 "corrupt") from None
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{self.path}, line {number}: not valid JSON ({exc}); "
                                 "the log is corrupt") from None
            problem = check_record(record)
            if problem:
                raise ValueError(f"{self.path}, line {number}: not a valid trial record "
                                 f"({problem}); the log is corrupt")
            records.append((number, record))
        return records, keep, torn

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

    def _write(self, obj):
        self._file.write((json.dumps(encode(obj), allow_nan=False) + "\n").encode())
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
