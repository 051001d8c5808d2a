"""Many processes, one search: trials claimed and recorded in a database.

``storage="sqlite:///study.db"`` lets several independent processes - terminal
windows, the tasks of a batch scheduler's array job - run one search together.
Each process runs the same call; the database holds the search's header and one
row per trial (one per trial and rung for halving):

* a process *claims* a trial that no one has, in one transaction, so two
  processes never claim the same trial;
* while it trains, a background thread refreshes the claim's heartbeat;
* a claim whose process is gone - on the same machine its process id no longer
  runs, elsewhere its heartbeat is older than ``STALE_SECONDS`` (60 s) - is claimed
  again by the next process that looks, so a killed process's trial is retried;
* a finished trial's record (the same JSON as a log line) is written in the
  transaction that marks it done.

When no trial is left to claim, a process waits for the trials the others are
running, then returns the whole search's result.

Two backends talk to the database; the rules above (``Storage``) are the
same for both:

* ``sqlite:///path`` - Python's own ``sqlite3`` on a file. Each transaction
  starts with ``BEGIN IMMEDIATE``, which locks the file for writing, so what a
  process reads and what it then claims are one step.
* any other URL - SQLAlchemy (``pip install sqlalchemy``, plus the database's
  driver), e.g. ``postgresql://user@host/db``, ``mysql+pymysql://...``, or
  ``sqlite+pysqlite:///path``. No lock is taken: a claim is an ``INSERT`` (the
  primary key refuses a second one) or an ``UPDATE`` of a dead claim on the
  condition that its owner and heartbeat are still those read, and a claim that
  another process took in between (a refused ``INSERT``, an ``UPDATE`` of no row)
  makes the process read again and choose again. That works on every database.

A SQLite file holds one search and nothing else; a database server's database may
hold other tables too, and holds one search (its tables ``hpframe_search`` and
``hpframe_trials``): give each search its own database.
"""
import contextlib
import json
import os
import socket
import sqlite3
import threading
import time
import uuid

from hpframe.search.log import _differences, check_record, encode, normalise, FORMAT_VERSION

__all__ = ["Storage", "SQLiteStorage", "open_storage", "STALE_SECONDS"]

STALE_SECONDS = 60.0       # a claim not refreshed for this long is another host's dead one
HEARTBEAT_SECONDS = 5.0
POLL_SECONDS = 0.2
_ATTEMPTS = 1000           # transactions retried after a conflict before giving up
_REFUSALS = 20             # ... after the database refused them (deadlocks, lock timeouts)

_TABLES = ("hpframe_search", "hpframe_trials")
_COLUMNS = "number, rung, state, owner, host, pid, heartbeat"


class Conflict(Exception):
    """Another process changed what this transaction read: read again, choose again.

    ``error``: the database's own error when it refused the transaction (a deadlock,
    a lock timeout); retried a few times, then raised.
    """

    def __init__(self, what, error=None):
        super().__init__(what)
        self.error = error


def open_storage(url, header):
    """The storage for ``url``, checked against ``header``.

    ``"sqlite:///path"`` uses Python's ``sqlite3``; any other URL goes through
    SQLAlchemy, which must be installed.
    """
    if not isinstance(url, str):
        raise TypeError(f"storage must be a URL string such as 'sqlite:///study.db'; got "
                        f"{type(url).__name__}")
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if not path or path == ":memory:":
            raise ValueError(f"storage={url!r}: give a file, e.g. 'sqlite:///study.db' (an "
                             "in-memory database cannot be shared between processes)")
        return Storage(SQLiteFile(path), header)
    if "://" not in url:
        raise ValueError(f"storage={url!r} is not a database URL; give 'sqlite:///study.db' "
                         "or an SQLAlchemy URL such as 'postgresql://user@host/dbname'")
    try:
        import sqlalchemy  # noqa: F401
    except ImportError:
        raise ImportError(f"storage={url!r}: URLs other than 'sqlite:///...' go through "
                          "SQLAlchemy, which is not installed: pip install sqlalchemy (and "
                          "the database's driver)") \
            from None
    return Storage(SQLAlchemyDatabase(url), header)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --------------------------------------------------------------------------
# Backends: how to reach the database (the rules are Storage's)
# --------------------------------------------------------------------------
class _Transaction:
    """One open transaction: ``run(sql, **params)`` -> a cursor (``fetchall``,
    ``rowcount``); a duplicate primary key raises :class:`Conflict`."""

    def __init__(self, execute, duplicate, handle=None):
        self._execute, self._duplicate, self.handle = execute, duplicate, handle

    def run(self, sql, **params):
        try:
            return self._execute(sql, params)
        except self._duplicate:
            raise Conflict(sql) from None


