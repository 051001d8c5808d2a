"""storage="sqlite:///...": many processes, one search (issue 15, item 6).

Oracle: the same search run by one process alone. Two worker processes share an
SQLite file: every trial runs exactly once across them, and each returns the
single-process result; a process killed while holding a trial loses nothing.
"""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

import hpframe
from hpframe.search import grid_search

from test_search import BASE, X, Y, search, signature

WORKER = """
import json, os, sys, time
sys.path.insert(0, {tests!r})
import hpframe.search.trial as trial_mod
real = trial_mod.run_trial
ran = []
def slow(task):
    ran.append([task.number, task.rung])
    time.sleep(float(sys.argv[3]))
    return real(task)
trial_mod.run_trial = slow
# a barrier: every worker of the test starts its search at the same time
folder, peers = os.path.dirname(sys.argv[1]), int(sys.argv[5])
open(os.path.join(folder, "ready-%d" % os.getpid()), "w").close()
for _ in range(6000):
    if sum(name.startswith("ready-") for name in os.listdir(folder)) >= peers:
        break
    time.sleep(0.01)
from test_search import search
from test_search_storage import tpe, halving, asha_search, hyperband_search
mode, url = sys.argv[4], sys.argv[6]
if "://" not in url:                     # a scheme: the database is the file argv[1]
    url = url + ":///" + sys.argv[1]
run = {{"tpe": tpe, "halving": halving, "asha": asha_search, "hyperband": hyperband_search,
        "random": search, "asha-certain": asha_search,
        "hyperband-threads": hyperband_search}}[mode]
extra = {{"asha-certain": {{"promotion": "certain"}},
          "hyperband-threads": {{"n_jobs": 2}}}}.get(mode, {{}})
result = run(n_trials=int(sys.argv[2]), storage=url, **extra)
print(json.dumps({{"ran": [n for n, _ in ran], "keys": ran, "pid": os.getpid(),
                  "trials": [[t.number, t.status, t.value, t.seed] for t in result.trials],
                  "records": [[t.number, t.rung, t.status, t.value]
                              for t in getattr(result, "records", None) or []]}}))
"""


def tpe(**kwargs):
    from hpframe.search import tpe_search
    from test_search import SPACE
    return tpe_search(X, Y, SPACE, base=BASE, verbose=0, n_startup_trials=4, batch=2,
                      **kwargs)


def halving(**kwargs):
    from hpframe.search import successive_halving
    from test_search import SPACE
    return successive_halving(X, Y, SPACE, base=BASE, verbose=0, min_epochs=1,
                              max_epochs=4, eta=2, **kwargs)


def asha_search(**kwargs):
    from hpframe.search import asha
    from test_search import SPACE
    kwargs.pop("n_trials", None)
    return asha(X, Y, SPACE, n_trials=12, base=BASE, verbose=0, min_epochs=1, max_epochs=9,
                eta=3, **kwargs)


def hyperband_search(**kwargs):
    from hpframe.search import hyperband
    from test_search import SPACE
    kwargs.pop("n_trials", None)
    return hyperband(X, Y, SPACE, base=BASE, verbose=0, min_epochs=1, max_epochs=9, eta=3,
                     **kwargs)


def _worker(tmp_path, db, n_trials, delay, mode="random", peers=2, scheme="sqlite"):
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(tests=os.path.dirname(os.path.abspath(__file__))))
    # the hpframe these tests import (a fresh clone's src/ has no compiled core), and
    # whatever else they import (sqlalchemy, wherever it is installed)
    paths = [os.path.dirname(os.path.dirname(hpframe.__file__))] + sys.path
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    return subprocess.Popen([sys.executable, str(script), str(db), str(n_trials), str(delay),
                             mode, str(peers), scheme], env=env, stdout=subprocess.PIPE,
                            text=True)


def _kill_at_first_claim(worker, db):
    """SIGKILL ``worker`` once it holds a claim; the rows of the database then."""
    rows = []
    try:
        for _ in range(6000):
            if db.exists():
                with sqlite3.connect(db) as con:
                    try:
                        rows = con.execute("SELECT number, rung, state FROM "
                                           "hpframe_trials").fetchall()
                    except sqlite3.OperationalError:
                        rows = []
                if rows:
                    break
            time.sleep(0.01)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    return rows


def _plain(result):
    return [[t.number, t.status, t.value, t.seed] for t in result.trials]


