r"""
=========
Optimizer
=========

The *optimizer* is the rule that turns a gradient :math:`g` into a step for
the parameters :math:`w` (hpframe follows PyTorch's update rules):

* ``sgd`` - plain stochastic gradient descent, :math:`w \leftarrow w - \eta g`;
* ``momentum`` - keeps a running sum of past gradients,
  :math:`v \leftarrow \mu v + g,\ w \leftarrow w - \eta v`, which smooths the
  zig-zag of noisy gradients and speeds up along directions they agree on.
  With :math:`\mu = 0.9` a steady gradient builds up a step 10 times larger
  than sgd's, so momentum wants a learning rate about 10 times smaller;
* ``nesterov`` - momentum that looks one step ahead,
  :math:`w \leftarrow w - \eta (g + \mu v)`;
* ``adam`` - also scales each parameter's step by a running average of its
  squared gradients, so every parameter moves at a similar pace whatever the
  size of its gradient. It works well over a wide range of learning rates
  around its default 1e-3, which is why it is the usual first choice;
* ``adamw`` - Adam with *decoupled* weight decay: it shrinks the weights
  directly, :math:`w \leftarrow w - \eta \lambda w`, instead of adding
  :math:`\lambda w` to the gradient. With ``weight_decay=0`` it is exactly Adam.

Memory: momentum and nesterov keep one extra number per parameter, adam and
adamw two; sgd none. Time per step differs little - the matrix products
dominate.

There is no "too high" optimizer; what goes wrong is the *pairing* with a
learning rate. This example trains the same network on the bundled digits
with every optimizer at learning rates from 1e-4 to 1, and then compares
their learning curves, each at its own best learning rate.
"""

# %%
# Five optimizers times nine learning rates
# -----------------------------------------
# Some of these runs diverge, which is expected: we silence the
# :class:`~hpframe.DivergenceWarning` and read ``history.diverged`` instead.
import warnings

import matplotlib.pyplot as plt
import numpy as np

import hpframe as hp

X, y = hp.datasets.load_digits()
base = hp.HyperParams(hidden_layers=(64,), epochs=30, seed=0)
optimizers = {"sgd": {}, "momentum": {"momentum": 0.9}, "nesterov": {"momentum": 0.9},
              "adam": {}, "adamw": {"weight_decay": 0.01}}
rates = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0]

final = {name: [] for name in optimizers}
best = {}
with warnings.catch_warnings():
    warnings.simplefilter("ignore", hp.DivergenceWarning)
    for name, extra in optimizers.items():
        for lr in rates:
            trainer = hp.Trainer(base.replace(optimizer=name, learning_rate=lr, **extra))
            trainer.fit(X, y, verbose=0)
            h = trainer.history
            val_loss = np.nan if h.diverged else h.history["val_loss"][-1]
            final[name].append(val_loss)
            if not h.diverged and (name not in best or val_loss < best[name][1]):
                best[name] = (lr, val_loss, h.history["val_loss"])

for name, (lr, val_loss, _) in best.items():
    diverged = [f"{r:g}" for r, v in zip(rates, final[name]) if np.isnan(v)]
    print(f"{name:9s} best learning_rate {lr:<6g} val_loss {val_loss:.3f}   "
          f"diverged at: {', '.join(diverged) or 'none'}")

# %%
# Five seeds: is it luck?
# -----------------------
# The grid above is one seed. Each optimizer at its own best rate, and the
# rate 1 where sgd is best and momentum fails, with five seeds each (mean ±
# standard deviation of the final validation loss; a diverged run counts as
# infinitely bad), and the claims below, checked:
def final_val_loss(name, lr, extra, seed):
    h = hp.Trainer(base.replace(optimizer=name, learning_rate=lr, seed=seed, **extra)).fit(
        X, y, verbose=0).history
    return np.inf if h.diverged else h.history["val_loss"][-1]


tuned = {}
with warnings.catch_warnings():
    warnings.simplefilter("ignore", hp.DivergenceWarning)
    for name, extra in optimizers.items():
        tuned[name] = np.array([final_val_loss(name, best[name][0], extra, s) for s in range(5)])
        print(f"{name:9s} at learning_rate {best[name][0]:<6g} val_loss "
              f"{tuned[name].mean():.3f} ± {tuned[name].std():.3f}")
    at_one = {name: np.array([final_val_loss(name, 1.0, optimizers[name], s) for s in range(5)])
              for name in ("sgd", "momentum")}
for name, values in at_one.items():
    print(f"{name:9s} at learning_rate 1      val_loss {np.mean(values):.3f}")
means = [v.mean() for v in tuned.values()]
assert max(means) < 1.6 * min(means), \
    "tuned, every optimizer reaches a validation loss within a factor 1.6 of the best"
assert at_one["sgd"].mean() < 0.3 and not at_one["momentum"].mean() < np.log(10) - 0.1, \
    "at learning rate 1, sgd does well while momentum is at chance level or diverged"

# %%
# Sensitivity and learning curves
# -------------------------------
# Left: final validation loss against the learning rate. ``momentum`` and
# ``nesterov`` trace the ``sgd`` curve shifted left by a factor of 10, as
# predicted: sgd is still improving at 1, the top of our grid, where they
# have already failed. ``adam`` and ``adamw`` are good already at small
# rates, where the others have barely started, get worse above 0.01 and fail
# from 0.3 on: stuck at chance level (the dotted line, :math:`\ln 10`) or
# diverged (crosses). Right: each optimizer at its own best learning rate.
# Tuned, they all reach a similar loss here - the choice of optimizer
# matters less than pairing it with the right learning rate.
fig, (ax_lr, ax_curves) = plt.subplots(1, 2, figsize=(11, 4.2))
for i, name in enumerate(optimizers):
    values = np.array(final[name])
    ax_lr.plot(rates, values, "o-", color=f"C{i}", label=name)
    failed = np.isnan(values)
    ax_lr.plot(np.array(rates)[failed], np.full(failed.sum(), 3.0), "x", color=f"C{i}",
               markersize=10, mew=2.5)
    lr, _, curve = best[name]
    ax_curves.plot(np.arange(1, len(curve) + 1), curve, color=f"C{i}",
                   label=f"{name} (learning_rate={lr:g})")
ax_lr.axhline(np.log(10), color="0.5", linestyle=":")
ax_lr.set_xscale("log")
ax_lr.set_yscale("log")
ax_lr.set_ylim(0.04, 4)
ax_lr.set_xlabel("learning rate")
ax_lr.set_ylabel("validation loss after 30 epochs")
ax_lr.set_title("Each optimizer has its own good range")
ax_lr.legend(loc="lower left", ncol=2, fontsize="small")
ax_curves.set_yscale("log")
ax_curves.yaxis.set_major_formatter("{x:g}")
ax_curves.yaxis.set_minor_formatter("{x:g}")
ax_curves.set_xlabel("epoch")
ax_curves.set_ylabel("validation loss")
ax_curves.set_title("Each at its best learning rate")
ax_curves.legend(fontsize="small")
fig.tight_layout()
plt.show()
