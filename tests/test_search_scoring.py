"""Scoring a practitioner expects: validation_data, cv=k (stratified k-fold) and
repeats=n, each trial scored by the mean with its standard deviation kept (issue 15,
item 5). Oracles: direct fits of hp.Trainer on the same rows with the same seeds,
numpy's mean and std, and the class counts of each fold.
"""
import json
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import hpframe as hp
from hpframe.search import Choice, LogUniform, grid_search, random_search, \
    successive_halving
from hpframe.search.strategies import kfold_indices, repeat_seed

from test_search import BASE, SPACE, X, Y, search, signature

X_VAL, Y_VAL = X[:40] + 0.1, Y[:40]


def direct(hparams, X_fit, y_fit, validation=None):
    with threadpool_limits(1, user_api="blas"):
        trainer = hp.Trainer(hparams).fit(X_fit, y_fit, validation_data=validation,
                                          verbose=0)
    return trainer.history.history["val_loss"][-1]


def test_validation_data_replaces_the_split_without_error():
    base = BASE.replace(validation_split=0.0)
    with pytest.raises(ValueError, match="validation_split is 0.*validation_data"):
        search(base=base)
    result = search(base=base, validation_data=(X_VAL, Y_VAL), n_trials=3)
    for t in result.trials:
        assert t.hparams.validation_split == 0.0
        assert t.value == direct(t.hparams, X, Y, (X_VAL, Y_VAL))
    # with base.validation_split 0.25 it is replaced too: trials train on all of X
    again = search(validation_data=(X_VAL, Y_VAL), n_trials=3)
    assert signature(again) == signature(result)


def test_cv_folds_partition_the_rows_and_keep_the_class_shares():
    y = np.repeat([0, 1, 2], [50, 31, 19])
    folds = kfold_indices(y, 4, seed=0)
    assert sorted(np.concatenate([val for _, val in folds]).tolist()) == list(range(100))
    for train, val in folds:
        assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == 100
        counts = np.bincount(y[val], minlength=3)
        assert np.all(np.abs(counts - np.array([50, 31, 19]) / 4) <= 1)
    sizes = [len(val) for _, val in folds]
    assert max(sizes) - min(sizes) <= 1
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, kfold_indices(y, 4, 0)))
    other = kfold_indices(y, 4, seed=0, repeat=1)
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(folds, other))
    with pytest.raises(ValueError, match="class 2 has 19"):
        kfold_indices(y, 20, seed=0)
    plain = kfold_indices(np.linspace(0, 1, 10), 3, seed=0, stratify=False)
    assert sorted(len(v) for _, v in plain) == [3, 3, 4]


def test_cv_scores_each_trial_by_the_mean_of_its_folds():
    result = search(cv=3, n_trials=3)
    folds = kfold_indices(Y, 3, seed=0)
    for t in result.trials:
        assert t.hparams.validation_split == 0.0
        expected = [direct(t.hparams, X[tr], Y[tr], (X[va], Y[va])) for tr, va in folds]
        assert t.scores == expected
        assert t.value == pytest.approx(np.mean(expected), rel=1e-12)
        assert t.value_sd == pytest.approx(np.std(expected, ddof=1), rel=1e-12)
        assert t.metrics["val_loss"] == pytest.approx(np.mean(expected), rel=1e-12)
        assert t.history["val_loss"][-1] == expected[0]        # the history is fold 0's
    text = result.summary()
    assert f"{result.best.value:.4g} ± {result.best.value_sd:.2g}" in text
    assert "value_sd" in result.to_records()[0]


def test_repeats_train_each_configuration_with_several_seeds():
    plain = search(n_trials=2)
    result = search(repeats=3, n_trials=2)
    for p, t in zip(plain.trials, result.trials):
        seeds = [t.seed, repeat_seed(t.seed, 1), repeat_seed(t.seed, 2)]
        assert len(set(seeds)) == 3
        expected = [direct(t.hparams.replace(seed=s), X, Y) for s in seeds]
        assert t.scores == expected and t.scores[0] == p.value
        assert t.value == pytest.approx(np.mean(expected), rel=1e-12)
        assert t.value_sd == pytest.approx(np.std(expected, ddof=1), rel=1e-12)
    both = search(cv=2, repeats=2, n_trials=1)
    assert len(both.trials[0].scores) == 4