def test_two_processes_share_one_search_and_each_gets_the_whole_result(tmp_path):
    db = tmp_path / "study.db"
    alone = search(n_trials=12)
    workers = [_worker(tmp_path, db, 12, 0.3) for _ in range(2)]
    outputs = [json.loads(w.communicate(timeout=300)[0]) for w in workers]
    assert all(w.returncode == 0 for w in workers)
    ran = [o["ran"] for o in outputs]
    assert sorted(ran[0] + ran[1]) == list(range(12))        # each trial once, no duplicate
    assert ran[0] and ran[1]                                  # both did work
    for o in outputs:
        assert o["trials"] == _plain(alone)
    again = search(n_trials=12, storage=f"sqlite:///{db}")     # all done: nothing runs
    assert signature(again) == signature(alone)


def test_a_killed_processs_claimed_trial_is_run_again(tmp_path):
    db = tmp_path / "study.db"
    worker = _worker(tmp_path, db, 6, 30.0, peers=1)   # claims trial 0, then sleeps
    assert _kill_at_first_claim(worker, db) == [(0, 0, "running")]
    result = search(n_trials=6, storage=f"sqlite:///{db}")
    assert signature(result) == signature(search(n_trials=6))
    with sqlite3.connect(db) as con:
        states = con.execute("SELECT number, state, pid FROM hpframe_trials").fetchall()
    assert sorted(s[:2] for s in states) == [(n, "done") for n in range(6)]
    assert all(pid == os.getpid() for _, _, pid in states)


def test_grid_search_through_storage_equals_the_plain_grid(tmp_path):
    grid = {"learning_rate": [1e-3, 1e-2], "batch_size": [16, 32]}
    url = f"sqlite:///{tmp_path / 'grid.db'}"
    stored = grid_search(X, Y, grid, base=BASE, verbose=0, storage=url)
    assert signature(stored) == signature(grid_search(X, Y, grid, base=BASE, verbose=0))


@pytest.mark.parametrize("scheme", ["sqlite", "sqlite+pysqlite"])
def test_storage_refuses_what_is_not_its_own(tmp_path, scheme):
    if scheme != "sqlite":
        pytest.importorskip("sqlalchemy")
    url = f"{scheme}:///{tmp_path / 'study.db'}"
    search(n_trials=2, storage=url)
    with pytest.raises(ValueError, match="different search.*seed"):
        search(n_trials=2, storage=url, seed=1)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE notes (text TEXT)")
    before = other.read_bytes()
    with pytest.raises(ValueError, match="something else.*notes.*untouched"):
        search(n_trials=2, storage=f"{scheme}:///{other}")
    assert other.read_bytes() == before
    text = tmp_path / "notes.txt"
    text.write_text("hello, not a database\n" * 20)
    with pytest.raises(ValueError, match="not an SQLite database|not a database"):
        search(n_trials=2, storage=f"{scheme}:///{text}")
    assert text.read_text() == "hello, not a database\n" * 20
    with pytest.raises(ValueError, match="log= or storage="):
        search(n_trials=2, storage=url, log=tmp_path / "log.jsonl")
    with pytest.raises(ValueError, match="in-memory"):
        search(n_trials=2, storage=f"{scheme}:///:memory:")
    with pytest.raises(ValueError, match="not a database URL"):
        search(n_trials=2, storage="study.db")
    if scheme != "sqlite":
        with pytest.raises(ImportError, match="driver"):
            search(n_trials=2, storage="nosuchdatabase://host/db")


def test_two_processes_share_one_tpe_search_batch_by_batch(tmp_path):
    db = tmp_path / "tpe.db"
    alone = tpe(n_trials=10)
    workers = [_worker(tmp_path, db, 10, 0.3, "tpe") for _ in range(2)]
    outputs = [json.loads(w.communicate(timeout=300)[0]) for w in workers]
    assert all(w.returncode == 0 for w in workers)
    assert sorted(outputs[0]["ran"] + outputs[1]["ran"]) == list(range(10))
    for o in outputs:
        assert o["trials"] == _plain(alone)


