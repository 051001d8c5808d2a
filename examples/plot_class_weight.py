r"""
==========================================
Class weights on imbalanced classes
==========================================

When one class is rare, a network that minimises the plain mean loss learns
that the rare class hardly matters: calling almost everything the common class
already gives a low loss and a high accuracy. ``class_weight`` changes what the
loss counts. With ``class_weight="balanced"`` (scikit-learn's definition) a
sample of class :math:`c` weighs

.. math::

    w_c = \frac{n_\text{samples}}{n_\text{classes} \cdot n_c},

so each class counts as much in total, and a batch's loss is the weighted mean
:math:`\sum_i w_i \ell_i / \sum_i w_i`. (``fit(..., sample_weight=w)`` weights
single samples the same way; an integer weight counts as that many copies.)

Here: two overlapping Gaussian classes in two dimensions, 95% of class 0 and
5% of class 1. We compare the **recall of each class** (the share of its test
samples found, on a test set with as many of each), over five seeds.
"""

# %%
# The data and the two models
# ---------------------------
import matplotlib.pyplot as plt
import numpy as np

import hpframe as hp


def imbalanced(n, share, seed):
    """``n`` points: class 1 (a share ``share``) around (1.5, 1.5), class 0 around 0."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < share).astype(int)
    X = rng.normal(size=(n, 2)) + 1.5 * y[:, None]
    return X, y


def recall(model, X, y, label):
    return float(np.mean(model.predict(X[y == label]) == label))


base = hp.HyperParams(hidden_layers=(16,), learning_rate=0.01, epochs=30,
                      validation_split=0.0)
results = {None: [], "balanced": []}
for seed in range(5):
    X_train, y_train = imbalanced(2000, 0.05, seed)
    X_test, y_test = imbalanced(4000, 0.5, 100 + seed)      # balanced, for judging
    for weight in results:
        model = hp.Trainer(base.replace(class_weight=weight, seed=seed))
        model.fit(X_train, y_train, verbose=0)
        results[weight].append((recall(model, X_test, y_test, 1),
                                recall(model, X_test, y_test, 0)))
        if seed == 0:
            if weight is None:
                plain = model
            else:
                weighted = model

for weight, values in results.items():
    minority, majority = np.array(values).T
    print(f"class_weight={weight!s:9}: recall of the rare class {minority.mean():.3f} ± "
          f"{minority.std():.3f}, of the common class {majority.mean():.3f} ± "
          f"{majority.std():.3f}")
rare_plain = np.array(results[None])[:, 0]
rare_balanced = np.array(results["balanced"])[:, 0]
assert rare_balanced.mean() - rare_plain.mean() > rare_balanced.std() + rare_plain.std(), \
    "class_weight='balanced' raises the rare class's recall by more than the two spreads"
assert (rare_balanced > rare_plain).all(), \
    "the rare class's recall is higher with 'balanced' for every seed"
common_plain = np.array(results[None])[:, 1]
common_balanced = np.array(results["balanced"])[:, 1]
assert common_balanced.mean() < common_plain.mean(), \
    "the common class pays: its recall is lower with 'balanced'"

# %%
# Without weights fewer than half of the rare class's test samples are found;
# with balanced weights about four in five are, and the common class pays: its
# recall drops by about a tenth, as the boundary moves into its side. Which
# trade is right depends on what a miss costs; plain accuracy on imbalanced data
# hides the question.
#
# The decision boundaries
# -----------------------
# Seed 0's training data, with each model's predicted class as background.
X_train, y_train = imbalanced(2000, 0.05, 0)
grid = np.stack(np.meshgrid(np.linspace(-3.5, 5, 200), np.linspace(-3.5, 5, 200)), -1)
fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
for ax, model, title in ((axes[0], plain, "class_weight=None"),
                         (axes[1], weighted, 'class_weight="balanced"')):
    area = model.predict(grid.reshape(-1, 2)).reshape(grid.shape[:2])
    ax.contourf(grid[..., 0], grid[..., 1], area, levels=[-0.5, 0.5, 1.5],
                colors=["#dde6f0", "#f6dcc8"])
    for label, color in ((0, "tab:blue"), (1, "tab:orange")):
        rows = y_train == label
        ax.scatter(*X_train[rows].T, s=6 if label == 0 else 14, c=color,
                   label=f"class {label} ({rows.sum()} points)")
    ax.set(title=title, xlabel="x0")
axes[0].set_ylabel("x1")
axes[0].legend(loc="upper left")
fig.tight_layout()
plt.show()
