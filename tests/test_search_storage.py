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

from hpframe.search import grid_search

from test_search import BASE, X, Y, search, signature

WORKER = """
import json, os, sys, time
sys.path.insert(0, {tests!r})
import hpframe.search.trial as trial_mod
real = trial_mod.run_trial
ran = []
def slow(task):
    ran.append(task.number)
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
from test_search_storage import tpe, halving
if len(sys.argv) > 4 and sys.argv[4] == "tpe":
    result = tpe(n_trials=int(sys.argv[2]), storage="sqlite:///" + sys.argv[1])
elif len(sys.argv) > 4 and sys.argv[4] == "halving":
    result = halving(n_trials=int(sys.argv[2]), storage="sqlite:///" + sys.argv[1])
else:
    result = search(n_trials=int(sys.argv[2]), storage="sqlite:///" + sys.argv[1])
print(json.dumps({{"ran": ran, "pid": os.getpid(),
                  "trials": [[t.number, t.status, t.value, t.seed] for t in result.trials]}}))
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


def _worker(tmp_path, db, n_trials, delay, mode="random", peers=2):
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(tests=os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, str(script), str(db), str(n_trials), str(delay),
                             mode, str(peers)], env=env, stdout=subprocess.PIPE, text=True)


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
    try:
        for _ in range(3000):
            if db.exists():
                with sqlite3.connect(db) as con:
                    try:
                        rows = con.execute("SELECT number, state FROM hpframe_trials").fetchall()
                    except sqlite3.OperationalError:
                        rows = []
                if rows:
                    break
            time.sleep(0.01)
        assert rows == [(0, "running")]
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
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


def test_storage_refuses_what_is_not_its_own(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    search(n_trials=2, storage=url)
    with pytest.raises(ValueError, match="different search.*seed"):
        search(n_trials=2, storage=url, seed=1)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE notes (text TEXT)")
    before = other.read_bytes()
    with pytest.raises(ValueError, match="something else.*notes.*untouched"):
        search(n_trials=2, storage=f"sqlite:///{other}")
    assert other.read_bytes() == before
    text = tmp_path / "notes.txt"
    text.write_text("hello, not a database\n" * 20)
    with pytest.raises(ValueError, match="not an SQLite database"):
        search(n_trials=2, storage=f"sqlite:///{text}")
    assert text.read_text() == "hello, not a database\n" * 20
    with pytest.raises(ValueError, match="log= or storage="):
        search(n_trials=2, storage=url, log=tmp_path / "log.jsonl")
    with pytest.raises(ValueError, match="only SQLite URLs"):
        search(n_trials=2, storage="postgresql://host/db")
    with pytest.raises(ValueError, match="in-memory"):
        search(n_trials=2, storage="sqlite:///:memory:")


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
