"""Conditional spaces: a list of dicts, as scikit-learn's param_distributions (issue 15,
item 5). Oracles: the draw written out by hand from the trial's generator, a direct fit
with the trial's hyperparameters, and scikit-learn's ParameterGrid for lists of grids.
"""
import json

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import hpframe as hp
from hpframe.search import Choice, IntUniform, LogUniform, Uniform, grid_search, \
    random_search, successive_halving
from hpframe.search import spaces as S

from test_search import BASE, X, Y, search, signature

SGD = {"optimizer": Choice(["sgd"]), "learning_rate": LogUniform(1e-3, 1e-1)}
MOMENTUM = {"optimizer": Choice(["momentum", "nesterov"]), "momentum": Uniform(0.5, 0.99),
            "learning_rate": LogUniform(1e-3, 1e-1)}
CONDITIONAL = [SGD, MOMENTUM]


def test_each_trial_draws_one_dict_then_its_values():
    result = search(space=CONDITIONAL, n_trials=12)
    kinds = set()
    for t in result.trials:
        rng = np.random.default_rng(np.random.SeedSequence(0, spawn_key=(t.number, 0)))
        part = CONDITIONAL[int(rng.integers(2))]
        expected = {k: part[k].sample(rng) for k in sorted(part)}
        assert t.params == expected
        assert ("momentum" in t.params) == (t.params["optimizer"] != "sgd")
        assert t.hparams == BASE.replace(seed=t.seed, **t.params)
        kinds.add(t.params["optimizer"] == "sgd")
    assert kinds == {True, False}                 # both dicts were drawn
    t = result.trials[0]
    with threadpool_limits(1, user_api="blas"):
        direct = hp.Trainer(t.hparams).fit(X, Y, verbose=0)
    assert t.value == direct.history.history["val_loss"][-1]
    # a single dict draws exactly as before (no extra draw for the choice of dict)
    assert signature(search(space=[BASE_SPACE])) == signature(search(space=BASE_SPACE))


BASE_SPACE = {"learning_rate": LogUniform(1e-3, 1e-1), "batch_size": Choice([16, 32])}


def test_a_list_of_grids_is_each_grid_in_turn():
    from sklearn.model_selection import ParameterGrid
    grids = [{"optimizer": ["sgd"], "learning_rate": [1e-2, 1e-1]},
             {"optimizer": ["momentum"], "momentum": [0.5, 0.9], "learning_rate": [1e-2]}]
    result = grid_search(X, Y, grids, base=BASE, verbose=0)
    expected = [dict(p) for p in ParameterGrid(grids)]
    def canonical(points):
        return sorted(json.dumps(p, sort_keys=True) for p in points)
    assert canonical(t.params for t in result.trials) == canonical(expected)
    assert [t.params for t in result.trials] == S.grid_points(S.check_grid(grids, BASE))
    assert len(result.trials) == 4


def test_summary_plot_log_and_halving_with_a_conditional_space(tmp_path):
    path = tmp_path / "search.jsonl"
    result = search(space=CONDITIONAL, n_trials=8, log=path)
    header = json.loads(path.read_text().splitlines()[0])
    assert isinstance(header["space"], list) and header["space"][1]["momentum"]["type"] == \
        "Uniform"
    assert signature(search(space=CONDITIONAL, n_trials=8, log=path)) == signature(result)
    text = result.summary()
    sgd_rows = [line for line in text.splitlines()[4:12] if " sgd " in line]
    assert sgd_rows and all(" - " in line for line in sgd_rows)    # no momentum searched
    assert set(result.space) == {"learning_rate", "momentum", "optimizer"}
    assert result.space["optimizer"] == Choice(["sgd", "momentum", "nesterov"])
    fig = result.plot()
    momentum_ax = [a for a in fig.axes if a.get_xlabel() == "momentum"][0]
    plotted = sum(len(c.get_offsets()) for c in momentum_ax.collections)
    with_momentum = sum("momentum" in t.params for t in result.trials)
    assert plotted == with_momentum + ("momentum" in result.best.params)   # + the star
    halving = successive_halving(X, Y, CONDITIONAL, n_trials=6, min_epochs=1, max_epochs=3,
                                 base=BASE, verbose=0)
    assert [t.params for t in halving.trials] == [t.params for t in search(
        space=CONDITIONAL, n_trials=6).trials]


@pytest.mark.parametrize("space, error, message", [
    ([], ValueError, "empty list"),
    ([SGD, {"learning_rat": Uniform(0.1, 0.2)}], ValueError, r"space\[1\]: .*learning_rate"),
    ([SGD, "momentum"], TypeError, r"space\[1\] must be a dict"),
    ([SGD, {}], ValueError, r"space\[1\]: space is empty"),
])
def test_conditional_spaces_are_checked(space, error, message):
    with pytest.raises(error, match=message):
        search(space=space)


def test_halving_refuses_epochs_in_any_dict():
    with pytest.raises(ValueError, match="epochs"):
        successive_halving(X, Y, [SGD, {"epochs": IntUniform(1, 3)}], n_trials=3,
                           base=BASE, verbose=0)