def test_two_processes_share_one_successive_halving(tmp_path):
    db = tmp_path / "halving.db"
    alone = halving(n_trials=8)
    workers = [_worker(tmp_path, db, 8, 0.2, "halving") for _ in range(2)]
    outputs = [json.loads(w.communicate(timeout=300)[0]) for w in workers]
    assert all(w.returncode == 0 for w in workers)
    assert len(outputs[0]["ran"]) + len(outputs[1]["ran"]) == 8 + 4 + 2   # each rung once
    for o in outputs:
        assert o["trials"] == _plain(alone)
    with sqlite3.connect(db) as con:
        rungs = con.execute("SELECT rung, COUNT(*) FROM hpframe_trials WHERE state = 'done' "
                            "GROUP BY rung").fetchall()
    assert rungs == [(0, 8), (1, 4), (2, 2)]


def test_a_model_promoted_by_another_process_is_not_continued_from_an_older_one(tmp_path):
    # This process trains every rung 0 and keeps those models; another process (its
    # rows are already in the database) trained rung 1. The trials of rung 2 must
    # continue from rung 1's models - retrained here - never from the rung-0 models.
    db = tmp_path / "halving.db"
    url = f"sqlite:///{db}"
    alone = halving(n_trials=8)
    halving(n_trials=8, storage=url)
    with sqlite3.connect(db) as con:
        con.execute("DELETE FROM hpframe_trials WHERE rung IN (0, 2)")
    again = halving(n_trials=8, storage=url)
    assert _plain(again) == _plain(alone)
    assert [(t.number, t.rung, t.value) for t in again.records] == \
        [(t.number, t.rung, t.value) for t in alone.records]


# ---- asha and hyperband: asynchronous promotions decided from the shared state ------

def _records(result):
    return [[t.number, t.rung, t.status, t.value] for t in result.records]


def _rows(db):
    with sqlite3.connect(db) as con:
        return con.execute("SELECT number, rung, state FROM hpframe_trials").fetchall()


def _check_shared_run(outputs, alone, rows):
    """Two processes' outputs: every (configuration, rung) ran once, the database's
    ``rows`` hold them all, both processes return the whole search, values are the
    serial run's."""
    from types import SimpleNamespace
    keys = [tuple(k) for o in outputs for k in o["keys"]]
    assert len(keys) == len(set(keys)), "a (configuration, rung) ran twice"
    assert all(o["keys"] for o in outputs), "both processes ran trials"
    assert sorted((n, k) for n, k, state in rows if state == "done") == sorted(keys)
    assert all(state == "done" for *_, state in rows)
    assert outputs[0]["records"] == outputs[1]["records"]       # each: the whole search
    assert outputs[0]["trials"] == outputs[1]["trials"]
    assert sorted(tuple(r[:2]) for r in outputs[0]["records"]) == sorted(keys)
    serial = {(t.number, t.rung): t.value for t in alone.records}
    shared = {(n, k): value for n, k, _, value in outputs[0]["records"]}
    both = set(serial) & set(shared)
    assert len(both) >= len(alone.trials)                       # at least every rung 0
    assert all(shared[key] == serial[key] for key in both)      # deterministic training
    return [SimpleNamespace(number=n, rung=k, ok=status == "ok", value=value)
            for n, k, status, value in outputs[0]["records"]]


@pytest.mark.parametrize("scheme", ["sqlite", "sqlite+pysqlite"])
def test_two_processes_share_one_asha(tmp_path, scheme):
    if scheme != "sqlite":
        pytest.importorskip("sqlalchemy")
    from test_search_asha import check_final_rungs
    db = tmp_path / "asha.db"
    alone = asha_search()
    workers = [_worker(tmp_path, db, 12, 0.2, "asha", scheme=scheme) for _ in range(2)]
    outputs = [json.loads(w.communicate(timeout=300)[0]) for w in workers]
    assert all(w.returncode == 0 for w in workers)
    records = _check_shared_run(outputs, alone, _rows(db))
    # ASHA's guarantee once all is finished: every rung promoted its best n_k // eta
    check_final_rungs(records, 12)
    above = {(r.number, r.rung) for r in records}
    assert all((r.number, r.rung - 1) in above for r in records if r.rung > 0)
    again = asha_search(storage=f"{scheme}:///{db}")             # all done: nothing runs
    assert _records(again) == outputs[0]["records"]


def test_two_processes_share_one_asha_with_certain_promotions(tmp_path):
    # promotion="certain" never depends on the order trials finish in: two
    # processes find exactly the serial search, rung by rung
    db = tmp_path / "asha.db"
    alone = asha_search(promotion="certain")
    workers = [_worker(tmp_path, db, 12, 0.2, "asha-certain") for _ in range(2)]
    outputs = [json.loads(w.communicate(timeout=300)[0]) for w in workers]
    assert all(w.returncode == 0 for w in workers)
    _check_shared_run(outputs, alone, _rows(db))
    for o in outputs:
        assert o["records"] == _records(alone)
        assert o["trials"] == _plain(alone)


