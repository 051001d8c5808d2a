"""Many processes, one search: trials claimed and recorded in an SQLite database.

``storage="sqlite:///study.db"`` lets several independent processes - terminal
windows, the tasks of a batch scheduler's array job - run one search together.
Each process runs the same call; the database (SQLite, from Python's standard
library) holds the search's header and one row per trial:

* a process *claims* the first trial that no one has, in one ``BEGIN IMMEDIATE``
  transaction, so two processes never claim the same trial;
* while it trains, a background thread refreshes the claim's heartbeat;
* a claim whose process is gone - on the same machine its process id no longer
  runs, elsewhere its heartbeat is older than ``STALE_SECONDS`` (60 s) - is claimed
  again by the next process that looks, so a killed process's trial is retried;
* a finished trial's record (the same JSON as a log line) is written in the
  transaction that marks it done.

When no trial is left to claim, a process waits for the trials the others are
running, then returns the whole search's result, the same as a single process
would have found (every trial's values and seed are fixed up front and training
is deterministic).
"""
import json
import os
import socket
import sqlite3
import threading
import time
import uuid

from hpframe.search.log import _differences, check_record, encode, normalise, FORMAT_VERSION

__all__ = ["SQLiteStorage", "open_storage", "STALE_SECONDS"]

STALE_SECONDS = 60.0       # a claim not refreshed for this long is another host's dead one
HEARTBEAT_SECONDS = 5.0
POLL_SECONDS = 0.2


