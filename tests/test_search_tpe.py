"""tpe_search: the Tree-structured Parzen Estimator (issue 15, item 1).

Oracles: random search's own trials (the start-up trials are the same draws), numerical
integration of the Parzen density, a serial run against threads and processes with
the same batch, a resumed run against an uninterrupted one, and - for "it searches
where good trials were" - random search at equal budget on objectives whose optimum is
known by construction, over several seeds.
"""
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

import hpframe as hp
from hpframe.search import Choice, IntUniform, LogUniform, Uniform, random_search, tpe_search
from hpframe.search import tpe
from hpframe.search import trial as trial_mod

from test_search import BASE, SPACE, X, Y, _count_runs, signature

SMALL = BASE.replace(epochs=1)


def run(**kwargs):
    kwargs.setdefault("space", SPACE)
    kwargs.setdefault("n_trials", 10)
    kwargs.setdefault("base", SMALL)
    kwargs.setdefault("verbose", 0)
    kwargs.setdefault("n_startup_trials", 4)
    return tpe_search(X, Y, **kwargs)


def test_startup_trials_are_random_searchs_trials():
    result = run(n_trials=10, n_startup_trials=4)
    random = random_search(X, Y, SPACE, n_trials=4, base=SMALL, verbose=0)
    assert signature(result)[:4] == signature(random)
    assert [t.params for t in result.trials[4:]] != \
        [t.params for t in random_search(X, Y, SPACE, n_trials=10, base=SMALL,
                                         verbose=0).trials[4:]]
    assert result.strategy == "tpe_search" and len(result.trials) == 10


def test_same_seed_and_batch_give_the_same_trials_anywhere():
    serial = run(batch=2)
    assert signature(run(batch=2)) == signature(serial)
    assert signature(run(batch=2, n_jobs=2)) == signature(serial)
    with ProcessPoolExecutor(2) as executor:
        assert signature(run(batch=2, executor=executor)) == signature(serial)
    assert signature(run(n_jobs=2)) == signature(serial)          # batch defaults to n_jobs
    assert signature(run(batch=3)) != signature(serial)


def test_proposals_do_not_depend_on_which_trial_finished_first(monkeypatch):
    serial = run(batch=3, n_trials=13)
    real = trial_mod.run_trial

    def reversed_order(task):
        time.sleep(0.03 * (2 - task.number % 3))    # the batch's last trial ends first
        return real(task)
    monkeypatch.setattr(trial_mod, "run_trial", reversed_order)
    assert signature(run(batch=3, n_trials=13, n_jobs=3)) == signature(serial)


def test_resume_proposes_the_same_trials_and_runs_only_the_missing(tmp_path, monkeypatch):
    full = run(batch=2, n_trials=12)
    path = tmp_path / "tpe.jsonl"
    real = trial_mod.run_trial

    def interrupt_at_7(task):
        if task.number == 7:
            raise KeyboardInterrupt
        return real(task)
    monkeypatch.setattr(trial_mod, "run_trial", interrupt_at_7)
    partial = run(batch=2, n_trials=12, log=path)
    assert partial.interrupted and max(t.number for t in partial.trials) < 7
    monkeypatch.setattr(trial_mod, "run_trial", real)
    ran = _count_runs(monkeypatch)
    resumed = run(batch=2, n_trials=12, log=path)
    assert sorted(ran) == sorted(set(range(12)) - {t.number for t in partial.trials})
    assert signature(resumed) == signature(full) and resumed.complete
    ran.clear()
    bigger = run(batch=2, n_trials=14, log=path)
    assert sorted(ran) == [12, 13]
    assert signature(bigger) == signature(run(batch=2, n_trials=14))
    with pytest.raises(ValueError, match="different search.*batch"):
        run(batch=3, n_trials=12, log=path)
    lines = path.read_text().splitlines()
    record = json.loads(lines[-1])
    record["params"]["learning_rate"] = 0.05                  # not what TPE proposes
    path.write_text("\n".join(lines[:-1] + [json.dumps(record)]) + "\n")
    with pytest.raises(ValueError, match="but this search draws"):
        run(batch=2, n_trials=14, log=path)