def test_two_processes_share_one_hyperband(tmp_path):
    # each process runs two trials at once in threads: a free thread looks again
    # while the other process trains (TaskSource's poll)
    db = tmp_path / "hb.db"
    alone = hyperband_search()
    workers = [_worker(tmp_path, db, 0, 0.1, "hyperband-threads") for _ in range(2)]
    outputs = [json.loads(w.communicate(timeout=300)[0]) for w in workers]
    assert all(w.returncode == 0 for w in workers)
    records = _check_shared_run(outputs, alone, _rows(db))
    assert sorted(r.number for r in records if r.rung == 0) == list(range(9))
    assert sorted(r.number for r in records if r.rung == 1 and r.number >= 9) == \
        list(range(9, 14))                                       # bracket 1 starts at rung 1
    assert sorted(r.number for r in records if r.number >= 14) == [14, 15, 16]   # bracket 2
    assert {r.rung for r in records if r.number >= 14} == {2}


def test_asha_alone_with_storage_is_asha_alone_and_resumes(tmp_path, monkeypatch):
    import hpframe.search.trial as trial_mod
    from test_search import signature
    from test_search_asha import interrupt_at
    url = f"sqlite:///{tmp_path / 'asha.db'}"
    full = asha_search()
    real = interrupt_at(monkeypatch, 10)
    partial = asha_search(storage=url)
    assert partial.interrupted
    with sqlite3.connect(tmp_path / "asha.db") as con:
        states = con.execute("SELECT state, COUNT(*) FROM hpframe_trials GROUP BY state"
                             ).fetchall()
    assert states == [("done", 9)]                      # the interrupted claim released
    monkeypatch.setattr(trial_mod, "run_trial", real)
    resumed = asha_search(storage=url)
    assert signature(resumed) == signature(full)
    assert _records(resumed) == _records(full)
    band = hyperband_search(storage=f"sqlite:///{tmp_path / 'hb.db'}")
    assert _records(band) == _records(hyperband_search())


def test_a_killed_processs_asha_claim_is_run_again(tmp_path):
    from test_search import signature
    db = tmp_path / "asha.db"
    worker = _worker(tmp_path, db, 12, 30.0, "asha", peers=1)   # claims (0, 0), sleeps
    assert _kill_at_first_claim(worker, db) == [(0, 0, "running")]
    result = asha_search(storage=f"sqlite:///{db}")
    alone = asha_search()
    assert signature(result) == signature(alone)
    assert _records(result) == _records(alone)
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT number, rung, state, pid FROM hpframe_trials").fetchall()
    assert sorted(r[:2] for r in rows) == sorted((t.number, t.rung) for t in alone.records)
    assert all(state == "done" and pid == os.getpid() for _, _, state, pid in rows)


# ---- the SQLAlchemy backend --------------------------------------------------------

def test_a_url_other_than_sqlite_needs_sqlalchemy(monkeypatch):
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)     # as if not installed
    with pytest.raises(ImportError, match="pip install sqlalchemy"):
        search(n_trials=2, storage="postgresql://user@host/db")


def test_two_processes_share_one_search_through_sqlalchemy(tmp_path):
    pytest.importorskip("sqlalchemy")
    db = tmp_path / "study.db"
    alone = search(n_trials=8)
    workers = [_worker(tmp_path, db, 8, 0.3, scheme="sqlite+pysqlite") for _ in range(2)]
    outputs = [json.loads(w.communicate(timeout=300)[0]) for w in workers]
    assert all(w.returncode == 0 for w in workers)
    ran = [o["ran"] for o in outputs]
    assert sorted(ran[0] + ran[1]) == list(range(8)) and ran[0] and ran[1]
    for o in outputs:
        assert o["trials"] == _plain(alone)
    with sqlite3.connect(db) as con:             # SQLAlchemy's tables, read with sqlite3
        rows = con.execute("SELECT number, state FROM hpframe_trials").fetchall()
    assert sorted(rows) == [(n, "done") for n in range(8)]


