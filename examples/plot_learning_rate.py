r"""
=============
Learning rate
=============

The learning rate :math:`\eta` is the size of each step that training takes
down the loss surface: every update moves the parameters by
:math:`\eta` times the (Adam-scaled) gradient. It is the hyperparameter that
matters most, and both ways of getting it wrong are easy to recognise:

* **too low** - every step is tiny, the loss falls slowly and training runs
  out of epochs long before the network has learned what it could;
* **too high** - the steps overshoot. The loss jumps about, gets stuck high
  because most ReLU units have been pushed into "dead" territory (they output
  0 for every input and stop learning), or explodes. hpframe stops an exploding
  run cleanly: it warns with :class:`~hpframe.DivergenceWarning`, sets
  ``trainer.history.diverged`` and explains the likely cause in
  ``trainer.history.message``.

This example trains the same network on the bundled digits with six
learning rates a factor of 3 to 10 apart, and then runs the learning-rate
range test :meth:`Trainer.lr_find <hpframe.Trainer.lr_find>`, which finds a
good rate from a single short run.
"""

# %%
# A sweep over six learning rates
# -------------------------------
# Everything but the learning rate stays fixed, including the seed, so the
# runs start from the same initial weights and see the batches in the same
# order. The largest rate diverges in the first epoch; hpframe warns and
# stops that run instead of crashing.
import warnings

import matplotlib.pyplot as plt
import numpy as np

import hpframe as hp

X, y = hp.datasets.load_digits()
base = hp.HyperParams(hidden_layers=(64,), optimizer="adam", epochs=20, seed=0)

rates = [1e-4, 1e-3, 1e-2, 1e-1, 0.3, 3.0]
runs = {}
for lr in rates:
    trainer = hp.Trainer(base.replace(learning_rate=lr))
    trainer.fit(X, y, verbose=0)
    runs[lr] = trainer
    h = trainer.history
    status = "DIVERGED" if h.diverged else f"val_accuracy {h.history['val_accuracy'][-1]:.3f}"
    dead = trainer.dead_units(X)
    print(f"learning_rate={lr:<7g} epochs run {len(h):2d}  {status:22s} "
          f"dead ReLU units {dead:.0%}")

# %%
# The diverged run says what happened and what to try:
print(runs[3.0].history.message)

# %%
# Five seeds: is it luck?
# -----------------------
# The sweep above is one seed. The same six rates with five seeds each (mean
# ± standard deviation), and the claims this example makes, checked:
acc, dead, diverged = {}, {}, {}
with warnings.catch_warnings():
    warnings.simplefilter("ignore", hp.DivergenceWarning)      # counted instead
    for lr in rates:
        trainers = [hp.Trainer(base.replace(learning_rate=lr, seed=s)).fit(X, y, verbose=0)
                    for s in range(5)]
        acc[lr] = np.array([t.history.history["val_accuracy"][-1] for t in trainers])
        dead[lr] = np.array([t.dead_units(X) for t in trainers])
        diverged[lr] = sum(t.history.diverged for t in trainers)
        print(f"learning_rate={lr:<7g} val_accuracy {acc[lr].mean():.3f} ± {acc[lr].std():.3f}"
              f"   dead ReLU units {dead[lr].mean():4.0%} ± {dead[lr].std():3.0%}"
              f"   diverged {diverged[lr]} of 5")
mean = {lr: a.mean() for lr, a in acc.items()}
assert mean[1e-2] == max(mean.values()), "1e-2 is the best rate of the sweep"
assert mean[1e-4] < mean[1e-3] - 0.05, "1e-4 is too slow: clearly behind 1e-3 after 20 epochs"
assert dead[0.1].mean() > 0.5, "at 0.1 most ReLU units are dead"
assert mean[0.3] < 0.5 and dead[0.3].mean() > 0.9, \
    "at 0.3 nearly every unit dies and the accuracy collapses"
assert diverged[3.0] == 5, "3.0 diverges with every seed"

# %%
# The learning-rate range test
# ----------------------------
# ``lr_find`` trains a fresh copy of the network for 100 mini-batches while
# raising the learning rate exponentially from 1e-6 to 1, and records the
# (smoothed) training loss. The loss first stays flat (rate too low to
# matter), then falls (useful rates), then shoots up (too high). The
# suggestion is a tenth of the rate where the loss is lowest. The trainer
# itself is not changed.
finder = hp.Trainer(base)
result = finder.lr_find(X, y)
print(f"lr_find suggests learning_rate={result.suggestion:.2g}")

# %%
# Learning curves and the range test
# ----------------------------------
# Left: the training loss of every run of seed 0, on a log scale. Too low
# (1e-4) crawls; 1e-3 learns steadily and 1e-2 fastest (and, over five seeds,
# best); 0.1 starts fast but jumps about, with most of its units dead, yet
# still ends only a point or two below 1e-3's accuracy; 0.3 falls to chance level (a network
# that guesses every digit with probability 1/10 has loss
# :math:`\ln 10 \approx 2.3`) and stays there, with nearly every unit dead;
# 3.0 explodes in its first epoch (the cross marks where it stopped). Right:
# the range test on the same network; the grey lines mark the six rates of
# the sweep. From one run of 100 batches it rules out the flat region
# (too low) and the blow-up (too high) that the sweep needed six trainings
# to find.
fig, (ax_curves, ax_find) = plt.subplots(1, 2, figsize=(11, 4))
for i, (lr, trainer) in enumerate(runs.items()):
    h = trainer.history
    epochs = [e + 1 for e in h.epoch]
    loss = h.history["loss"]
    if h.diverged:
        last = loss[-1] if np.isfinite(loss[-1]) else 100.0   # NaN: draw it off the top
        ax_curves.plot(epochs[-1], last, "x", color=f"C{i}", markersize=12, mew=3,
                       label=f"lr={lr:g} (diverged)")
    else:
        ax_curves.plot(epochs, loss, color=f"C{i}", label=f"lr={lr:g}")
ax_curves.axhline(np.log(10), color="0.5", linestyle=":", label="chance level")
ax_curves.set_yscale("log")
ax_curves.set_xlabel("epoch")
ax_curves.set_ylabel("training loss")
ax_curves.set_title("Same network, six learning rates")
ax_curves.legend(fontsize="small", ncol=2)

result.plot(ax=ax_find)
for lr in rates:
    ax_find.axvline(lr, color="0.85", zorder=0)
fig.tight_layout()
plt.show()
