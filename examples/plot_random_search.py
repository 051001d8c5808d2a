r"""
====================================
Random search vs grid search
====================================

No formula gives the best hyperparameters: you train with several settings
and keep the one that does best on validation data. The two classic ways to
choose the settings to try are

* **grid search** - list a few values per hyperparameter and try every
  combination (:func:`hpframe.grid_search`);
* **random search** - draw every setting at random from a distribution per
  hyperparameter, such as :class:`~hpframe.LogUniform` for a learning rate
  (:func:`hpframe.random_search`).

With the same budget, random search is usually better. Bergstra and Bengio
(2012) explain why: in most problems only one or two hyperparameters really
matter, but you do not know in advance which. A grid of 27 trials over three
hyperparameters tries only *three* values of each - including the one that
matters - and spends the rest of its budget repeating them in combination with
values of the others that make no difference. 27 random trials try 27
different values of every hyperparameter, so they explore the important one
nine times more finely.

The first half of this example checks that claim with hpframe's own results;
the second shows how to run, read, plot and resume a search.

References: J. Bergstra and Y. Bengio, "Random Search for Hyper-Parameter
Optimization", JMLR 13 (2012) 281-305,
https://jmlr.org/papers/v13/bergstra12a.html
"""

# %%
# The same budget, twice
# ----------------------
# Three hyperparameters over the same ranges for both searches: the learning
# rate (which matters a lot), dropout and weight decay (which matter little
# for this small network). Every trial trains for 10 epochs on the bundled
# digits and is scored by its validation loss. Each search runs every trial
# with one BLAS thread, so the results do not depend on the machine's load.
import os
import shutil
import tempfile
import time

import matplotlib.pyplot as plt
import numpy as np

import hpframe as hp

X, y = hp.datasets.load_digits()
base = hp.HyperParams(hidden_layers=(32,), epochs=10, validation_split=0.2)

space = {"learning_rate": hp.LogUniform(1e-4, 1e-1),
         "dropout": hp.Uniform(0.0, 0.3),
         "weight_decay": hp.LogUniform(1e-6, 1e-3)}
grid = {"learning_rate": [1e-4, 10 ** -2.5, 1e-1],      # 3 values per axis, same ranges
        "dropout": [0.0, 0.15, 0.3],
        "weight_decay": [1e-6, 10 ** -4.5, 1e-3]}

grid_result = hp.grid_search(X, y, grid, base=base, seed=0, verbose=0)
random_result = hp.random_search(X, y, space, n_trials=27, base=base, seed=0, verbose=0)
for result in (grid_result, random_result):
    print(f"{result.strategy:13s} {len(result.trials)} trials, "
          f"{len({t.params['learning_rate'] for t in result.trials}):2d} distinct learning "
          f"rates, best val_loss {result.best_value:.3f} with {result.best_params}")

# %%
# One comparison could be luck, so we repeat both searches with eight
# different seeds (the seed changes every trial's training seed and the random
# draws). This is the slowest part of the example: 432 trainings.
repeats = range(8)
best_grid, best_random = [], []
for seed in repeats:
    best_grid.append(hp.grid_search(X, y, grid, base=base, seed=seed, verbose=0).best_value)
    best_random.append(hp.random_search(X, y, space, n_trials=27, base=base, seed=seed,
                                        verbose=0).best_value)
wins = sum(r < g for r, g in zip(best_random, best_grid))
print(f"best val_loss, mean over {len(repeats)} repeats: grid {np.mean(best_grid):.3f}, "
      f"random {np.mean(best_random):.3f}; random search better in {wins} of {len(repeats)}")

# %%
# Where the trials went, and what they found
# ------------------------------------------
# Left: the 27 settings of each search, projected on learning rate and dropout
# (the grid's 27 points fall on only 9 spots; each hides 3 weight decays).
# Middle: validation loss against learning rate - the curve that matters. The
# grid measures it at three points, and the best of them lies on a slope; the
# random trials trace the whole valley and find its bottom. Right: the best
# validation loss of every repeat; random search wins every pairing.
fig, (ax_where, ax_lr, ax_best) = plt.subplots(1, 3, figsize=(15, 4.2))
for result, marker, color in ((grid_result, "s", "C0"), (random_result, "o", "C1")):
    lr = [t.params["learning_rate"] for t in result.trials]
    dropout = [t.params["dropout"] for t in result.trials]
    loss = [t.value for t in result.trials]
    ax_where.scatter(lr, dropout, marker=marker, color=color, s=40, alpha=0.7,
                     label=result.strategy)
    ax_lr.scatter(lr, loss, marker=marker, color=color, s=40, alpha=0.7,
                  label=result.strategy)
    ax_lr.plot(result.best_params["learning_rate"], result.best_value, marker="*",
               color=color, markersize=18, markeredgecolor="k")