def open_storage(url, header):
    """The storage for ``url`` (``"sqlite:///path"``), checked against ``header``."""
    if not isinstance(url, str):
        raise TypeError(f"storage must be a URL string such as 'sqlite:///study.db'; got "
                        f"{type(url).__name__}")
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if not path or path == ":memory:":
            raise ValueError(f"storage={url!r}: give a file, e.g. 'sqlite:///study.db' (an "
                             "in-memory database cannot be shared between processes)")
        return SQLiteStorage(path, header)
    raise ValueError(f"storage={url!r}: only SQLite URLs ('sqlite:///relative/path.db' or "
                     "'sqlite:////absolute/path.db') are supported")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SQLiteStorage:
    """One search's trials in an SQLite file shared by many processes.

    Parameters
    ----------
    path : str
        The database file (created with its folder when missing).
    header : dict
        The search's description; a database of another search is refused.
    """

    def __init__(self, path, header):
        self.path = os.path.abspath(path)
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.header = normalise({"hpframe_search": FORMAT_VERSION, **header})
        self.owner = uuid.uuid4().hex
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self._db = self._connect()
        self._mine = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beat = None
        self._setup()

    def _connect(self):
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None,
                             check_same_thread=False)
        db.execute("PRAGMA busy_timeout = 60000")
        return db

    def _setup(self):
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"{self.path} is not an SQLite database ({exc}); pass another "
                             "storage path") from None
        try:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE "
                                               "type = 'table'")}
            if not tables:
                db.execute("CREATE TABLE hpframe_search (id INTEGER PRIMARY KEY CHECK "
                           "(id = 1), header TEXT NOT NULL)")
                db.execute("CREATE TABLE hpframe_trials (number INTEGER NOT NULL, rung "
                           "INTEGER NOT NULL, state TEXT NOT NULL, owner TEXT, host TEXT, "
                           "pid INTEGER, heartbeat REAL, record TEXT, PRIMARY KEY (number, "
                           "rung))")
                db.execute("INSERT INTO hpframe_search VALUES (1, ?)",
                           (json.dumps(self.header, sort_keys=True),))
            elif "hpframe_search" not in tables or "hpframe_trials" not in tables:
                raise ValueError(f"{self.path} is an SQLite database of something else (its "
                                 f"tables: {', '.join(sorted(tables))}); it was left "
                                 "untouched: pass another storage path")
            else:
                row = db.execute("SELECT header FROM hpframe_search WHERE id = 1").fetchone()
                logged = json.loads(row[0]) if row else {}
                if logged != self.header:
                    diff = "; ".join(_differences(logged, self.header))
                    raise ValueError(f"{self.path} holds a different search ({diff}); pass "
                                     "another storage path, or delete the file to start over")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            db.close()
            raise

    # -- claims ----------------------------------------------------------------
    def claim(self, keys):
        """Claim the first ``(number, rung)`` of ``keys`` that nobody holds; None if none."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                rows = {(r[0], r[1]): r[2:] for r in db.execute(
                    "SELECT number, rung, state, host, pid, heartbeat FROM hpframe_trials")}
                now = time.time()
                chosen = None
                for key in keys:
                    row = rows.get(tuple(key))
                    if row is None or (row[0] == "running" and self._dead(row, now)):
                        chosen = tuple(key)
                        break
                if chosen is not None:
                    db.execute("INSERT OR REPLACE INTO hpframe_trials VALUES "
                               "(?, ?, 'running', ?, ?, ?, ?, NULL)",
                               (*chosen, self.owner, self.host, self.pid, now))
                    self._mine.add(chosen)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        self._start_heartbeat()
        return chosen

    def _dead(self, row, now):
        _, host, pid, heartbeat = row
        if host == self.host and pid is not None:
            return not _alive(pid)
        return heartbeat is None or now - heartbeat > STALE_SECONDS

    def running_elsewhere(self, keys):
        """The ``(number, rung)`` of ``keys`` that live processes are running now."""
        with self._lock:
            rows = self._db.execute("SELECT number, rung, state, host, pid, heartbeat FROM "
                                    "hpframe_trials").fetchall()
        now = time.time()
        wanted = {tuple(k) for k in keys}
        return [(r[0], r[1]) for r in rows if (r[0], r[1]) in wanted and r[2] == "running"
                and (r[0], r[1]) not in self._mine and not self._dead(r[2:], now)]

    def finish(self, record):
        """Record a finished trial (at its rung) in the transaction that marks it done."""
        text = json.dumps(encode(record), allow_nan=False)
        key = (record["number"], record.get("rung", 0))
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO hpframe_trials VALUES "
                             "(?, ?, 'done', ?, ?, ?, ?, ?)",
                             (*key, self.owner, self.host, self.pid, time.time(), text))
            self._mine.discard(key)

    def records(self):
        """``(number, rung, record)`` of every finished trial, by rung and number."""
        with self._lock:
            rows = self._db.execute("SELECT number, rung, record FROM hpframe_trials WHERE "
                                    "state = 'done' ORDER BY rung, number").fetchall()
        out = []
        for number, rung, text in rows:
            try:
                record = json.loads(text)
            except (TypeError, json.JSONDecodeError) as exc:
                raise ValueError(f"{self.path}, trial {number} rung {rung}: not valid JSON "
                                 f"({exc})") from None
            problem = check_record(record)
            if problem:
                raise ValueError(f"{self.path}, trial {number} rung {rung}: not a valid trial "
                                 f"record ({problem})")
            out.append((number, rung, record))
        return out

    # -- heartbeat ---------------------------------------------------------------
    def _start_heartbeat(self):
        if self._beat is None:
            self._beat = threading.Thread(target=self._heartbeat, daemon=True,
                                          name="hpframe-storage-heartbeat")
            self._beat.start()

    def _heartbeat(self):
        db = self._connect()
        try:
            while not self._stop.wait(HEARTBEAT_SECONDS):
                db.execute("UPDATE hpframe_trials SET heartbeat = ? WHERE owner = ? AND "
                           "state = 'running'", (time.time(), self.owner))
        finally:
            db.close()

    def close(self):
        """Release the claims left (an interrupted run) and close the database."""
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
            self._beat = None
        with self._lock:
            for number, rung in list(self._mine):
                self._db.execute("DELETE FROM hpframe_trials WHERE number = ? AND rung = ? "
                                 "AND owner = ? AND state = 'running'",
                                 (number, rung, self.owner))
            self._mine.clear()
            self._db.close()
