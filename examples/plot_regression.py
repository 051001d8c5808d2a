r"""
==========
Regression
==========

Not every network predicts a class. For *regression* the targets are real
numbers and the output layer has one linear unit per target, with no
softmax. The loss compares numbers directly; the usual choice is the mean
squared error, ``loss="mse"``,

.. math::

    L = \frac{1}{n}\sum_{i=1}^{n} (\hat y_i - y_i)^2 ,

and :meth:`Trainer.evaluate <hpframe.Trainer.evaluate>` reports the
loss, the mean absolute error (MAE, in the units of the target) and
:math:`R^2 = 1 - \sum_i (\hat y_i - y_i)^2 / \sum_i (y_i - \bar y)^2`, the
share of the target's variance the model explains (1 is perfect, 0 is no
better than always predicting the mean).

The hyperparameter this example turns is the simplest architectural one:
``hidden_layers``. With ``hidden_layers=()`` the network is a linear model,
:math:`\hat y = x^\top W + b`; with one hidden layer it can bend. The data
from :func:`hpframe.datasets.make_regression` is built so that a straight
line misses most of it: :math:`y = \sin(\pi\, a^\top x) + (b^\top x)^2 +`
noise, with noise of standard deviation 0.1 - so no model can get the
mean squared error below about :math:`0.1^2 = 0.01` on new data.
"""

# %%
# Data: train, validation and test parts
# --------------------------------------
# ``stratify=False``, because continuous targets have no classes to balance.
import matplotlib.pyplot as plt
import numpy as np

import hpframe as hp

X, y = hp.datasets.make_regression(n_samples=1000, n_features=4, noise=0.1, seed=0)
(X_train, y_train), (X_val, y_val), (X_test, y_test) = hp.data.split(
    X, y, val=0.15, test=0.15, seed=1, stratify=False)
print(f"{len(X_train)} training, {len(X_val)} validation, {len(X_test)} test samples; "
      f"target mean {y.mean():.2f}, standard deviation {y.std():.2f}")

# %%
# A linear model and a network with one hidden layer
# --------------------------------------------------
models = {}
for name, hidden in (("linear: hidden_layers=()", ()),
                     ("hidden_layers=(64,)", (64,))):
    hparams = hp.HyperParams(hidden_layers=hidden, loss="mse", learning_rate=3e-3,
                             epochs=100, seed=0)
    models[name] = hp.Trainer(hparams).fit(X_train, y_train,
                                           validation_data=(X_val, y_val), verbose=0)
    scores = models[name].evaluate(X_test, y_test)
    print(f"{name:25s} parameters {models[name].n_params:4d}  test: "
          + "  ".join(f"{k} {v:.3f}" for k, v in scores.items()))

# %%
# Five seeds: is it luck?
# -----------------------
r2 = {name: np.array([
    hp.Trainer(hp.HyperParams(hidden_layers=hidden, loss="mse", learning_rate=3e-3,
                              epochs=100, seed=s))
    .fit(X_train, y_train, validation_data=(X_val, y_val), verbose=0)
    .evaluate(X_test, y_test)["r2"] for s in range(5)])
    for name, hidden in (("linear", ()), ("hidden_layers=(64,)", (64,)))}
for name, values in r2.items():
    print(f"{name:20s} test r2 {values.mean():.3f} ± {values.std():.3f} (5 seeds)")
assert r2["linear"].mean() < 0.5 < 0.9 < r2["hidden_layers=(64,)"].mean(), \
    "a straight line explains less than half of the target, one hidden layer over 90%"

# %%
# Learning curves and predicted vs true values
# --------------------------------------------
# Left: the linear model levels off after about 40 epochs at a high loss -
# it has learned all a straight line can (the small part of the target that is
# linear in :math:`x`). The network keeps going down to the noise floor, and
# its validation loss starts to wobble above the training loss near the end.
# Middle and right: predictions on the test set against the true targets.
# A perfect model puts every point on the diagonal; the linear model's
# predictions scatter far from it, while the network's hug it, up to the
# noise.
fig, (ax_curves, *ax_scatter) = plt.subplots(1, 3, figsize=(15, 4.2))
for i, (name, trainer) in enumerate(models.items()):
    h = trainer.history.history
    epochs = np.arange(1, len(h["loss"]) + 1)
    ax_curves.plot(epochs, h["loss"], color=f"C{i}", label=f"{name}, training")
    ax_curves.plot(epochs, h["val_loss"], "--", color=f"C{i}", label=f"{name}, validation")
ax_curves.axhline(0.1 ** 2, color="0.5", linestyle=":", label="noise floor (0.01)")
ax_curves.set_yscale("log")
ax_curves.set_xlabel("epoch")
ax_curves.set_ylabel("mean squared error")
ax_curves.legend(fontsize="small")

lims = [y_test.min() - 0.3, y_test.max() + 0.3]
for ax, (name, trainer) in zip(ax_scatter, models.items()):
    scores = trainer.evaluate(X_test, y_test)
    ax.scatter(y_test, trainer.predict(X_test), s=10, alpha=0.7)
    ax.plot(lims, lims, color="0.4", linewidth=1)
    ax.set_xlim(lims)
    ax.set_ylim(lims)
    ax.set_aspect("equal")
    ax.set_xlabel("true y")
    ax.set_ylabel("predicted y")
    ax.set_title(f"{name}\nR$^2$ {scores['r2']:.2f}, MAE {scores['mae']:.2f}")
fig.tight_layout()
plt.show()
