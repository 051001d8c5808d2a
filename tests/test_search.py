"""Search: spaces, strategies, determinism, failures, logs and resume, output.

Oracles: a trial is checked against a Trainer fitted directly with the trial's
hyperparameters (one BLAS thread); successive halving against a random search
at min_epochs and a single uninterrupted fit; logs against the uninterrupted
search; distributions against their defining properties.
"""
import csv
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import hpframe as hp
from hpframe.search import progress as progress_mod, runner, strategies
from hpframe.search import trial as trial_mod
from hpframe.search.log import SearchLog
from hpframe.search import (Choice, IntUniform, LogUniform, SearchResult, Trial, Uniform,
                            grid_search, random_search, successive_halving)

from helpers import blobs


X, Y = blobs(n=200, spread=2.0)
BASE = hp.HyperParams(hidden_layers=(8,), epochs=2, batch_size=32, validation_split=0.25)
SPACE = {"learning_rate": LogUniform(1e-3, 1e-1), "batch_size": Choice([16, 32]),
         "dropout": Uniform(0.0, 0.3)}


def search(**kwargs):
    kwargs.setdefault("space", SPACE)
    kwargs.setdefault("n_trials", 6)
    kwargs.setdefault("base", BASE)
    kwargs.setdefault("verbose", 0)
    return random_search(X, Y, **kwargs)


def signature(result):
    """What must be identical wherever trials run: everything but time and memory."""
    return [(t.number, t.status, t.value, t.seed, t.params, t.hparams,
             {k: v for k, v in t.history.items() if k != "time"},
             {k: v for k, v in t.metrics.items()}) for t in result.trials]


# ---- spaces ---------------------------------------------------------------------

