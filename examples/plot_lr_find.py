r"""
==================================
Finding a learning rate: lr_find
==================================

Sweeping the learning rate over a grid (see the learning-rate example) costs
one full training per value. The *learning-rate range test* (Smith, 2017)
gets a good first guess from a single short run: starting from a tiny rate,
train on one mini-batch after another while multiplying the learning rate by
a constant factor each step, and record the loss. Plotted against the
(log-scaled) learning rate, the loss

1. stays flat while the rate is too small to change anything,
2. falls once the rate is large enough to make progress,
3. and shoots up once the steps become too large and training blows up.

A good learning rate lies in the falling part. :meth:`Trainer.lr_find
<hpframe.Trainer.lr_find>` runs the test on a copy of the trainer (the
trainer itself is not changed) and returns ``(learning_rates, losses,
suggestion)``: the suggestion is a tenth of the rate at which the smoothed
loss is lowest - deliberately on the safe side of the blow-up. It is a
starting point for trial and error, not a guarantee, so this example checks
it against rates 10 times smaller and 10 and 30 times larger.

References: L. N. Smith, "Cyclical Learning Rates for Training Neural
Networks", WACV 2017, https://arxiv.org/abs/1506.01186
"""

# %%
# Run the range test
# ------------------
# Plain ``sgd`` is the optimizer that needs this most: its good learning rates
# are far from the default 1e-3.
import warnings

import matplotlib.pyplot as plt
import numpy as np

import hpframe as hp

X, y = hp.datasets.load_digits()
trainer = hp.Trainer(hidden_layers=(128, 64), optimizer="sgd", epochs=10, seed=0)

result = trainer.lr_find(X, y)        # 100 mini-batches, learning rate 1e-6 -> 1
lrs, losses, suggestion = result      # the result unpacks like a tuple
print(f"tested {len(lrs)} learning rates from {lrs[0]:.0e} to {lrs[-1]:.2g}; "
      f"suggestion {suggestion:.3g}")

# %%
# Check the suggestion with real training
# ---------------------------------------
# Ten epochs each with the suggestion, 10 times less, 10 and 30 times more,
# and the default learning rate. A too-large rate may diverge, so the
# :class:`~hpframe.DivergenceWarning` is silenced; ``history.diverged`` tells.
candidates = {"suggestion / 10": suggestion / 10, "suggestion": suggestion,
              "suggestion x 10": suggestion * 10, "suggestion x 30": suggestion * 30,
              "default 1e-3": 1e-3}
runs = {}
with warnings.catch_warnings():
    warnings.simplefilter("ignore", hp.DivergenceWarning)
    for name, lr in candidates.items():
        runs[name] = hp.Trainer(trainer.hparams.replace(learning_rate=lr)).fit(X, y, verbose=0)
for name, run in runs.items():
    h = run.history
    outcome = "diverged" if h.diverged else f"val_loss {h.history['val_loss'][-1]:.3f}"
    print(f"{name:16s} learning_rate={candidates[name]:<8.3g} {outcome}")

# %%
# Five seeds: is it luck?
# -----------------------
# The same candidates with five seeds each (the suggestion stays the one found
# above): the final validation loss, mean ± standard deviation, and the
# claims below, checked.
val_loss = {}
with warnings.catch_warnings():
    warnings.simplefilter("ignore", hp.DivergenceWarning)
    for name, lr in candidates.items():
        losses = [hp.Trainer(trainer.hparams.replace(learning_rate=lr, seed=s))
                  .fit(X, y, verbose=0).history.history["val_loss"][-1] for s in range(5)]
        val_loss[name] = np.array(losses, dtype=float)
        print(f"{name:16s} val_loss {np.nanmean(val_loss[name]):.3f} ± "
              f"{np.nanstd(val_loss[name]):.3f}" +
              (f"  ({np.isnan(val_loss[name]).sum()} diverged)" if np.isnan(val_loss[name]).any()
               else ""))
m = {name: np.mean(v) for name, v in val_loss.items()}
assert m["suggestion / 10"] > 3 * m["suggestion"], "a tenth of the suggestion is slow"
assert m["suggestion x 10"] < m["suggestion"], "ten times the suggestion is faster still here"
assert not m["suggestion x 30"] < 2.0, "thirty times the suggestion is stuck at chance level (or worse)"
assert m["default 1e-3"] > 2.0, "the default rate barely moves plain sgd"

# %%
# The range test and what it predicted
# ------------------------------------
# Left: ``result.plot()`` draws the smoothed loss against the learning rate and
# marks the suggestion, in the falling part of the curve. Right: ten epochs
# of real training (seed 0; the five seeds above agree). The suggestion learns well and a tenth of it is slow.
# Ten times the suggestion - the rate at the curve's minimum - is faster
# still here, but thirty times it, past the minimum, is stuck at chance
# level (a loss of :math:`\ln 10 \approx 2.3`: every digit guessed with
# probability 1/10). The suggestion keeps a factor of ten away from that
# edge; the best rate lies between it and the minimum, and finding it is the
# trial and error the range test only narrows down. The default rate barely
# moves plain sgd at all.
fig, (ax_find, ax_curves) = plt.subplots(1, 2, figsize=(11, 4.2))
result.plot(ax=ax_find)
for i, (name, run) in enumerate(runs.items()):
    val_loss = np.array(run.history.history["val_loss"])
    label = f"{name} ({candidates[name]:.2g})"
    if run.history.diverged:
        # stopped after its first epoch(s); a NaN loss is drawn at the top of the plot
        ax_curves.plot(len(val_loss), np.nan_to_num(val_loss[-1], nan=3.0), "x",
                       color=f"C{i}", markersize=12, mew=3, label=label + " - diverged")
    else:
        ax_curves.plot(np.arange(1, len(val_loss) + 1), val_loss, "o-", color=f"C{i}",
                       label=label)
ax_curves.set_yscale("log")
ax_curves.set_xlabel("epoch")
ax_curves.set_ylabel("validation loss")
ax_curves.set_title("Ten epochs at each candidate rate")
ax_curves.set_ylim(0.015, 4)
ax_curves.legend(fontsize="small", loc="lower left")
fig.tight_layout()
plt.show()