class SQLiteFile:
    """An SQLite file through Python's ``sqlite3``, ``BEGIN IMMEDIATE`` transactions.

    Parameters
    ----------
    path : str
        The database file (created with its folder when missing).
    """

    exclusive = True            # the file is the search's own: anything else is refused

    def __init__(self, path):
        self.path = os.path.abspath(path)
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.where = self.path
        self._local = threading.local()          # one connection per thread
        self._connections = []

    def _connection(self):
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=60, isolation_level=None,
                                 check_same_thread=False)
            db.execute("PRAGMA busy_timeout = 60000")
            self._local.db = db
            self._connections.append(db)
        return db

    @contextlib.contextmanager
    def transaction(self):
        db = self._connection()
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            raise
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"{self.path} is not an SQLite database ({exc}); pass another "
                             "storage path") from None
        try:
            yield _Transaction(db.execute, sqlite3.IntegrityError)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def tables(self, tx):
        return {r[0] for r in tx.run("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def create(self, tx):
        tx.run("CREATE TABLE IF NOT EXISTS hpframe_search (id INTEGER PRIMARY KEY CHECK (id = 1), header "
               "TEXT NOT NULL)")
        tx.run("CREATE TABLE IF NOT EXISTS hpframe_trials (number INTEGER NOT NULL, rung INTEGER NOT NULL, "
               "state TEXT NOT NULL, owner TEXT, host TEXT, pid INTEGER, heartbeat REAL, "
               "record TEXT, PRIMARY KEY (number, rung))")

    def close(self):
        for db in self._connections:
            db.close()
        self._connections = []
        self._local = threading.local()


class SQLAlchemyDatabase:
    """Any database SQLAlchemy reaches (Core only; every statement in a transaction).

    Parameters
    ----------
    url : str
        An SQLAlchemy URL, e.g. ``"postgresql://user@host/dbname"`` or
        ``"sqlite+pysqlite:///study.db"``.
    """

    def __init__(self, url):
        import sqlalchemy as sa
        self._sa = sa
        try:
            parsed = sa.engine.make_url(url)
        except sa.exc.ArgumentError as exc:
            raise ValueError(f"storage={url!r} is not a database URL ({exc})") from None
        self.where = parsed.render_as_string(hide_password=True)
        backend = parsed.get_backend_name()
        # An SQLite file is the search's own, as with sqlite:///; a server's database
        # may hold other tables.
        self.exclusive = backend == "sqlite"
        options = {}
        if backend == "sqlite":
            name = parsed.database
            if not name or name == ":memory:" or parsed.query.get("mode") == "memory":
                raise ValueError(f"storage={url!r}: give a file (an in-memory database "
                                 "cannot be shared between processes)")
            os.makedirs(os.path.dirname(os.path.abspath(name)), exist_ok=True)
            options["connect_args"] = {"timeout": 60}
        try:
            self.engine = sa.create_engine(parsed, **options)
        except (sa.exc.NoSuchModuleError, ImportError) as exc:
            raise ImportError(f"storage={self.where!r}: SQLAlchemy cannot load the driver of "
                              f"{parsed.drivername!r} ({exc}); install that driver, or name "
                              "an installed one in the URL, e.g. 'postgresql+psycopg2://...'"
                              ) from None
        meta = sa.MetaData()
        sa.Table("hpframe_search", meta,
                 sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                 sa.Column("header", sa.Text, nullable=False))
        sa.Table("hpframe_trials", meta,
                 sa.Column("number", sa.Integer, primary_key=True, autoincrement=False),
                 sa.Column("rung", sa.Integer, primary_key=True, autoincrement=False),
                 sa.Column("state", sa.String(16), nullable=False),
                 sa.Column("owner", sa.String(64)), sa.Column("host", sa.String(255)),
                 sa.Column("pid", sa.Integer), sa.Column("heartbeat", sa.Float(53)),
                 # a record with a long history outgrows MySQL's 64 KiB TEXT
                 sa.Column("record", sa.Text().with_variant(sa.Text(2 ** 32 - 1), "mysql")))
        self._meta = meta

    @contextlib.contextmanager
    def transaction(self):
        sa = self._sa
        try:
            with self.engine.begin() as conn:
                yield _Transaction(lambda sql, params: conn.execute(sa.text(sql), params),
                                   sa.exc.IntegrityError, handle=conn)
        except sa.exc.OperationalError as exc:
            # a deadlock between two processes' transactions, a lock wait that timed
            # out, SQLite's "database is locked": the transaction is worth another go
            raise Conflict(str(exc), error=exc) from None

    def tables(self, tx):
        sa = self._sa
        try:
            return set(sa.inspect(tx.handle).get_table_names())
        except sa.exc.OperationalError:
            raise
        except sa.exc.DatabaseError as exc:
            raise ValueError(f"{self.where} is not a database SQLAlchemy can read "
                             f"({exc.orig}); pass another storage URL") from None

    def create(self, tx):
        try:
            self._meta.create_all(tx.handle)
        except self._sa.exc.DBAPIError as exc:
            # another process created them at the same moment: read again
            raise Conflict(str(exc), error=exc) from None

    def close(self):
        self.engine.dispose()


# --------------------------------------------------------------------------
# The rules, whatever the backend
# --------------------------------------------------------------------------
class _View:
    """The search's trials as one transaction sees them.

    ``done``: the finished ``(number, rung)``; ``live``: those claimed by a running
    process (this one's included); ``free(key)``: neither, so claimable (never
    claimed, or claimed by a process that is gone).
    """

    def __init__(self, storage, tx):
        self._storage, self._tx = storage, tx
        now = time.time()
        self.rows = {(r[0], r[1]): tuple(r[2:]) for r in tx.run(
            f"SELECT {_COLUMNS} FROM hpframe_trials").fetchall()}
        self.done = {k for k, r in self.rows.items() if r[0] == "done"}
        self.live = {k for k, r in self.rows.items()
                     if r[0] == "running" and not storage._dead(r, now)}

    def free(self, key):
        return key not in self.done and key not in self.live

    def records(self, keys):
        """``(number, rung, record)`` of the finished trials among ``keys``."""
        out = []
        for number, rung in keys:
            rows = self._tx.run("SELECT record FROM hpframe_trials WHERE number = :number AND "
                                "rung = :rung AND state = 'done'", number=number,
                                rung=rung).fetchall()
            if rows:
                out.append((number, rung, self._storage._parse(number, rung, rows[0][0])))
        return out


class Storage:
    """One search's trials in a database shared by many processes.

    Parameters
    ----------
    db : SQLiteFile or SQLAlchemyDatabase
        How to reach the database.
    header : dict
        The search's description; a database of another search is refused.
    """

    def __init__(self, db, header):
        self.db = db
        self.path = db.where
        self.header = normalise({"hpframe_search": FORMAT_VERSION, **header})
        self.owner = uuid.uuid4().hex
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.mine = set()              # claimed here and not finished
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._beat = None
        self._claiming = False
        self._pending = []             # finished while choosing: written with the claim
        try:
            self._transact(self._setup, attempts=5)
        except BaseException:
            db.close()
            raise

    def _transact(self, work, attempts=_ATTEMPTS):
        """``work(tx)`` in one transaction, from the start again after a :class:`Conflict`."""
        refused = 0
        for attempt in range(attempts):
            try:
                with self.db.transaction() as tx:
                    return work(tx)
            except Conflict as exc:
                refused += exc.error is not None
                if refused > _REFUSALS or attempt == attempts - 1:
                    raise (exc if exc.error is None else exc.error) from None
                time.sleep(0.001 * (attempt % 50) + 0.05 * (exc.error is not None))

    def _setup(self, tx):
        tables = self.db.tables(tx)
        if tables - set(_TABLES) and self.db.exclusive:
            raise ValueError(f"{self.path} is a database of something else (its tables: "
                             f"{', '.join(sorted(tables))}); it was left untouched: pass "
                             "another storage")
        if not set(_TABLES) <= tables:
            self.db.create(tx)          # the missing ones; another process may be at it too
        text = json.dumps(self.header, sort_keys=True)
        rows = tx.run("SELECT header FROM hpframe_search WHERE id = 1").fetchall()
        if not rows:
            tx.run("INSERT INTO hpframe_search (id, header) VALUES (1, :header)", header=text)
            return
        logged = json.loads(rows[0][0])
        if logged != self.header:
            diff = "; ".join(_differences(logged, self.header))
            raise ValueError(f"{self.path} holds a different search ({diff}); pass another "
                             "storage, or delete the file (or the tables hpframe_search and "
                             "hpframe_trials) to start over")

    def _dead(self, row, now):
        _, _, host, pid, heartbeat = row
        if host == self.host and pid is not None:
            return not _alive(pid)
        return heartbeat is None or now - heartbeat > STALE_SECONDS

    def _parse(self, number, rung, text):
        try:
            record = json.loads(text)
        except (TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{self.path}, trial {number} rung {rung}: not valid JSON "
                             f"({exc})") from None
        problem = check_record(record)
        if problem:
            raise ValueError(f"{self.path}, trial {number} rung {rung}: not a valid trial "
                             f"record ({problem})")
        return record

    # -- claims ----------------------------------------------------------------
    def claim_with(self, choose):
        """Claim the ``(number, rung)`` that ``choose(view)`` picks; None if it picks none.

        ``choose`` gets a :class:`_View` of the search inside the transaction that
        claims its pick, so two processes never claim the same trial. It may be
        called again (with a fresh view) when another process claimed the pick
        first; trials it finishes meanwhile (``finish``) are written with the claim.
        """
        def work(tx):
            view = _View(self, tx)
            self._claiming = True
            try:
                key = choose(view)
            finally:
                self._claiming = False
            for record in self._pending:
                self._write_done(tx, record)
            if key is None:
                return None
            key = tuple(key)
            values = dict(number=key[0], rung=key[1], owner=self.owner, host=self.host,
                          pid=self.pid, now=time.time())
            seen = view.rows.get(key)
            if seen is None:
                tx.run(f"INSERT INTO hpframe_trials ({_COLUMNS}) VALUES (:number, :rung, "
                       "'running', :owner, :host, :pid, :now)", **values)
            elif key in view.done or key in view.live:
                raise ValueError(f"claim: {key} is not free")
            else:                          # a dead claim: ours if it is still as read
                heartbeat = "heartbeat IS NULL" if seen[4] is None else "heartbeat = :old_beat"
                taken = tx.run("UPDATE hpframe_trials SET state = 'running', owner = :owner, "
                               "host = :host, pid = :pid, heartbeat = :now WHERE number = "
                               ":number AND rung = :rung AND state = 'running' AND owner = "
                               f":old_owner AND {heartbeat}", old_owner=seen[1],
                               old_beat=seen[4], **values).rowcount
                if taken != 1:
                    raise Conflict(key)
            return key
        with self._lock:
            key = self._transact(work)
            self._pending.clear()
            if key is not None:
                self.mine.add(key)
        if key is not None:
            self._start_heartbeat()
        return key

    def claim(self, keys):
        """Claim the first ``(number, rung)`` of ``keys`` that nobody holds; None if none."""
        keys = [tuple(k) for k in keys]
        return self.claim_with(lambda view: next((k for k in keys if view.free(k)), None))

    def _write_done(self, tx, record):
        text = json.dumps(encode(record), allow_nan=False)
        values = dict(number=record["number"], rung=record.get("rung", 0), owner=self.owner,
                      host=self.host, pid=self.pid, now=time.time(), record=text)
        updated = tx.run("UPDATE hpframe_trials SET state = 'done', owner = :owner, host = "
                         ":host, pid = :pid, heartbeat = :now, record = :record WHERE number "
                         "= :number AND rung = :rung", **values).rowcount
        if updated == 0:
            tx.run(f"INSERT INTO hpframe_trials ({_COLUMNS}, record) VALUES (:number, :rung, "
                   "'done', :owner, :host, :pid, :now, :record)", **values)

    def finish(self, record):
        """Record a finished trial (at its rung) in the transaction that marks it done."""
        key = (record["number"], record.get("rung", 0))
        with self._lock:
            if self._claiming:             # decided while choosing: goes with the claim
                self._pending.append(record)
                return
            self._transact(lambda tx: self._write_done(tx, record))
            self.mine.discard(key)

    def records(self):
        """``(number, rung, record)`` of every finished trial, by rung and number."""
        with self._lock:
            rows = self._transact(lambda tx: tx.run(
                "SELECT number, rung, record FROM hpframe_trials WHERE state = 'done' "
                "ORDER BY rung, number").fetchall())
        return [(number, rung, self._parse(number, rung, text)) for number, rung, text in rows]

    # -- heartbeat ---------------------------------------------------------------
    def _start_heartbeat(self):
        if self._beat is None:
            self._beat = threading.Thread(target=self._heartbeat, daemon=True,
                                          name="hpframe-storage-heartbeat")
            self._beat.start()

    def _heartbeat(self):
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                self._transact(lambda tx: tx.run(
                    "UPDATE hpframe_trials SET heartbeat = :now WHERE owner = :owner AND "
                    "state = 'running'", now=time.time(), owner=self.owner))
            except Exception:       # a database briefly out of reach: beat again later
                continue

    def close(self):
        """Release the claims left (an interrupted run) and close the database."""
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
            self._beat = None
        with self._lock:
            def release(tx):
                for record in self._pending:
                    self._write_done(tx, record)
                for number, rung in self.mine:
                    tx.run("DELETE FROM hpframe_trials WHERE number = :number AND rung = :rung "
                           "AND owner = :owner AND state = 'running'", number=number,
                           rung=rung, owner=self.owner)
            try:
                if self.mine or self._pending:
                    self._transact(release)
            finally:
                self._pending.clear()
                self.mine.clear()
                self.db.close()


class SQLiteStorage(Storage):
    """:class:`Storage` on an SQLite file through Python's ``sqlite3``.

    Parameters
    ----------
    path : str
        The database file (created with its folder when missing).
    header : dict
        The search's description; a database of another search is refused.
    """

    def __init__(self, path, header):
        super().__init__(SQLiteFile(path), header)