def test_the_parzen_density_is_a_density_and_samples_follow_it():
    est = tpe.ParzenEstimator([0.1, 0.15, 0.7], 0.0, 1.0)
    grid = np.linspace(0.0, 1.0, 20001)
    pdf = np.exp(est.log_pdf(grid))
    assert np.trapezoid(pdf, grid) == pytest.approx(1.0, abs=1e-3)
    draws = est.sample(np.random.default_rng(0), 20000)
    assert draws.min() >= 0.0 and draws.max() <= 1.0
    counts, edges = np.histogram(draws, bins=10, range=(0, 1))
    expected = [np.trapezoid(pdf[(grid >= a) & (grid <= b)], grid[(grid >= a) & (grid <= b)])
                for a, b in zip(edges[:-1], edges[1:])]
    np.testing.assert_allclose(counts / 20000, expected, atol=0.01)
    # a lone point in a wide range gets a wide bump; a cluster gets narrow ones
    assert est.sigma[0] < est.sigma[2]
    assert est.sigma[-1] == 1.0                                # the prior: the range


def test_proposals_go_where_the_good_trials_were():
    space = {"dropout": Uniform(0.0, 0.9), "activation": Choice(["relu", "tanh", "elu"]),
             "batch_size": IntUniform(8, 512, log=True)}
    good = [{"dropout": 0.1 + 0.01 * i, "activation": "relu", "batch_size": 16}
            for i in range(4)]
    bad = [{"dropout": 0.6 + 0.02 * i, "activation": "tanh", "batch_size": 256}
           for i in range(20)]
    proposals = [tpe.propose(space, good + bad, seed=0, number=n) for n in range(40)]
    assert np.mean([p["dropout"] for p in proposals]) < 0.35
    assert sum(p["activation"] == "relu" for p in proposals) > 30
    assert np.median([p["batch_size"] for p in proposals]) < 64
    assert all(isinstance(p["batch_size"], int) and 8 <= p["batch_size"] <= 512
               for p in proposals)


def _distance_to_optimum(trainer):
    """A metric known by construction: the optimum is lr=1e-2, dropout=0.25, relu."""
    h = trainer.hparams
    return (math.log10(h.learning_rate) + 2.0) ** 2 + 4 * (h.dropout - 0.25) ** 2 + \
        (0.0 if h.activation == "relu" else 0.5)


def test_tpe_beats_random_search_at_equal_budget_on_a_known_objective():
    space = {"learning_rate": LogUniform(1e-5, 1e0), "dropout": Uniform(0.0, 0.8),
             "activation": Choice(["relu", "tanh", "sigmoid", "elu"])}
    tiny = SMALL.replace(hidden_layers=(2,))
    best, late = {"tpe": [], "random": []}, {"tpe": [], "random": []}
    for seed in range(6):
        kwargs = dict(space=space, n_trials=30, base=tiny, metric=_distance_to_optimum,
                      seed=seed, verbose=0)
        for name, result in [("tpe", tpe_search(X[:60], Y[:60], n_startup_trials=10,
                                                **kwargs)),
                             ("random", random_search(X[:60], Y[:60], **kwargs))]:
            best[name].append(result.best_value)
            late[name].append(np.median([t.value for t in result.trials[20:]]))
    assert np.mean(best["tpe"]) < np.mean(best["random"]), \
        f"TPE should find a better best value on average at equal budget: {best}"
    assert all(t < r for t, r in zip(late["tpe"], late["random"])), \
        f"TPE's later trials should be closer to the optimum than random ones: {late}"


def test_conditional_space_and_arguments():
    space = [{"optimizer": Choice(["sgd"]), "learning_rate": LogUniform(1e-3, 1e-1)},
             {"optimizer": Choice(["momentum"]), "momentum": Uniform(0.5, 0.99),
              "learning_rate": LogUniform(1e-3, 1e-1)}]
    result = run(space=space, n_trials=10, batch=2)
    assert all(("momentum" in t.params) == (t.params["optimizer"] == "momentum")
               for t in result.trials)
    assert tpe.which_dict(space, {"optimizer": "sgd", "learning_rate": 0.01}) == 0
    assert tpe.which_dict(space, {"optimizer": "momentum", "learning_rate": 0.01,
                                  "momentum": 0.9}) == 1
    for kwargs, message in [({"n_startup_trials": 0}, "n_startup_trials"),
                            ({"batch": 0}, "batch must be"),
                            ({"batch": 1.5}, "batch must be")]:
        with pytest.raises((TypeError, ValueError), match=message):
            run(**kwargs)
    assert hp.tpe_search is tpe_search
