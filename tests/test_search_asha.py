"""asha and hyperband: asynchronous successive halving (issue 15, item 2).

Oracles: a replay of the log that checks, record by record, the ASHA rule as the
paper states it (a promotion goes to a trial in the best 1/eta of its rung's finished
trials; a new configuration starts only when nothing can be promoted); the rung sizes
of synchronous halving; Hyperband's bracket table from Li et al. (2017); and
bit-identical values for the same (trial, rung) however the trials ran.
"""
import json
from concurrent.futures import ProcessPoolExecutor

import pytest

import hpframe as hp
from hpframe.search import asha, hyperband
from hpframe.search.asha import hyperband_brackets
from hpframe.search import trial as trial_mod

from test_search import BASE, SPACE, X, Y, _count_runs, signature
from test_search_killed import _plan, _val_loss_killed_once

ETA = 3


def run(**kwargs):
    kwargs.setdefault("space", SPACE)
    kwargs.setdefault("n_trials", 12)
    kwargs.setdefault("min_epochs", 1)
    kwargs.setdefault("max_epochs", 9)
    kwargs.setdefault("base", BASE)
    kwargs.setdefault("verbose", 0)
    return asha(X, Y, **kwargs)


def check_asha_rule(records, numbers, rungs, eta=ETA, first=0):
    """Replay serial records in order; assert each decision followed ASHA's rule."""
    finished = {k: [] for k in range(len(rungs))}
    started = 0
    for r in records:
        k = r["rung"] - first
        promotable = []
        for level in range(len(rungs) - 2, -1, -1):
            done = finished[level]
            top = sorted((t for t in done if t["status"] == "ok"),
                         key=lambda t: (t["value"], t["number"]))[:len(done) // eta]
            above = {t["number"] for t in finished[level + 1]}
            promotable += [(t["number"], level + 1) for t in top if t["number"] not in above]
            if promotable:
                break
        if k == 0:
            assert not promotable, f"trial {r['number']} started while {promotable} waited"
            assert r["number"] == numbers[started]
            started += 1
        else:
            assert (r["number"], k) == promotable[0], (r["number"], k, promotable)
        assert r["epochs"] == rungs[k] or r["status"] != "ok"
        finished[k].append(r)
    assert started == len(numbers)
    return finished


def check_final_rungs(records, n, eta=ETA, levels=3):
    """Once all is finished, the best n_k // eta of every rung were promoted."""
    for k in range(levels - 1):
        rung = [t for t in records if t.rung == k]
        above = {t.number for t in records if t.rung == k + 1}
        best = sorted((t for t in rung if t.ok), key=lambda t: (t.value, t.number))
        assert {t.number for t in best[:len(rung) // eta]} <= above
        assert len(above) >= len(rung) // eta
    assert sum(t.rung == 0 for t in records) == n


def test_serial_asha_follows_the_rule_and_ends_with_halvings_rung_sizes(tmp_path):
    path = tmp_path / "asha.jsonl"
    result = run(log=path)
    records = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    finished = check_asha_rule(records, list(range(12)), [1, 3, 9])
    assert [len(finished[k]) for k in range(3)] == [12, 4, 1]      # here: 12, 12//3, 4//3
    check_final_rungs(result.records, 12)
    assert result.rungs == [1, 3, 9]
    assert result.best.rung == 2 and result.best.epochs == 9
    assert signature(run()) == signature(result)                    # serially: fixed


def test_values_do_not_depend_on_where_or_in_which_order_trials_ran():
    serial = {(t.number, t.rung): t.value for t in run().records}
    for kwargs in ({"n_jobs": 2},):
        other = run(**kwargs)
        both = set(serial) & {(t.number, t.rung) for t in other.records}
        assert len(both) >= 12
        assert all(t.value == serial[(t.number, t.rung)] for t in other.records
                   if (t.number, t.rung) in serial)
        check_final_rungs(other.records, 12)


def interrupt_at(monkeypatch, n):
    """Make the ``n``-th trial raise KeyboardInterrupt (Ctrl-C); returns the real runner."""
    real = trial_mod.run_trial
    calls = []

    def interrupt_later(task):
        calls.append(task.number)
        if len(calls) == n:
            raise KeyboardInterrupt
        return real(task)
    monkeypatch.setattr(trial_mod, "run_trial", interrupt_later)
    return real


def test_asha_resumes_from_its_log_and_replays_lost_models(tmp_path, monkeypatch):
    full = run()
    path = tmp_path / "asha.jsonl"
    real = interrupt_at(monkeypatch, 10)
    partial = run(log=path)
    assert partial.interrupted
    monkeypatch.setattr(trial_mod, "run_trial", real)
    resumed = run(log=path)
    assert signature(resumed) == signature(full)
    assert [(t.number, t.rung, t.value) for t in resumed.records] == \
        [(t.number, t.rung, t.value) for t in full.records]


def test_asha_survives_a_killed_worker(tmp_path, monkeypatch):
    _plan(tmp_path, monkeypatch, victim=[1])
    reference = {(t.number, t.rung): t.value for t in run().records}
    with ProcessPoolExecutor(2) as executor, pytest.warns(RuntimeWarning, match="died"):
        result = run(metric=_val_loss_killed_once, executor=executor)
    assert all(t.ok for t in result.records), result.summary()
    assert all(t.value == reference[(t.number, t.rung)] for t in result.records
               if (t.number, t.rung) in reference)
    check_final_rungs(result.records, 12)


def test_hyperband_brackets_are_the_papers():
    # Li et al. (2017), table 1: R = 81, eta = 3
    assert hyperband_brackets(1, 81, 3) == [(81, 0), (34, 1), (15, 2), (8, 3), (5, 4)]
    assert hyperband_brackets(1, 9, 3) == [(9, 0), (5, 1), (3, 2)]
    assert hyperband_brackets(4, 4, 3) == [(1, 0)]


def test_hyperband_runs_every_bracket_with_asha(tmp_path):
    path = tmp_path / "hb.jsonl"
    result = hyperband(X, Y, SPACE, min_epochs=1, max_epochs=9, base=BASE, verbose=0,
                       log=path)
    assert len(result.trials) == 9 + 5 + 3
    brackets = [range(0, 9), range(9, 14), range(14, 17)]
    records = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    for numbers, first in zip(brackets, [0, 1, 2]):
        mine = [r for r in records if r["number"] in numbers]
        check_asha_rule(mine, list(numbers), [1, 3, 9][first:], first=first)
    by_rung = [sum(t.rung == k for t in result.records) for k in range(3)]
    assert by_rung == [9, 3 + 5, 1 + 1 + 3]
    assert all(t.epochs == 9 for t in result.trials if t.number in brackets[2])
    assert result.best.rung == 2
    again = hyperband(X, Y, SPACE, min_epochs=1, max_epochs=9, base=BASE, verbose=0,
                      log=path)
    assert signature(again) == signature(result)


@pytest.mark.parametrize("kwargs, message", [
    ({"space": {"epochs": hp.IntUniform(1, 3)}}, "must not search 'epochs'"),
    ({"min_epochs": 5, "max_epochs": 3}, "max_epochs must be >= min_epochs"),
    ({"eta": 1}, "eta must be an integer >= 2"),
    ({"n_trials": 0}, "n_trials must be an integer >= 1"),
])
def test_asha_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        run(**kwargs)


def _records(result):
    return [(t.number, t.rung, t.status, t.value, t.epochs) for t in result.records]


def _val_loss_fails_at_rung_1_for_odd_seeds(trainer):
    """A metric that fails some trials at rung 1 (3 epochs), so fewer are promotable."""
    losses = trainer.history.history["val_loss"]
    if len(losses) == 3 and trainer.hparams.seed % 2:
        raise ValueError("planted failure")
    return losses[-1]


@pytest.mark.parametrize("n_trials", [12, 14])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_certain_promotions_are_synchronous_halvings(n_trials, n_jobs):
    # oracle: successive_halving, which waits for whole rungs
    halving = hp.successive_halving(X, Y, SPACE, n_trials=n_trials, min_epochs=1,
                                    max_epochs=9, base=BASE, verbose=0)
    result = run(n_trials=n_trials, n_jobs=n_jobs, promotion="certain")
    assert _records(result) == _records(halving)
    assert signature(result) == signature(halving)


def test_certain_promotions_do_not_depend_on_the_order_trials_finish(monkeypatch):
    # three threads, and every trial held back for a seed-drawn while, so trials finish
    # in a scrambled order; failed trials at rung 1 shrink the rung above
    import random
    import time
    real = trial_mod.run_trial

    def scrambled(task):
        time.sleep(random.Random(task.number * 7 + task.rung).uniform(0, 0.03))
        return real(task)
    kwargs = dict(n_trials=14, metric=_val_loss_fails_at_rung_1_for_odd_seeds)
    halving = hp.successive_halving(X, Y, SPACE, min_epochs=1, max_epochs=9, base=BASE,
                                    verbose=0, **kwargs)
    assert any(not t.ok for t in halving.records)              # the failures happened
    monkeypatch.setattr(trial_mod, "run_trial", scrambled)
    result = run(n_jobs=3, promotion="certain", **kwargs)
    assert _records(result) == _records(halving)


def test_certain_hyperband_halves_each_bracket_by_its_planned_sizes():
    result = hyperband(X, Y, SPACE, min_epochs=1, max_epochs=9, base=BASE, verbose=0,
                       n_jobs=2, promotion="certain")
    brackets = [(range(0, 9), 0, [9, 3, 1]), (range(9, 14), 1, [5, 1]), (range(14, 17), 2, [3])]
    for numbers, first, sizes in brackets:
        mine = [t for t in result.records if t.number in numbers]
        for local, size in enumerate(sizes):
            rung = [t for t in mine if t.rung == first + local]
            assert len(rung) == size
            if local:
                below = sorted((t for t in mine if t.rung == first + local - 1 and t.ok),
                               key=lambda t: (t.value, t.number))
                assert {t.number for t in rung} == {t.number for t in below[:size]}


def test_a_log_is_not_resumed_with_the_other_promotion_rule(tmp_path):
    path = tmp_path / "asha.jsonl"
    run(n_trials=3, max_epochs=3, log=path)
    with pytest.raises(ValueError, match="promotion"):
        run(n_trials=3, max_epochs=3, log=path, promotion="certain")


def test_promotion_must_be_a_known_rule():
    with pytest.raises(ValueError, match="promotion must be one of 'eager', 'certain'; "
                                         "got 'lazy'"):
        run(promotion="lazy")
    with pytest.raises(ValueError, match="promotion must be one of"):
        hyperband(X, Y, SPACE, max_epochs=3, base=BASE, verbose=0, promotion=None)
