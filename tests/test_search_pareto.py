"""Several objectives at once: the Pareto front (issue 15, item 3).

Oracles: a brute-force front computed here from the trials' own numbers (every pair
compared), objectives read back from the trial's history, train_time and peak memory,
and a deterministic second objective (the parameter count) whose front is known by hand.
"""
import json

import numpy as np
import pytest

import hpframe as hp
from hpframe.search import Choice, LogUniform, grid_search, random_search
from hpframe.search.trial import Metric

from test_search import BASE, X, Y, search, signature


def n_params(trainer):
    """A second objective that does not depend on training: the model's size."""
    return float(trainer.n_params)


def brute_force_front(points):
    """Indices of the points (to minimise in every coordinate) that nothing dominates."""
    front = []
    for i, p in enumerate(points):
        beaten = False
        for j, q in enumerate(points):
            if j != i and all(a <= b for a, b in zip(q, p)) and q != p:
                beaten = True
        if not beaten:
            front.append(i)
    return front


def test_values_are_the_objectives_of_each_trial():
    result = search(metric=("val_loss", "time"), n_trials=8)
    for t in result.trials:
        assert t.values == [t.history["val_loss"][-1], t.train_time]
        assert t.value == t.values[0]
    result = search(metric=("val_accuracy", "peak_memory"), n_trials=3)
    for t in result.trials:
        assert t.values == [t.history["val_accuracy"][-1], float(t.peak_memory)]


def test_the_front_is_what_no_other_trial_dominates():
    result = search(metric=("val_accuracy", "time"), n_trials=10)
    points = [(-t.values[0], t.values[1]) for t in result.trials]     # both to minimise
    expected = {result.trials[i].number for i in brute_force_front(points)}
    front = result.pareto_front
    assert {t.number for t in front} == expected
    best_accuracy = max(t.values[0] for t in result.trials)
    fastest = min(t.train_time for t in result.trials)
    assert front[0].values[0] == best_accuracy           # best first on the first objective
    assert any(t.train_time == fastest for t in front)


def test_a_front_known_by_hand():
    # Wider models: more parameters. The smallest model is on the front whatever its
    # loss, and so is the lowest loss; a model both bigger and worse than another is not.
    grid = {"hidden_layers": [(2,), (8,), (32,)], "learning_rate": [1e-3, 3e-2]}
    result = grid_search(X, Y, grid, base=BASE, metric=("val_loss", n_params), verbose=0)
    trials = result.trials
    front = {t.number for t in result.pareto_front}
    for t in trials:
        assert t.values[1] == float(hp.Trainer(t.hparams).build(5, 3).n_params)
        dominated = any(o.values[0] <= t.values[0] and o.values[1] <= t.values[1]
                        and o.values != t.values for o in trials)
        assert (t.number in front) == (not dominated)
    smallest = [t for t in trials if t.params["hidden_layers"] == (2,)]
    assert min(smallest, key=lambda t: t.values[0]).number in front
    assert min(trials, key=lambda t: t.values[0]).number in front


def test_summary_says_what_each_front_point_costs():
    result = grid_search(X, Y, {"hidden_layers": [(2,), (8,), (32,)]}, base=BASE,
                         metric=("val_loss", n_params), verbose=0)
    text = result.summary()
    assert "Pareto front of val_loss, test_search_pareto.n_params" in text
    front = result.pareto_front
    lines = text.split("Pareto front")[1].splitlines()
    best_loss = min(t.values[0] for t in front)
    fewest = min(t.values[1] for t in front)
    for t in front:
        row = next(line for line in lines if line.startswith(f"{t.number} "))
        if t.values[0] == best_loss:
            assert "best val_loss" in row
        else:                               # costs: loss above the best, in percent
            pct = round(100 * (t.values[0] - best_loss) / abs(best_loss))
            assert f"val_loss +{pct}%" in row
        if t.values[1] == fewest:
            assert "best test_search_pareto.n_params" in row


def test_plot_draws_the_front():
    result = search(metric=("val_loss", "time"), n_trials=6)
    fig = result.plot()
    ax = fig.axes[0]
    assert "trade-off" in ax.get_title()
    line = [l for l in ax.get_lines() if l.get_label() == "Pareto front"][0]
    front = sorted(result.pareto_front, key=lambda t: t.values[1])
    np.testing.assert_array_equal(line.get_xdata(), [t.values[1] for t in front])
    np.testing.assert_array_equal(line.get_ydata(), [t.values[0] for t in front])
    assert sum(a.get_visible() for a in fig.axes) == 1 + len(result.space) + 1


def test_single_objective_front_is_the_best():
    result = search()
    assert result.pareto_front == [result.best]
    assert all(t.values is None for t in result.trials)


def test_multi_objective_log_resumes_and_threads_agree(tmp_path):
    path = tmp_path / "search.jsonl"
    first = search(metric=("val_loss", n_params), log=path)
    header = json.loads(path.read_text().splitlines()[0])
    assert [o["name"] for o in header["metric"]["objectives"]] == \
        ["val_loss", "test_search_pareto.n_params"]
    again = search(metric=("val_loss", n_params), log=path)
    assert [t.values for t in again.trials] == [t.values for t in first.trials]
    threads = search(metric=("val_loss", n_params), n_jobs=2)
    assert signature(threads) == signature(first)
    assert [t.values for t in threads.trials] == [t.values for t in first.trials]
    with pytest.raises(ValueError, match="different search.*metric"):
        search(metric="val_loss", log=path)


@pytest.mark.parametrize("metric, error, message", [
    (("val_loss",), ValueError, "at least two"),
    (("val_loss", "val_loss"), ValueError, "must differ"),
    (("val_loss", "upward"), ValueError, "'min' or 'max'"),
    ((("val_loss", "time"), "time"), ValueError, "nested"),
    (("val_loss", 3), TypeError, "history key"),
])
def test_bad_objective_tuples(metric, error, message):
    with pytest.raises(error, match=message):
        Metric(metric)


def test_objective_forms():
    m = Metric(("val_accuracy", ("val_r2", "max"), "peak_memory"))
    assert [(o.name, o.mode) for o in m.objectives] == \
        [("val_accuracy", "max"), ("val_r2", "max"), ("peak_memory", "min")]
    assert m.name == "val_accuracy" and m.mode == "max" and m.multi
    assert m.dominates([0.9, 0.5, 10], [0.8, 0.5, 10])
    assert not m.dominates([0.9, 0.5, 20], [0.8, 0.5, 10])
    assert not m.dominates([0.9, 0.5, 10], [0.9, 0.5, 10])
    assert Metric(("val_r2", "max")).objectives == [Metric(("val_r2", "max"))] or \
        not Metric(("val_r2", "max")).multi
