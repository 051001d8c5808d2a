r"""
==================
Successive halving
==================

Most configurations in a search are bad, and most bad ones look bad early: a
learning rate that is far too small or too large shows it within an epoch or
two. *Successive halving* (Jamieson and Talwalkar, 2016; the building block
of Hyperband) spends its training budget accordingly:

1. train many configurations for a few epochs (a *rung*);
2. keep the best third (``eta=3``) and train them three times longer;
3. repeat until one or a few have had the full number of epochs.

With 27 configurations and rungs of 1, 3, 9 and 27 epochs, 27 configurations
get 1 epoch, 9 continue to 3, 3 to 9, and 1 reaches 27: 81 epochs in all,
the price of just three full-length trials. Promoted trials *continue*
training from where they stopped (optimizer state included); they do not
start over.

The risk is that short runs judge unfairly: a configuration that starts slowly
but would end best (a small learning rate, a large network) can be cut early.
So successive halving helps most when the space is wide and many
configurations are hopeless, which is the usual situation when you do not yet
know the right scale of your hyperparameters. In a narrow space of mostly
good settings it has little to gain.

References: K. Jamieson and A. Talwalkar, "Non-stochastic Best Arm
Identification and Hyperparameter Optimization", AISTATS 2016;
L. Li et al., "Hyperband", JMLR 18 (2018).
"""

# %%
# A wide search space
# -------------------
# Six decades of learning rate, batch sizes from 4 to 512 and dropout up to
# 0.6: many of these configurations cannot learn the digits at all.
import matplotlib.pyplot as plt
import numpy as np

import hpframe as hp

X, y = hp.datasets.load_digits()
space = {"learning_rate": hp.LogUniform(1e-6, 1.0),
         "batch_size": hp.IntUniform(4, 512, log=True),
         "hidden_layers": hp.Choice([(16,), (64,), (64, 64)]),
         "dropout": hp.Uniform(0.0, 0.6)}
base = hp.HyperParams(epochs=27, validation_split=0.2)

halving = hp.successive_halving(X, y, space, n_trials=27, min_epochs=1, max_epochs=27,
                                eta=3, base=base, seed=0, verbose=0)
print(halving.summary(max_rows=10))
print("best hyperparameters:", halving.best_params)
print("epochs trained in all:", sum(t.epochs for t in halving.trials))

# %%
# The same budget for random search
# ---------------------------------
# 81 epochs buy three random trials of 27 epochs. We also run 27 full-length
# random trials - nine times the budget - as the reference of what a thorough
# search finds. Trial ``i`` of a random search draws the same configuration as
# trial ``i`` of successive halving with the same seed, so the three searches
# start from the same candidates. Each comparison is repeated with six seeds.
repeats = range(6)
found = {"random, 3 trials (81 epochs)": [], "successive halving (81 epochs)": [],
         "random, 27 trials (729 epochs)": []}
for seed in repeats:
    sh = hp.successive_halving(X, y, space, n_trials=27, min_epochs=1, max_epochs=27,
                               eta=3, base=base, seed=seed, verbose=0)
    small = hp.random_search(X, y, space, n_trials=3, base=base, seed=seed, verbose=0)
    full = hp.random_search(X, y, space, n_trials=27, base=base, seed=seed, verbose=0)
    found["random, 3 trials (81 epochs)"].append(small.best_value)
    found["successive halving (81 epochs)"].append(sh.best_value)
    found["random, 27 trials (729 epochs)"].append(full.best_value)
for name, values in found.items():
    print(f"{name:32s} best val_loss per repeat: {np.round(values, 3).tolist()}")

# %%
# Learning curves of one successive-halving run, and the comparison
# -----------------------------------------------------------------
# Left: every configuration's validation loss, epoch by epoch, coloured by the
# rung it reached. Two thirds are stopped after one epoch, most of them at or
# above chance level (:math:`\ln 10 \approx 2.3`, dotted), where their grey
# dots pile up; the survivors keep improving.
# Right: the best validation loss each search found. Three random trials
# often contain no good configuration at all; successive halving, for the same
# 81 epochs, finds about as good a model as 27 full random trials that cost
# nine times as much.
fig, (ax_curves, ax_best) = plt.subplots(1, 2, figsize=(12, 4.4))
colors = {0: "0.75", 1: "C0", 2: "C1", 3: "C3"}
for trial in sorted(halving.trials, key=lambda t: t.rung):
    val_loss = trial.history["val_loss"]
    ax_curves.plot(np.arange(1, len(val_loss) + 1), val_loss, "o-", markersize=3,
                   color=colors[trial.rung], linewidth=1.5 if trial.rung else 1)
for rung, epochs in enumerate(halving.rungs):
    count = sum(t.rung == rung for t in halving.trials)
    label = (f"{count} trained all {epochs} epochs" if rung == len(halving.rungs) - 1 else
             f"{count} stopped after {epochs} epoch{'s' if epochs > 1 else ''}")
    ax_curves.plot([], [], color=colors[rung], label=label)
ax_curves.axhline(np.log(10), color="0.5", linestyle=":", linewidth=1)
ax_curves.set_xscale("log")
ax_curves.set_yscale("log")
ax_curves.set_xticks(halving.rungs, [str(e) for e in halving.rungs])
ax_curves.minorticks_off()
ax_curves.set_xlabel("epoch")
ax_curves.set_ylabel("val_loss")
ax_curves.set_title("27 configurations, rungs of 1, 3, 9, 27 epochs")
ax_curves.legend(fontsize="small", loc="upper right")

names = list(found)
for values_a, values_b, values_c in zip(*found.values()):
    ax_best.plot(range(3), [values_a, values_b, values_c], color="0.8", zorder=0)
for i, name in enumerate(names):
    ax_best.scatter(np.full(len(repeats), i), found[name], s=40, color=f"C{i}")
ax_best.set_xticks(range(3), [n.replace(" (", "\n(") for n in names])
ax_best.set_yscale("log")
ax_best.set_ylabel("best val_loss found")
ax_best.set_title(f"{len(repeats)} repeats with different seeds")
fig.tight_layout()
plt.show()
