"""result.importance(): which knob mattered (issue 15, item 4).

Oracles: objectives built so that the answer is known - one knob drives everything;
two knobs add up with variances in the ratio 9 : 1 (shares 0.9 and 0.1 by
construction, computed here from the uniform distributions' variances).
"""
import math
import sys

import numpy as np
import pytest

import hpframe as hp
from hpframe.search import Choice, IntUniform, LogUniform, Uniform, grid_search, tpe_search

from test_search import BASE, X, Y, search

QUICK = BASE.replace(epochs=1, hidden_layers=(4,))
SPACE = {"learning_rate": LogUniform(1e-4, 1e0), "dropout": Uniform(0.0, 0.5),
         "batch_size": Choice([16, 32, 64]), "hidden_layers": Choice([(4,), (8,)])}


def only_learning_rate(trainer):
    """Everything is driven by the learning rate (its log), nothing else matters."""
    return (math.log10(trainer.hparams.learning_rate) + 2.0) ** 2


def nine_to_one(trainer):
    """3 * u + v with u, v uniform on [0, 1]: variances 9/12 and 1/12, shares 0.9, 0.1."""
    u = (math.log10(trainer.hparams.learning_rate) + 4.0) / 4.0
    v = trainer.hparams.dropout / 0.5
    return 3.0 * u + v


def test_one_knob_that_drives_everything_comes_first():
    result = search(space=SPACE, metric=only_learning_rate, n_trials=40, base=QUICK)
    shares = result.importance()
    assert list(shares)[0] == "learning_rate", shares
    assert shares["learning_rate"] > 0.8, shares
    assert all(shares[k] < 0.1 for k in SPACE if k != "learning_rate"), shares
    assert set(shares) == set(SPACE) and all(0 <= s <= 1 for s in shares.values())
    assert shares == result.importance()                       # seeded: the same again
    fig = result.plot_importance()
    widths = [p.get_width() for p in fig.axes[0].patches]
    assert sorted(widths) == sorted(shares.values())


def test_shares_match_variances_known_by_construction():
    space = {"learning_rate": LogUniform(1e-4, 1e0), "dropout": Uniform(0.0, 0.5)}
    shares = search(space=space, metric=nine_to_one, n_trials=80, base=QUICK).importance()
    expected = {"learning_rate": 9 / 10, "dropout": 1 / 10}
    for key, share in expected.items():
        assert shares[key] == pytest.approx(share, abs=0.1), shares


def test_importance_of_grids_multi_objective_and_tpe():
    grid = {"hidden_layers": [(2,), (8,), (32,)], "learning_rate": [1e-3, 1e-2]}
    result = grid_search(X, Y, grid, base=BASE, metric=("val_loss", n_params), verbose=0)
    by_size = result.importance(objective=1)
    assert list(by_size)[0] == "hidden_layers" and by_size["hidden_layers"] > 0.8, by_size
    assert result.importance(objective="test_search_importance.n_params") == by_size
    with pytest.raises(ValueError, match="objective must be one of"):
        result.importance(objective="memory")
    tpe = tpe_search(X, Y, SPACE, n_trials=20, base=QUICK, metric=only_learning_rate,
                     n_startup_trials=10, verbose=0)
    assert list(tpe.importance())[0] == "learning_rate"


def n_params(trainer):
    return float(trainer.n_params)


def test_importance_needs_trials_and_scikit_learn(monkeypatch):
    with pytest.raises(ValueError, match="at least 4 successful trials"):
        search(n_trials=3).importance()
    result = search(n_trials=6)
    monkeypatch.setitem(sys.modules, "sklearn.ensemble", None)
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        result.importance()