def test_sqlalchemy_claims_survive_a_race_by_reading_again(tmp_path):
    # Two processes read the same state and pick the same trial; the second one's
    # INSERT (a trial never claimed) or conditional UPDATE (a dead claim) finds the
    # first one's claim, and it chooses again from a fresh read.
    pytest.importorskip("sqlalchemy")
    from hpframe.search.storage import open_storage
    url = f"sqlite+pysqlite:///{tmp_path / 'race.db'}"
    first, second = open_storage(url, {"a": 1}), open_storage(url, {"a": 1})
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()                                      # a process id that no longer runs
    with sqlite3.connect(tmp_path / "race.db") as con:
        con.execute("INSERT INTO hpframe_trials (number, rung, state, owner, host, pid, "
                    "heartbeat) VALUES (0, 0, 'running', 'gone', ?, ?, 1.0)",
                    (first.host, dead.pid))
    try:
        for wanted in [(0, 0), (1, 0)]:              # a dead claim, then a new trial
            views = []

            def choose(view):
                views.append((view.free(wanted), sorted(view.live)))
                if len(views) == 1:                  # meanwhile, the other process
                    assert first.claim([wanted]) == wanted
                return next(k for k in [wanted, (2, 0), (3, 0)] if view.free(k))
            got = second.claim_with(choose)
            assert views[0][0] is True               # the first read: the trial looked free
            assert views[1][0] is False              # read again after the lost race
            assert wanted not in second.mine and got not in first.mine
            assert got == (2, 0) if wanted == (0, 0) else got == (3, 0)
        with sqlite3.connect(tmp_path / "race.db") as con:
            owners = dict(((n, k), o) for n, k, o in con.execute(
                "SELECT number, rung, owner FROM hpframe_trials"))
        assert owners == {(0, 0): first.owner, (1, 0): first.owner, (2, 0): second.owner,
                          (3, 0): second.owner}
    finally:
        first.close()
        second.close()


SERVER = os.environ.get("HPFRAME_TEST_DATABASE_URL")


@pytest.mark.skipif(not SERVER, reason="set HPFRAME_TEST_DATABASE_URL to a database on a "
                    "server (e.g. postgresql://user@host/scratch) that the test may write")
@pytest.mark.parametrize("mode", ["random", "asha"])
def test_two_processes_share_one_search_on_a_database_server(tmp_path, mode):
    # Not run offline: the same checks on a real server (PostgreSQL, MySQL, ...)
    sa = pytest.importorskip("sqlalchemy")
    engine = sa.create_engine(SERVER)

    def rows():
        with engine.begin() as con:
            for table in ("hpframe_trials", "hpframe_search"):
                if not sa.inspect(con).has_table(table):
                    return []
            return [tuple(r) for r in con.execute(sa.text(
                "SELECT number, rung, state FROM hpframe_trials"))]

    def drop():
        with engine.begin() as con:
            for table in ("hpframe_trials", "hpframe_search"):
                con.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
    drop()
    try:
        alone = search(n_trials=8) if mode == "random" else asha_search()
        workers = [_worker(tmp_path, tmp_path / "barrier", 8, 0.2, mode, scheme=SERVER)
                   for _ in range(2)]
        outputs = [json.loads(w.communicate(timeout=300)[0]) for w in workers]
        assert all(w.returncode == 0 for w in workers)
        if mode == "random":
            keys = sorted(tuple(k) for o in outputs for k in o["keys"])
            assert keys == [(n, 0) for n in range(8)]
            assert sorted(rows()) == [(n, 0, "done") for n in range(8)]
            assert all(o["trials"] == _plain(alone) for o in outputs)
        else:
            _check_shared_run(outputs, alone, rows())
    finally:
        drop()
        engine.dispose()


@pytest.mark.parametrize("scheme", ["sqlite", "sqlite+pysqlite"])
def test_a_storage_another_process_is_creating_is_completed_not_refused(tmp_path, scheme):
    # SQLAlchemy creates SQLite tables one statement at a time: another process may
    # see the first table alone; it creates the rest and joins the same search
    if scheme != "sqlite":
        pytest.importorskip("sqlalchemy")
    db = tmp_path / "study.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE hpframe_search (id INTEGER PRIMARY KEY, header TEXT NOT NULL)")
    result = search(n_trials=3, storage=f"{scheme}:///{db}")
    assert signature(result) == signature(search(n_trials=3))
    assert sorted(_rows(db)) == [(n, 0, "done") for n in range(3)]
