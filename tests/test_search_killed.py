"""A killed worker blames the right trial (issue 19, item 8).

A worker process killed from outside and a trial that kills its worker look the same
to a ProcessPoolExecutor. The oracle: the serial search, where nothing dies - every
healthy trial must end with exactly its serial result; only the trial that kills its
worker every time it runs is recorded as failed.
"""
import concurrent.futures as cf
import json
import os
import signal
import threading
import time

import pytest

from hpframe.search import runner
from hpframe.search import trial as trial_mod

from test_search import _count_runs, search, signature

_DIR = "HPFRAME_TEST_KILL_DIR"


def _flag(name):
    return os.path.join(os.environ[_DIR], name)


def _val_loss_killed_once(trainer):
    """The worker running the "victim" trial is SIGKILLed once (as an OOM killer would);
    the "culprit" trial kills its worker every time."""
    seed = trainer.hparams.seed
    with open(_flag("victims")) as f:
        victims = json.load(f)
    if seed in victims["culprit"]:
        os._exit(3)
    if seed in victims["victim"]:
        try:
            os.close(os.open(_flag(f"killed-{seed}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            pass                                 # killed once already: this time it lives
        else:
            os.kill(os.getpid(), signal.SIGKILL)
    return trainer.history.history["val_loss"][-1]


def _val_loss_waits_to_be_killed(trainer):
    """The victim trial publishes its worker's pid and waits for the test to kill it."""
    seed = trainer.hparams.seed
    with open(_flag("victims")) as f:
        victims = json.load(f)
    if seed in victims["victim"]:
        with open(_flag(f"pid-{seed}.tmp"), "w") as f:
            f.write(str(os.getpid()))
        os.replace(_flag(f"pid-{seed}.tmp"), _flag(f"pid-{seed}"))
        for _ in range(3000):                    # killed long before (30 s at most)
            if os.path.exists(_flag(f"killed-{seed}")):
                break
            time.sleep(0.01)
    return trainer.history.history["val_loss"][-1]


def _plan(tmp_path, monkeypatch, victim, culprit=()):
    monkeypatch.setenv(_DIR, str(tmp_path))          # before the workers fork
    serial = search()
    seeds = {n: t.seed for n, t in enumerate(serial.trials)}
    (tmp_path / "victims").write_text(json.dumps({"victim": [seeds[n] for n in victim],
                                                  "culprit": [seeds[n] for n in culprit]}))
    return serial


@pytest.mark.parametrize("workers", [1, 2])
def test_a_worker_killed_once_is_retried_and_a_killer_trial_is_blamed(tmp_path, monkeypatch,
                                                                       workers):
    serial = _plan(tmp_path, monkeypatch, victim=[1, 4], culprit=[2])
    with cf.ProcessPoolExecutor(workers) as executor, \
            pytest.warns(RuntimeWarning, match="died"):
        result = search(metric=_val_loss_killed_once, executor=executor)
    assert [t.number for t in result.trials] == list(range(6))
    for a, b in zip(result.trials, serial.trials):
        if a.number == 2:
            assert a.status == "failed" and "died twice" in a.error, a.error
        else:                                   # the victims too: retried, same result
            assert a.status == "ok" and a.value == b.value, (a.number, a.error)
    assert (tmp_path / f"killed-{serial.trials[1].seed}").exists()    # it was killed


def test_a_worker_killed_from_outside_costs_its_trial_nothing(tmp_path, monkeypatch):
    serial = _plan(tmp_path, monkeypatch, victim=[3])
    seed = serial.trials[3].seed
    killed = []

    def killer():
        for _ in range(6000):
            pid_file = tmp_path / f"pid-{seed}"
            if pid_file.exists():
                pid = int(pid_file.read_text())
                os.kill(pid, signal.SIGKILL)         # from outside, like an OOM killer
                killed.append(pid)
                (tmp_path / f"killed-{seed}").touch()
                return
            time.sleep(0.01)
    thread = threading.Thread(target=killer)
    thread.start()
    try:
        with cf.ProcessPoolExecutor(2) as executor, \
                pytest.warns(RuntimeWarning, match="died"):
            result = search(metric=_val_loss_waits_to_be_killed, executor=executor)
    finally:
        thread.join()
    assert killed
    assert all(t.status == "ok" for t in result.trials), result.summary()
    assert [t.value for t in result.trials] == [t.value for t in serial.trials]


class _BreaksOnce(cf.ThreadPoolExecutor):
    """An executor that cannot be renewed, whose worker dies under trial 2 once."""

    def __init__(self):
        super().__init__(2)
        self.broke = False

    def submit(self, fn, task):
        if task.number == 2 and not self.broke:
            self.broke = True
            future = cf.Future()
            future.set_exception(cf.BrokenExecutor("a worker was killed"))
            return future
        return super().submit(fn, task)


def test_resume_reruns_a_trial_whose_worker_was_killed(tmp_path, monkeypatch):
    path = tmp_path / "search.jsonl"
    with _BreaksOnce() as executor, pytest.warns(RuntimeWarning, match="can no longer run"):
        partial = search(log=path, executor=executor)
    assert partial.interrupted
    assert 2 not in [t.number for t in partial.trials]          # nothing blamed, nothing logged
    logged = [json.loads(line)["number"] for line in path.read_text().splitlines()[1:]]
    assert 2 not in logged
    ran = _count_runs(monkeypatch)
    resumed = search(log=path)
    assert 2 in ran and signature(resumed) == signature(search())


def test_resume_reruns_a_trial_blamed_for_one_death_by_an_older_hpframe(tmp_path, monkeypatch):
    path = tmp_path / "search.jsonl"
    search(log=path)
    lines = path.read_text().splitlines()
    record = json.loads(lines[3])                           # trial 2's line
    record.update(status="failed", value=None, error=runner.UNCONFIRMED_DEATH +
                  ", so the trial itself caused it.\nBrokenProcessPool: ...")
    lines[3] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")
    ran = _count_runs(monkeypatch)
    resumed = search(log=path)
    assert ran == [record["number"]]
    assert signature(resumed) == signature(search())