@pytest.mark.parametrize("make, message", [
    (lambda: Uniform(1.0, 1.0), "low < high"),
    (lambda: Uniform(0.0, float("inf")), "finite"),
    (lambda: LogUniform(0.0, 1.0), "positive"),
    (lambda: LogUniform(1e-2, 1e-3), "low < high"),
    (lambda: IntUniform(5, 2), "low < high"),
    (lambda: IntUniform(0, 8, log=True), "low >= 1"),
    (lambda: Choice([]), "at least one"),
])
def test_distributions_validate(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("make", [lambda: Uniform("a", 1), lambda: IntUniform(1.5, 3),
                                  lambda: Choice("relu"), lambda: IntUniform(1, 4, log=1)])
def test_distributions_reject_wrong_types(make):
    with pytest.raises(TypeError):
        make()


def test_distributions_sample_their_support():
    rng = np.random.default_rng(0)
    u = [Uniform(-1.0, 2.0).sample(rng) for _ in range(2000)]
    assert min(u) >= -1.0 and max(u) < 2.0 and abs(np.mean(u) - 0.5) < 0.1
    ints = [IntUniform(2, 5).sample(rng) for _ in range(2000)]
    assert set(ints) == {2, 3, 4, 5} and all(isinstance(i, int) for i in ints)
    # log-uniform: the geometric midpoint splits the draws in half, and every
    # decade gets about the same share (the defining property).
    logs = np.array([LogUniform(1e-4, 1e-1).sample(rng) for _ in range(3000)])
    assert logs.min() >= 1e-4 and logs.max() < 1e-1
    shares = np.histogram(np.log10(logs), bins=[-4, -3, -2, -1])[0] / len(logs)
    np.testing.assert_allclose(shares, 1 / 3, atol=0.04)
    wide = np.array([IntUniform(1, 1000, log=True).sample(rng) for _ in range(3000)])
    assert wide.min() >= 1 and wide.max() <= 1000
    assert 0.25 < np.mean(wide < 10) < 0.42          # log10(10)/log10(1001) = 1/3
    options = [Choice([(8,), (16, 16), "x"]).sample(rng) for _ in range(600)]
    assert {o for o in options} == {(8,), (16, 16), "x"}


def test_space_keys_are_checked_with_the_closest_name():
    with pytest.raises(ValueError, match="did you mean 'learning_rate'"):
        search(space={"learnig_rate": LogUniform(1e-3, 1e-1)})
    with pytest.raises(ValueError, match="did you mean 'hidden_layers'"):
        search(space={"hiden_layers": Choice([(8,)])})


def test_space_values_are_checked_against_the_field():
    with pytest.raises(ValueError, match=r"space\['dropout'\].*dropout must be in \[0, 1\)"):
        search(space={"dropout": Uniform(0.0, 1.5)})
    with pytest.raises(ValueError, match=r"space\['activation'\].*(did you mean 'relu')"):
        search(space={"activation": Choice(["relu", "rellu"])})
    with pytest.raises(TypeError, match=r"space\['epochs'\] must be Uniform"):
        search(space={"epochs": 5})
    with pytest.raises(ValueError, match="space is empty"):
        search(space={})
    with pytest.raises(ValueError, match="validation_split 0"):
        search(space={"validation_split": Choice([0.0, 0.2])})


def test_search_needs_validation_data():
    with pytest.raises(ValueError, match="validation_split is 0"):
        search(base=BASE.replace(validation_split=0.0))


@pytest.mark.parametrize("kwargs, error, message", [
    ({"n_trials": 0}, ValueError, "n_trials"),
    ({"seed": -1}, ValueError, "seed"),
    ({"n_jobs": 0}, ValueError, "n_jobs"),
    ({"timeout": 0}, ValueError, "timeout"),
    ({"verbose": 3}, ValueError, "verbose"),
    ({"metric": "val_foo"}, ValueError, r"\('val_foo', 'min'\)"),
    ({"metric": ("val_loss", "down")}, ValueError, "'min' or 'max'"),
    ({"executor": "dask"}, TypeError, "concurrent.futures.Executor"),
    ({"base": 3}, TypeError, "HyperParams"),
])
def test_arguments_are_checked(kwargs, error, message):
    with pytest.raises(error, match=message):
        search(**kwargs)


# ---- what a trial is ---------------------------------------------------------------

def test_trial_equals_a_direct_fit_with_its_hyperparameters():
    result = search(n_trials=3)
    for t in result.trials:
        assert t.status == "ok" and t.hparams == BASE.replace(seed=t.seed, **t.params)
        with threadpool_limits(1, user_api="blas"):
            direct = hp.Trainer(t.hparams).fit(X, Y, verbose=0)
        for key, column in direct.history.history.items():
            if key != "time":
                assert t.history[key] == column
        assert t.value == direct.history.history["val_loss"][-1]
        assert t.metrics["val_loss"] == t.value
        assert t.metrics["best_val_loss"] == min(direct.history.history["val_loss"])
        assert t.metrics["best_val_accuracy"] == max(direct.history.history["val_accuracy"])
        assert t.epochs == t.metrics["epochs"] == BASE.epochs


def test_values_and_seeds_depend_on_seed_and_number_alone():
    a = search(n_trials=3)
    b = search(n_trials=6)
    assert signature(a) == signature(b)[:3]
    assert signature(search(n_trials=3)) == signature(a)          # repeatable
    c = search(n_trials=3, seed=1)
    assert [t.params for t in c.trials] != [t.params for t in a.trials]
    assert len({t.seed for t in b.trials}) == 6                   # a seed per trial
    # The draw is SeedSequence(seed).spawn-style: trial i's values are the i-th
    # child's generator applied to the keys in sorted order.
    child = np.random.SeedSequence(0).spawn(3)[2]
    assert child.spawn_key == (2,)
    rng = np.random.default_rng(np.random.SeedSequence(0, spawn_key=(2, 0)))
    expected = {k: SPACE[k].sample(rng) for k in sorted(SPACE)}
    assert a.trials[2].params == expected


def test_serial_n_jobs_and_executors_agree_bit_for_bit():
    serial = search()
    assert all(t.status == "ok" for t in serial.trials)
    assert signature(search(n_jobs=2)) == signature(serial)
    with ThreadPoolExecutor(2) as executor:
        assert signature(search(executor=executor)) == signature(serial)
    with ProcessPoolExecutor(2) as executor:
        assert signature(search(executor=executor)) == signature(serial)


def test_memory_is_measured_alone_and_estimated_when_shared():
    serial = search(n_trials=2)
    for t in serial.trials:
        mem = hp.estimate_memory(t.hparams, 5, 3, len(X))
        assert t.memory_source == "tracemalloc"
        # the measured peak holds at least the network's own buffers
        assert t.peak_memory >= mem["parameters"] + mem["gradients"] + mem["optimizer_state"]
    with ThreadPoolExecutor(2) as executor:
        shared = search(n_trials=2, executor=executor)
    assert signature(shared) == signature(serial)
    threads = search(n_trials=2, n_jobs=2)            # n_jobs runs trials in threads
    for t in shared.trials + threads.trials:
        assert t.memory_source == "estimate"
        assert t.peak_memory == hp.estimate_memory(t.hparams, 5, 3, len(X))["total"]


# ---- failures ----------------------------------------------------------------------

def test_a_failing_trial_is_recorded_and_the_search_goes_on():
    space = {"loss": Choice(["cross_entropy", "binary_cross_entropy"])}
    result = search(space=space, n_trials=6, seed=1)
    statuses = {t.params["loss"]: t.status for t in result.trials}
    assert statuses == {"cross_entropy": "ok", "binary_cross_entropy": "failed"}
    failed = [t for t in result.trials if t.status == "failed"]
    assert all("Traceback" in t.error and "exactly two" in t.error for t in failed)
    assert all(t.value is None for t in failed)
    assert result.best.params["loss"] == "cross_entropy"


def test_a_diverging_trial_is_recorded_without_warnings():
    base = BASE.replace(optimizer="sgd", epochs=3)
    space = {"learning_rate": Choice([1e-2, 1e7])}
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # any warning would fail the test
        result = search(space=space, base=base, n_trials=6, seed=1)
    status = {t.params["learning_rate"]: t.status for t in result.trials}
    assert status == {1e-2: "ok", 1e7: "diverged"}
    diverged = [t for t in result.trials if t.status == "diverged"]
    assert all("diverged" in t.error and t.value is None for t in diverged)
    assert all(np.isnan(t.history["loss"][-1]) or t.history["loss"][-1] > 1 for t in diverged)
    assert result.best.params == {"learning_rate": 1e-2}
    # a diverging fit outside a search still warns
    with pytest.warns(hp.DivergenceWarning):
        hp.Trainer(diverged[0].hparams).fit(X, Y, verbose=0)


def test_best_of_an_all_failed_search_quotes_the_first_error():
    space = {"loss": Choice(["binary_cross_entropy"])}
    result = search(space=space, n_trials=2)
    assert [t.status for t in result.trials] == ["failed", "failed"]
    with pytest.raises(RuntimeError, match=r"no trial succeeded[\s\S]*trial 0[\s\S]*exactly two"):
        result.best
    assert "failed" in result.summary()


def _val_loss_or_die(trainer):
    """A metric that kills its worker process for one configuration."""
    if trainer.hparams.batch_size == 16 and trainer.hparams.dropout > 0.15:
        os._exit(3)
    return trainer.history.history["val_loss"][-1]


def test_a_worker_process_that_dies_fails_only_its_trial():
    serial = search()
    dies = [t.number for t in serial.trials
            if t.params["batch_size"] == 16 and t.params["dropout"] > 0.15]
    assert 0 < len(dies) < 6
    with ProcessPoolExecutor(2) as executor, pytest.warns(RuntimeWarning, match="died"):
        result = search(metric=_val_loss_or_die, executor=executor)
    assert len(result.trials) == 6
    for a, b in zip(result.trials, serial.trials):
        if a.number in dies:
            assert a.status == "failed" and "died" in a.error
        else:
            assert a.status == "ok" and a.value == b.value


# ---- log and resume --------------------------------------------------------------

def _lines(path):
    with open(path) as f:
        return f.read().splitlines()


def _count_runs(monkeypatch):
    ran = []
    real = trial_mod.run_trial

    def counting(task):
        ran.append(task.number)
        return real(task)
    monkeypatch.setattr(trial_mod, "run_trial", counting)
    return ran


def test_log_is_a_header_and_one_json_line_per_trial(tmp_path):
    path = tmp_path / "search.jsonl"
    result = search(log=path)
    lines = [json.loads(line) for line in _lines(path)]
    header, records = lines[0], lines[1:]
    assert header["strategy"] == "random_search" and header["seed"] == 0
    assert header["space"]["learning_rate"] == {"type": "LogUniform", "low": 1e-3, "high": 0.1}
    assert sorted(r["number"] for r in records) == list(range(6))
    for r in records:
        t = result.trials[r["number"]]
        assert r["value"] == t.value and r["history"]["val_loss"] == t.history["val_loss"]
        assert r["hparams"]["learning_rate"] == t.hparams.learning_rate


def test_resume_after_a_crash_runs_only_the_missing_trials(tmp_path, monkeypatch):
    full = search()
    path = tmp_path / "search.jsonl"
    search(log=path)
    lines = _lines(path)
    # the crash: the process died after trial 2 while writing trial 3's line
    with open(path, "w") as f:
        f.write("\n".join(lines[:4]) + "\n" + lines[4][:25])
    ran = _count_runs(monkeypatch)
    with pytest.warns(RuntimeWarning, match="incomplete"):
        resumed = search(log=path)
    assert ran == [3, 4, 5]
    assert signature(resumed) == signature(full)
    assert len(_lines(path)) == 7 and all(json.loads(line) for line in _lines(path))
    ran.clear()
    again = search(log=path)                   # complete: nothing runs
    assert ran == [] and signature(again) == signature(full)
    bigger = search(log=path, n_trials=8)       # more trials: only the new ones run
    assert ran == [6, 7]
    assert signature(bigger)[:6] == signature(full)
    assert signature(bigger) == signature(search(n_trials=8))


_KILLABLE = """
import sys, time
sys.path.insert(0, {tests!r})
import hpframe.search.trial as trial_mod
real = trial_mod.run_trial
def slow(task):
    time.sleep(0.05)
    return real(task)
trial_mod.run_trial = slow
from test_search import search
search(n_trials=50, log=sys.argv[1])
"""


def test_a_killed_50_trial_search_reruns_to_the_same_complete_result(tmp_path, monkeypatch):
    # The "done when": kill -9 halfway, rerun the same line, same result.
    path = tmp_path / "search.jsonl"
    script = tmp_path / "run.py"
    script.write_text(_KILLABLE.format(tests=os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen([sys.executable, str(script), str(path)], env=env)
    try:
        while process.poll() is None and not (path.exists() and len(_lines(path)) > 20):
            time.sleep(0.01)
    finally:
        process.kill()
        process.wait()
    assert process.returncode != 0                       # it was killed, not finished
    finished = set()
    for line in _lines(path)[1:]:
        try:
            finished.add(json.loads(line)["number"])
        except json.JSONDecodeError:                     # killed while writing it
            pass
    assert 20 <= len(finished) < 50
    ran = _count_runs(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the half-written line, if any
        resumed = search(n_trials=50, log=path)
    assert sorted(ran) == sorted(set(range(50)) - finished)
    assert resumed.complete
    assert signature(resumed) == signature(search(n_trials=50))


@pytest.mark.parametrize("change, message", [
    ({"seed": 1}, "seed"),
    ({"space": {"learning_rate": LogUniform(1e-3, 1e-1)}}, "space"),
    ({"base": BASE.replace(epochs=3)}, "epochs"),
    ({"metric": "val_accuracy"}, "metric"),
])
def test_a_log_of_another_search_is_refused(tmp_path, change, message):
    path = tmp_path / "search.jsonl"
    search(log=path, n_trials=2)
    before = _lines(path)
    with pytest.raises(ValueError, match=f"different search.*{message}"):
        search(log=path, n_trials=2, **change)
    assert _lines(path) == before                # untouched


def test_a_log_of_other_data_or_another_file_is_refused(tmp_path):
    path = tmp_path / "search.jsonl"
    search(log=path, n_trials=2)
    with pytest.raises(ValueError, match="different search.*data"):
        random_search(X[::-1], Y[::-1], SPACE, n_trials=2, base=BASE, log=path, verbose=0)
    other = tmp_path / "notes.txt"
    other.write_text("hello\n")
    with pytest.raises(ValueError, match="not an hpframe search log"):
        search(log=other, n_trials=2)


def test_a_log_whose_trials_differ_from_the_draws_is_refused(tmp_path):
    path = tmp_path / "search.jsonl"
    search(log=path, n_trials=2)
    lines = _lines(path)
    record = json.loads(lines[1])
    record["params"]["batch_size"] = 99                 # edited by hand
    path.write_text("\n".join([lines[0], json.dumps(record), lines[2]]) + "\n")
    with pytest.raises(ValueError, match="line 2: trial .* but this search draws"):
        search(log=path, n_trials=2)
    path.write_text("\n".join([lines[0], lines[2]]) + "\n")   # the log was released
    assert len(search(log=path, n_trials=2).trials) == 2


def test_ctrl_c_returns_the_finished_trials_and_resumes(tmp_path, monkeypatch):
    path = tmp_path / "search.jsonl"
    real = trial_mod.run_trial

    def interrupt_at_3(task):
        if task.number == 3:
            raise KeyboardInterrupt
        return real(task)
    monkeypatch.setattr(trial_mod, "run_trial", interrupt_at_3)
    partial = search(log=path)
    assert partial.interrupted and not partial.complete
    assert [t.number for t in partial.trials] == [0, 1, 2]
    assert len(_lines(path)) == 4
    monkeypatch.setattr(trial_mod, "run_trial", real)
    resumed = search(log=path)
    assert not resumed.interrupted and resumed.complete
    assert signature(resumed) == signature(search())


def test_ctrl_c_in_a_thread_pool_stops_launching(monkeypatch):
    real = trial_mod.run_trial

    def interrupt_at_3(task):
        if task.number == 3:
            raise KeyboardInterrupt
        return real(task)
    monkeypatch.setattr(trial_mod, "run_trial", interrupt_at_3)
    with ThreadPoolExecutor(1) as executor:
        partial = search(executor=executor)
    assert partial.interrupted
    assert [t.number for t in partial.trials] == [0, 1, 2]


def test_ctrl_c_stops_trials_running_in_threads_after_their_epoch(monkeypatch):
    started, stops = threading.Event(), []
    real = trial_mod.run_trial

    def run(task):
        if task.number == 0:
            started.set()
            return real(task)                        # a very long trial
        started.wait()
        raise KeyboardInterrupt

    def spy(self, epoch, logs=None):
        if self.event.is_set():
            stops.append(epoch)
            self.trainer.stop_training = True
    monkeypatch.setattr(trial_mod, "run_trial", run)
    monkeypatch.setattr(trial_mod._Stop, "on_epoch_end", spy)
    result = search(n_jobs=2, base=BASE.replace(epochs=10**6))
    assert result.interrupted and result.trials == []
    assert len(stops) == 1                          # trial 0 ended at its next epoch


def _slow_val_loss(trainer):
    time.sleep(0.4)
    return trainer.history.history["val_loss"][-1]


@pytest.fixture
def ctrl_c_raises():
    """Python's own Ctrl-C handler during the test, even where the test runner was
    started with SIGINT ignored (a shell's background job inherits SIG_IGN, and
    Python then keeps it: the Ctrl-C below would do nothing)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_a_real_ctrl_c_stops_the_workers_and_keeps_the_log(tmp_path, ctrl_c_raises):
    path = tmp_path / "search.jsonl"
    running = threading.Event()

    def press_ctrl_c_after_the_first_trial():
        while running.is_set():
            if os.path.exists(path) and len(_lines(path)) >= 2:
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.01)
    running.set()
    presser = threading.Thread(target=press_ctrl_c_after_the_first_trial)
    presser.start()
    try:
        partial = search(metric=_slow_val_loss, n_jobs=2, log=path, n_trials=8)
    finally:
        running.clear()
        presser.join()
    assert partial.interrupted and 1 <= len(partial.trials) < 8
    assert len(_lines(path)) == 1 + len(partial.trials)
    assert not [t for t in threading.enumerate() if t.name.startswith("hpframe-trial")]
    resumed = search(metric=_slow_val_loss, n_jobs=2, log=path, n_trials=8)
    assert resumed.complete
    plain = search(n_trials=8)
    assert [t.value for t in resumed.trials] == [t.value for t in plain.trials]


def test_timeout_stops_launching_trials(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(runner, "_clock", lambda: clock[0])
    real = trial_mod.run_trial

    def ten_seconds(task):
        clock[0] += 10.0
        return real(task)
    monkeypatch.setattr(trial_mod, "run_trial", ten_seconds)
    result = search(timeout=25)               # launched at t = 0, 10, 20; not at 30
    assert result.timed_out and not result.interrupted and not result.complete
    assert [t.number for t in result.trials] == [0, 1, 2]


# ---- grid search ---------------------------------------------------------------------

def test_grid_search_covers_the_grid_in_product_order():
    grid = {"learning_rate": [1e-2, 3e-2], "hidden_layers": [(4,), (8, 8)], "batch_size": [32]}
    result = grid_search(X, Y, grid, base=BASE, verbose=0)
    expected = [{"learning_rate": lr, "hidden_layers": h, "batch_size": 32}
                for lr in grid["learning_rate"] for h in grid["hidden_layers"]]
    assert [t.params for t in result.trials] == expected
    assert all(t.hparams.hidden_layers == t.params["hidden_layers"] for t in result.trials)
    assert result.best.value == min(t.value for t in result.trials)
    with pytest.raises(TypeError, match=r"grid\['batch_size'\].*\[32\]"):
        grid_search(X, Y, {"batch_size": 32}, base=BASE, verbose=0)
    with pytest.raises(ValueError, match="did you mean 'batch_size'"):
        grid_search(X, Y, {"batchsize": [32]}, base=BASE, verbose=0)


# ---- successive halving ----------------------------------------------------------------

def _history(t):
    return {k: v for k, v in t.history.items() if k != "time"}


def test_successive_halving_promotes_the_best_and_continues_training(tmp_path):
    base = BASE.replace(epochs=9)
    result = successive_halving(X, Y, SPACE, n_trials=9, min_epochs=1, max_epochs=9, eta=3,
                                base=base, verbose=0)
    assert result.rungs == [1, 3, 9]
    by_rung = {k: sorted(t.number for t in result.trials if t.rung >= k) for k in range(3)}
    assert [len(v) for v in by_rung.values()] == [9, 3, 1]
    # Oracle for the promotions: rung 0 is a random search of the same trials at 1 epoch.
    rung0 = search(n_trials=9, base=base.replace(epochs=1))
    order = sorted(rung0.trials, key=lambda t: (t.value, t.number))
    assert by_rung[1] == sorted(t.number for t in order[:3])
    # Promoted trials continue (no restart): their history is that of one
    # uninterrupted fit for the total epochs.
    for t in result.trials:
        assert t.epochs == len(t.history["loss"]) == result.rungs[t.rung]
        with threadpool_limits(1, user_api="blas"):
            direct = hp.Trainer(t.hparams).fit(X, Y, verbose=0, epochs=t.epochs)
        assert _history(t) == {k: v for k, v in direct.history.history.items() if k != "time"}
        assert t.value == direct.history.history["val_loss"][-1]
    rung1 = [t for t in result.trials if t.rung >= 1]
    assert result.best.rung == 2 and result.best.epochs == 9
    after_3_epochs = {t.number: t.history["val_loss"][2] for t in rung1}
    assert by_rung[2] == [min(after_3_epochs, key=after_3_epochs.get)]
    # every trial at every rung it reached: 9 + 3 + 1 records
    assert [(t.number, t.rung) for t in result.records if t.rung] == \
        [(n, 1) for n in by_rung[1]] + [(n, 2) for n in by_rung[2]]
    assert "rungs of [1, 3, 9] epochs" in result.summary()


def test_successive_halving_plot_follows_the_promotions():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    result = successive_halving(X, Y, SPACE, n_trials=4, min_epochs=1, max_epochs=2, eta=2,
                                base=BASE, verbose=0)
    fig = result.plot()
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_xlabel() for ax in axes] == sorted(SPACE) + ["trial", "epochs (rungs)"]
    # one line per trial, through its rungs: 2 promoted trials have 2 points
    lengths = sorted(len(line.get_xdata()) for line in axes[-1].get_lines())
    assert lengths == [1, 1, 2, 2]
    plt.close(fig)


def test_successive_halving_resumes_by_replaying_lost_models(tmp_path, monkeypatch):
    base = BASE.replace(epochs=4)
    kwargs = dict(n_trials=4, min_epochs=1, max_epochs=4, eta=2, base=base, verbose=0)
    full = successive_halving(X, Y, SPACE, **kwargs)
    path = tmp_path / "sha.jsonl"
    successive_halving(X, Y, SPACE, log=path, **kwargs)
    lines = _lines(path)
    rungs = [json.loads(line)["rung"] for line in lines[1:]]
    assert rungs == [0, 0, 0, 0, 1, 1, 2]
    with open(path, "w") as f:                       # crash during rung 1
        f.write("\n".join(lines[:6]) + "\n")
    ran = _count_runs(monkeypatch)
    resumed = successive_halving(X, Y, SPACE, log=path, **kwargs)
    assert len(ran) == 2                             # one rung-1 trial, then the final
    assert signature(resumed) == signature(full)
    with pytest.raises(ValueError, match="different search.*n_trials"):
        successive_halving(X, Y, SPACE, log=path, **{**kwargs, "n_trials": 5})


def test_successive_halving_in_parallel_matches_serial():
    kwargs = dict(n_trials=4, min_epochs=1, max_epochs=2, eta=2, base=BASE, verbose=0)
    serial = successive_halving(X, Y, SPACE, **kwargs)
    with ThreadPoolExecutor(2) as executor:
        threaded = successive_halving(X, Y, SPACE, executor=executor, **kwargs)
    assert signature(threaded) == signature(serial)


def test_successive_halving_arguments():
    with pytest.raises(ValueError, match="max_epochs must be >= min_epochs"):
        successive_halving(X, Y, SPACE, min_epochs=4, max_epochs=2, base=BASE, verbose=0)
    with pytest.raises(ValueError, match="epochs"):
        successive_halving(X, Y, {"epochs": IntUniform(1, 3)}, base=BASE, verbose=0)
    with pytest.raises(ValueError, match="eta"):
        successive_halving(X, Y, SPACE, eta=1, base=BASE, verbose=0)
    assert strategies.rung_epochs(1, 10, 3) == [1, 3, 10]
    assert strategies.rung_epochs(2, 2, 3) == [2]
    assert strategies.rung_sizes(27, 3, 3) == [27, 9, 3]


# ---- metrics -------------------------------------------------------------------------

def _val_accuracy(trainer):
    return trainer.history.history["val_accuracy"][-1]


@pytest.mark.parametrize("metric, key, mode", [
    ("val_accuracy", "val_accuracy", "max"),
    (("val_loss", "max"), "val_loss", "max"),
    ((_val_accuracy, "max"), "val_accuracy", "max"),
    ("loss", "loss", "min"),
])
def test_metric_forms_and_directions(metric, key, mode):
    result = search(metric=metric)
    values = [t.history[key][-1] for t in result.trials]
    assert [t.value for t in result.trials] == values
    assert result.best_value == (max(values) if mode == "max" else min(values))
    assert result.metric.mode == mode


def test_metric_missing_from_the_history_fails_the_trials():
    result = search(metric=("val_r2", "max"), n_trials=2)
    assert all(t.status == "failed" and "'val_r2' is not in the trial's history" in t.error
               for t in result.trials)
    with pytest.raises(ValueError, match="classification"):
        search(metric="val_accuracy", base=BASE.replace(loss="mse"))


def test_accuracy_of_a_regression_names_the_mismatch():
    # Issue 13: a regression trial searched on val_accuracy said "validation metrics
    # need validation_split > 0" while validation_split was 0.25.
    rng = np.random.default_rng(0)
    Xr = rng.normal(size=(120, 3))
    yr = Xr @ np.array([1.0, -2.0, 0.5])
    base = BASE.replace(loss="mse")
    with pytest.raises(ValueError, match="'val_accuracy' is for classification, but every "
                                         "loss searched .* is .*regression.*val_r2"):
        random_search(Xr, yr, {"loss": Choice(["mse", "huber"])}, n_trials=2, base=base,
                      metric="val_accuracy", verbose=0)
    with pytest.raises(ValueError, match="but base.loss is 'mse'"):
        grid_search(Xr, yr, {"learning_rate": [0.01]}, base=base, metric="accuracy",
                    verbose=0)
    # Losses of both kinds searched: the regression trials fail, saying why.
    result = grid_search(X, Y, {"loss": ["cross_entropy", "mse"]}, base=BASE,
                         metric="val_accuracy", verbose=0)
    regression = [t for t in result.trials if t.params["loss"] == "mse"]
    assert regression and all(t.status == "failed" for t in regression)
    for t in regression:
        message = t.error.strip().splitlines()[-1]
        assert "is for classification, but this trial is a regression (loss='mse')" in message
        assert "validation_split" not in message
    assert all(t.ok for t in result.trials if t.params["loss"] == "cross_entropy")


# ---- output --------------------------------------------------------------------------

def test_best_summary_and_records():
    result = search()
    values = [t.value for t in result.trials]
    assert result.best_value == min(values)
    assert result.best_params == result.trials[int(np.argmin(values))].params
    assert set(result.best_params) == set(SPACE)
    text = result.summary()
    assert isinstance(text, str) and repr(text) == str(text)
    rows = [line.split() for line in text.splitlines()[4:10]]
    assert [int(r[1]) for r in rows] == [t.number for t in sorted(result.trials,
                                                                   key=lambda t: t.value)]
    assert "val_loss" in text and "memory" in text and "status" in text
    assert "6 of 6 trials" in repr(result)
    records = result.to_records()
    assert [r["value"] for r in records] == values
    assert records[0]["params_learning_rate"] == result.trials[0].params["learning_rate"]


def test_to_csv_and_to_dataframe(tmp_path):
    result = search(n_trials=3)
    path = tmp_path / "trials.csv"
    result.to_csv(path)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["value"]) for r in rows] == [t.value for t in result.trials]
    pd = pytest.importorskip("pandas")
    frame = result.to_dataframe()
    assert isinstance(frame, pd.DataFrame) and len(frame) == 3
    assert {"number", "status", "value", "params_learning_rate", "train_time",
            "peak_memory", "val_loss", "best_val_loss"} <= set(frame.columns)


def test_to_dataframe_without_pandas_says_how_to_get_it(monkeypatch):
    result = search(n_trials=1)
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="pip install pandas"):
        result.to_dataframe()


def test_plot_has_a_panel_per_hyperparameter_and_best_so_far():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    result = search()
    fig = result.plot()
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_xlabel() for ax in axes] == sorted(SPACE) + ["trial"]
    assert {ax.get_xlabel(): ax.get_xscale() for ax in axes}["learning_rate"] == "log"
    assert axes[1].get_xscale() == "linear"                     # dropout
    # best-so-far line: the running minimum over trials in order
    line = axes[-1].get_lines()[0]
    np.testing.assert_array_equal(line.get_ydata(),
                                  np.minimum.accumulate([t.value for t in result.trials]))
    plt.close(fig)


def test_verbose_levels(capsys):
    search(n_trials=2, verbose=0)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    search(n_trials=2, verbose=2)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and err[0].startswith("trial 0") and "val_loss" in err[0]


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_shows_trials_and_the_best_value(monkeypatch):
    stream = _Terminal()
    real = progress_mod.Progress

    def to_stream(*args, **kwargs):
        return real(*args, file=stream, **kwargs)
    monkeypatch.setattr(strategies, "Progress", to_stream)
    result = search(n_trials=3, verbose=1)
    text = stream.getvalue()
    assert "3/3" in text and "trial" in text
    assert f"best val_loss {result.best_value:.4g} (trial {result.best.number})" in text


def test_a_log_in_use_by_another_search_is_refused(tmp_path):
    path = tmp_path / "search.jsonl"
    search(log=path, n_trials=1)
    holder = SearchLog(path, json.loads(_lines(path)[0]))     # the same search's header
    holder.open()
    try:
        with pytest.raises(RuntimeError, match="in use by another running search"):
            search(log=path, n_trials=1)
    finally:
        holder.close()


def test_trial_round_trips_through_a_dict():
    t = search(n_trials=1).trials[0]
    again = Trial.from_dict(t.to_dict())
    assert again == t and isinstance(again.hparams, hp.HyperParams)
    assert isinstance(search(n_trials=1), SearchResult)