def test_cv_results_are_the_same_serially_in_threads_and_processes(tmp_path):
    serial = search(cv=3, repeats=2, n_trials=4)
    assert signature(search(cv=3, repeats=2, n_trials=4, n_jobs=2)) == signature(serial)
    with ProcessPoolExecutor(2) as executor:
        assert signature(search(cv=3, repeats=2, n_trials=4, executor=executor)) == \
            signature(serial)
    assert [t.scores for t in serial.trials] == \
        [t.scores for t in search(cv=3, repeats=2, n_trials=4, n_jobs=2).trials]
    path = tmp_path / "search.jsonl"
    first = search(cv=3, n_trials=2, log=path)
    header = json.loads(path.read_text().splitlines()[0])
    assert header["cv"] == {"folds": 3, "stratified": True}
    resumed = search(cv=3, n_trials=2, log=path)
    assert signature(resumed) == signature(first)
    assert [(t.value_sd, t.scores) for t in resumed.trials] == \
        [(t.value_sd, t.scores) for t in first.trials]
    with pytest.raises(ValueError, match="different search.*cv"):
        search(cv=4, n_trials=2, log=path)


def test_halving_with_cv_promotes_on_the_mean_and_continues_every_fold(tmp_path):
    kwargs = dict(space=SPACE, n_trials=6, min_epochs=1, max_epochs=3, base=BASE,
                  verbose=0, cv=2)
    serial = successive_halving(X, Y, **kwargs)
    threads = successive_halving(X, Y, n_jobs=2, **kwargs)
    assert signature(threads) == signature(serial)
    rung0 = sorted((t for t in serial.records if t.rung == 0),
                   key=lambda t: (t.value, t.number))
    promoted = sorted(t.number for t in serial.records if t.rung == 1)
    assert promoted == sorted(t.number for t in rung0[:2])
    top = [t for t in serial.trials if t.rung == 1]
    assert all(len(t.scores) == 2 and t.epochs == 3 for t in top)
    # a promoted model continues: replaying its folds from the seeds gives the same
    path = tmp_path / "halving.jsonl"
    successive_halving(X, Y, log=path, **kwargs)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(l for l in lines if json.loads(l).get("rung", 0) != 1) + "\n")
    resumed = successive_halving(X, Y, log=path, **kwargs)
    assert signature(resumed) == signature(serial)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"cv": 1}, ValueError, "cv must be an integer >= 2"),
    ({"cv": True}, TypeError, "cv must be an integer"),
    ({"cv": 3, "validation_data": (X_VAL, Y_VAL)}, ValueError, "not both"),
    ({"cv": 500}, ValueError, "at least 500 samples"),
    ({"repeats": 0}, ValueError, "repeats must be an integer >= 1"),
    ({"validation_data": X_VAL}, TypeError, "validation_data must be a tuple"),
    ({"validation_data": (X_VAL[:, :3], Y_VAL)}, ValueError, "X_val has 3 features"),
    ({"validation_data": (X_VAL, Y_VAL[:5])}, ValueError, "y_val"),
    ({"cv": 3, "space": {"validation_split": hp.Uniform(0.1, 0.3)}}, ValueError,
     "remove validation_split"),
])
def test_scoring_arguments_are_checked(kwargs, error, message):
    with pytest.raises(error, match=message):
        search(**kwargs)


def test_cv_on_a_regression_is_not_stratified():
    rng = np.random.default_rng(0)
    Xr = rng.normal(size=(90, 3))
    yr = Xr @ np.array([1.0, -2.0, 0.5])
    result = random_search(Xr, yr, {"learning_rate": LogUniform(1e-3, 1e-1)}, n_trials=2,
                           base=BASE.replace(loss="mse"), cv=3, verbose=0)
    assert all(t.ok and len(t.scores) == 3 for t in result.trials)