ax_where.set_xscale("log")
ax_where.set_xlabel("learning_rate")
ax_where.set_ylabel("dropout")
ax_where.set_title("27 trials each (squares: grid)")
ax_lr.set_xscale("log")
ax_lr.set_yscale("log")
ax_lr.set_xlabel("learning_rate")
ax_lr.set_ylabel("val_loss")
ax_lr.set_title("What each search saw (star: its best)")
ax_lr.legend()

for g, r in zip(best_grid, best_random):
    ax_best.plot([0, 1], [g, r], color="0.7", zorder=0)
ax_best.scatter(np.zeros(len(best_grid)), best_grid, color="C0", s=40, label="grid_search")
ax_best.scatter(np.ones(len(best_random)), best_random, color="C1", s=40,
                label="random_search")
ax_best.set_xticks([0, 1], ["grid, 27 trials", "random, 27 trials"])
ax_best.set_xlim(-0.5, 1.5)
ax_best.set_ylabel("best val_loss found")
ax_best.set_title(f"{len(repeats)} repeats with different seeds")
fig.tight_layout()

# %%
# A search in practice: run it with a log
# ---------------------------------------
# Keep a test set aside first: the search picks hyperparameters on validation
# data, and only the final model meets the test set. The space mixes
# distribution types: :class:`~hpframe.LogUniform` for scale-like values,
# :class:`~hpframe.IntUniform` (here on a log scale) for integers,
# :class:`~hpframe.Choice` for a list of options.
#
# ``log=`` names a JSON-lines file that gets one line the moment each trial
# ends. If the search is interrupted (Ctrl-C, a crash, a closed laptop),
# running the same call again runs only the missing trials.
(X_pool, y_pool), _, (X_test, y_test) = hp.data.split(X, y, val=0.0, test=0.2, seed=0)
space = {"learning_rate": hp.LogUniform(1e-4, 1e-1),
         "hidden_layers": hp.Choice([(16,), (64,), (128,), (64, 64)]),
         "batch_size": hp.IntUniform(8, 256, log=True),
         "dropout": hp.Uniform(0.0, 0.5)}
base = hp.HyperParams(epochs=15, validation_split=0.2)

folder = tempfile.mkdtemp()
log = os.path.join(folder, "digits_search.jsonl")
start = time.perf_counter()
result = hp.random_search(X_pool, y_pool, space, n_trials=20, base=base, seed=0,
                          log=log, verbose=0)
print(f"20 trials in {time.perf_counter() - start:.1f} s")
print(result.summary(max_rows=8))
print("best hyperparameters:", result.best_params)

# %%
# Resume and extend
# -----------------
# Asking for 30 trials with the same log runs only trials 20 to 29: trial
# ``i`` is fixed by ``(seed, i)`` alone, so the first 20 are the ones already
# in the log. (A log from a different space, base, seed or data is refused.)
start = time.perf_counter()
more = hp.random_search(X_pool, y_pool, space, n_trials=30, base=base, seed=0,
                        log=log, verbose=0)
with open(log) as f:
    lines = sum(1 for _ in f)
print(f"30 trials in {time.perf_counter() - start:.1f} s (10 new); the log has {lines} "
      f"lines (a header and one per trial)")
print("the first 20 trials are unchanged:",
      [t.value for t in more.trials[:20]] == [t.value for t in result.trials])
print("best hyperparameters now:", more.best_params)

# %%
# The final model
# ---------------
# Train the winning configuration on all the non-test data and score it,
# once, on the test set. ``base.replace(**best_params)`` rebuilds the full
# set of hyperparameters.
final = hp.Trainer(base.replace(**more.best_params)).fit(X_pool, y_pool, verbose=0)
print("test accuracy of the chosen model:", round(final.evaluate(X_test, y_test)["accuracy"], 3))

# %%
# Reading a search with ``result.plot()``
# ---------------------------------------
# One panel per searched hyperparameter (log axes for the log-scaled ones,
# categories for choices) with the best trial starred, and a last panel with
# every trial's value in order and the best so far. The learning-rate panel
# shows the clearest pattern; for the others the spread at a given value is
# mostly the effect of the learning rate drawn with it.
more.plot()
plt.show()

shutil.rmtree(folder)     # the log was only for this example
