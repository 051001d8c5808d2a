r"""
===================================
Validation split (the hold-out set)
===================================

Training data teaches the parameters; it cannot also judge them, because a
network can score perfectly on data it has memorised. So part of the data is
*held out*: the **validation set** measures how well each choice of
hyperparameters generalises, and a separate **test set**, used once at the
very end, gives the final unbiased score (after many comparisons on the
validation set, the winner's validation score is optimistic).
:func:`hpframe.data.split` makes all three parts, stratified so every part
keeps the class proportions; ``validation_split`` carves the validation set
out of the data passed to ``fit``.

How much to hold out is a trade-off:

* **too small** (a few percent) - the validation score is measured on a
  handful of samples, so it is *noisy*: two runs that differ only in the
  random split can disagree by several points, and comparisons between
  hyperparameters drown in that noise;
* **too large** - the estimate is steady, but the network trains on less
  data and actually gets *worse*.

Typical choices are 10-30%, less for very large data sets.
"""

# %%
# Three parts: train, validation, test
# ------------------------------------
import matplotlib.pyplot as plt
import numpy as np

import hpframe as hp

X, y = hp.datasets.load_digits()
(X_train, y_train), (X_val, y_val), (X_test, y_test) = hp.data.split(
    X, y, val=0.15, test=0.15, seed=0)
for name, part in (("train", y_train), ("validation", y_val), ("test", y_test)):
    print(f"{name:10s} {len(part):4d} samples; per digit: {np.bincount(part).tolist()}")

# %%
# An experiment: vary the validation share
# ----------------------------------------
# Keep 30% of the digits aside as a test set that plays the role of "the
# truth". Train on the other 70% with validation splits from 2% to 90%, 20
# times each with a different seed (which changes which samples are held out
# and the initial weights), and record both the validation accuracy - the
# *estimate* - and the accuracy on the test set - what the network is really
# worth.
(X_pool, y_pool), _, (X_test, y_test) = hp.data.split(X, y, val=0.0, test=0.3, seed=0)
base = hp.HyperParams(hidden_layers=(32,), learning_rate=3e-3, epochs=20)

splits = [0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.6, 0.8, 0.9]
seeds = range(20)
estimate = np.zeros((len(splits), len(seeds)))
truth = np.zeros((len(splits), len(seeds)))
for i, share in enumerate(splits):
    for j, seed in enumerate(seeds):
        trainer = hp.Trainer(base.replace(validation_split=share, seed=seed))
        trainer.fit(X_pool, y_pool, verbose=0)
        estimate[i, j] = trainer.history.history["val_accuracy"][-1]
        truth[i, j] = trainer.evaluate(X_test, y_test)["accuracy"]

print("split  validation samples  validation accuracy  test accuracy")
for i, share in enumerate(splits):
    print(f"{share:5.2f}  {round(share * len(X_pool)):18d}  "
          f"{estimate[i].mean():8.3f} ± {estimate[i].std():.3f}  "
          f"{truth[i].mean():6.3f} ± {truth[i].std():.3f}")

noise, test = estimate.std(axis=1), truth.mean(axis=1)
assert noise[0] > 2 * noise[splits.index(0.2)], \
    "with 2% held out the validation accuracy varies over twice as much as with 20%"
assert test[splits.index(0.9)] < test[splits.index(0.1)] - 0.05, \
    "holding out 90% costs over 5 points of test accuracy against 10%"

# %%
# Noisy estimates on the left, less training data on the right
# -------------------------------------------------------------
# Left: every dot is one run's validation accuracy; the line is the test
# accuracy the same runs really reach. With 2-5% held out (25-63 images),
# the dots scatter widely around the truth. Right: the two costs against
# each other. The noise of the estimate (the standard deviation of the
# validation accuracy over the 20 runs) is largest for the smallest splits
# and roughly follows the textbook standard error of an accuracy :math:`p` measured
# on :math:`n` samples, :math:`\sqrt{p(1-p)/n}`. The test accuracy lost by
# training on less data grows with the split and becomes severe beyond about
# half. (With 90% held out, the runs also differ more among themselves: a
# network trained on 126 images depends a lot on which ones it got.)
fig, (ax_acc, ax_cost) = plt.subplots(1, 2, figsize=(11, 4.2))
ticks = [0.02, 0.05, 0.1, 0.2, 0.4, 0.9]
rng = np.random.default_rng(0)   # only to spread overlapping dots sideways
for i, share in enumerate(splits):
    x = share * np.exp(rng.uniform(-0.08, 0.08, len(seeds)))
    ax_acc.scatter(x, estimate[i], s=14, color="C0", alpha=0.6,
                   label="validation accuracy (one run)" if i == 0 else None)
ax_acc.plot(splits, truth.mean(axis=1), "o-", color="C1", label="test accuracy (mean)")
ax_acc.set_xscale("log")
ax_acc.set_xticks(ticks, [f"{t:g}" for t in ticks])
ax_acc.minorticks_off()
ax_acc.set_xlabel("validation_split")
ax_acc.set_ylabel("accuracy")
ax_acc.set_title("The estimate and the truth")
ax_acc.legend(loc="lower left")

n_val = np.round(np.array(splits) * len(X_pool))
p = estimate.mean(axis=1)
lost = truth.mean(axis=1).max() - truth.mean(axis=1)
ax_cost.plot(splits, estimate.std(axis=1), "o-", label="noise of the validation accuracy")
ax_cost.plot(splits, np.sqrt(p * (1 - p) / n_val), ":", color="C0",
             label="standard error sqrt(p(1-p)/n)")
ax_cost.plot(splits, lost, "s-", label="test accuracy lost (less training data)")
ax_cost.set_xscale("log")
ax_cost.set_xticks(ticks, [f"{t:g}" for t in ticks])
ax_cost.minorticks_off()
ax_cost.set_xlabel("validation_split")
ax_cost.set_ylabel("accuracy (fraction)")
ax_cost.set_title("Too small: noisy. Too large: worse model.")
ax_cost.legend(loc="upper center")
fig.tight_layout()
plt.show()
