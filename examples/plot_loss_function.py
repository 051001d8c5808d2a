r"""
=============
Loss function
=============

The *loss function* turns "how wrong is the network on this batch" into a
single number, and training follows its gradient downhill. It is not a knob
that is too high or too low; it is a choice that must fit the task and the
data:

* **classification** - the network outputs one score (logit) per class and
  ``cross_entropy`` applies a softmax and takes
  :math:`-\log p_\text{true class}`. For two classes (or several independent
  yes/no labels) ``binary_cross_entropy`` uses one logit per label and a
  sigmoid. Both take raw logits, so hpframe computes them in a numerically
  stable fused form;
* **regression** - with :math:`d = \text{prediction} - \text{target}`,
  ``mse`` averages :math:`d^2`, ``mae`` averages :math:`|d|`, and ``huber``
  uses :math:`\tfrac12 d^2` for :math:`|d| \le 1` and :math:`|d| - \tfrac12`
  beyond. Squaring makes ``mse`` chase large errors hardest: a few *outliers*
  (wrong or extreme targets) can drag the whole fit towards them.
  ``mae`` predicts the median instead of the mean and ignores how far away an
  outlier is; ``huber`` is in between (like ``mse`` for small errors, like
  ``mae`` for large ones).

Choosing the wrong kind - a regression loss for labels, or ``mse`` for data
with outliers - gives a model that optimises the wrong thing, no matter how
well the other hyperparameters are tuned.
"""

# %%
# Two classes: cross_entropy or binary_cross_entropy
# --------------------------------------------------
# On the two moons both losses fit the same model family: a softmax over two
# logits depends only on their difference, which is what the single logit of
# ``binary_cross_entropy`` represents. The binary version needs one output
# unit fewer.
import matplotlib.pyplot as plt
import numpy as np

import hpframe as hp

X, y = hp.datasets.make_moons(n_samples=300, noise=0.2, seed=0)
classifiers = {}
for loss in ("cross_entropy", "binary_cross_entropy"):
    hparams = hp.HyperParams(hidden_layers=(16,), loss=loss, learning_rate=0.01,
                             epochs=50, seed=0)
    classifiers[loss] = hp.Trainer(hparams).fit(X, y, verbose=0)
    h = classifiers[loss].history.history
    print(f"{loss:21s} outputs {classifiers[loss].params['dense_1.bias'].size}  "
          f"parameters {classifiers[loss].n_params}  "
          f"val_accuracy {h['val_accuracy'][-1]:.3f}")

# %%
# Regression with outliers: mse, mae and huber
# --------------------------------------------
# A one-feature regression problem: 300 training points of a smooth curve
# plus a little noise. We corrupt 10% of the *training* targets by adding 5 to
# 10 to them, and keep the test set clean, so it measures how well each model
# learned the real curve. (``stratify=False``: continuous targets have no
# classes to balance.)
X, y = hp.datasets.make_regression(n_samples=400, n_features=1, noise=0.1, seed=0)
(X_train, y_train), _, (X_test, y_test) = hp.data.split(X, y, val=0.0, test=0.25,
                                                         seed=1, stratify=False)
rng = np.random.default_rng(1)
outliers = rng.choice(len(y_train), size=len(y_train) // 10, replace=False)
y_noisy = y_train.copy()
y_noisy[outliers] += rng.uniform(5, 10, size=len(outliers))

regressors = {}
for loss in ("mse", "mae", "huber"):
    hparams = hp.HyperParams(hidden_layers=(32, 32), loss=loss, learning_rate=0.01,
                             epochs=200, validation_split=0.0, seed=0)
    regressors[loss] = hp.Trainer(hparams).fit(X_train, y_noisy, verbose=0)
    scores = regressors[loss].evaluate(X_test, y_test)
    print(f"{loss:5s} on the clean test set: MAE {scores['mae']:.3f}  R^2 {scores['r2']:.3f}")

# %%
# Five seeds: is it luck?
# -----------------------
# The same trainings with five seeds each (mean ± standard deviation), and
# what this example claims about them, checked:
X_moons, y_moons = hp.datasets.make_moons(n_samples=300, noise=0.2, seed=0)   # as above
accuracy = {loss: np.array([
    hp.Trainer(hp.HyperParams(hidden_layers=(16,), loss=loss, learning_rate=0.01, epochs=50,
                              seed=s)).fit(X_moons, y_moons, verbose=0)
    .history.history["val_accuracy"][-1]
    for s in range(5)]) for loss in ["cross_entropy", "binary_cross_entropy"]}
for loss, values in accuracy.items():
    print(f"{loss:21s} val_accuracy {values.mean():.3f} ± {values.std():.3f}")
test = {}
for loss in ["mse", "mae", "huber"]:
    scores = [hp.Trainer(hp.HyperParams(hidden_layers=(32, 32), loss=loss, learning_rate=0.01,
                                        epochs=200, validation_split=0.0, seed=s))
              .fit(X_train, y_noisy, verbose=0).evaluate(X_test, y_test) for s in range(5)]
    test[loss] = {k: np.array([sc[k] for sc in scores]) for k in ("mae", "r2")}
    print(f"{loss:5s} on the clean test set: MAE {test[loss]['mae'].mean():.3f} ± "
          f"{test[loss]['mae'].std():.3f}  R^2 {test[loss]['r2'].mean():.3f} ± "
          f"{test[loss]['r2'].std():.3f}")
assert abs(accuracy["cross_entropy"].mean() - accuracy["binary_cross_entropy"].mean()) < 0.02, \
    "the two classification losses reach the same accuracy within 2 points"
assert test["mse"]["r2"].mean() < 0, "mse fit to outliers does worse than predicting the mean"
assert test["mae"]["mae"].mean() < test["huber"]["mae"].mean() < test["mse"]["mae"].mean(), \
    "on clean test data mae is closest, huber in between, mse furthest"

# %%
# What the losses learned
# -----------------------
# Left: the two classification losses give practically the same validation
# curves. Right: the ``mse`` fit is dragged upwards by the outliers (red
# crosses) everywhere, with bumps where they cluster, and on clean test data
# it does worse than predicting the mean (negative :math:`R^2`). ``mae``
# follows the clean points; ``huber`` is pulled up only a little, because its
# penalty on the outliers grows linearly, not quadratically.
fig, (ax_cls, ax_reg) = plt.subplots(1, 2, figsize=(11, 4.2))
for loss, trainer in classifiers.items():
    h = trainer.history.history
    epochs = np.arange(1, len(h["val_loss"]) + 1)
    ax_cls.plot(epochs, h["val_accuracy"], label=f"{loss}")
ax_cls.set_xlabel("epoch")
ax_cls.set_ylabel("validation accuracy")
ax_cls.set_title("Two moons: two ways to write the same loss")
ax_cls.legend()

clean = np.setdiff1d(np.arange(len(y_train)), outliers)
ax_reg.scatter(X_train[clean, 0], y_noisy[clean], s=8, color="0.6", label="training points")
ax_reg.scatter(X_train[outliers, 0], y_noisy[outliers], s=25, marker="x", color="C3",
               label="outliers (10%)")
grid = np.linspace(-1, 1, 200).reshape(-1, 1)
for i, (loss, trainer) in enumerate(regressors.items()):
    r2 = trainer.evaluate(X_test, y_test)["r2"]
    ax_reg.plot(grid[:, 0], trainer.predict(grid), color=f"C{i}", linewidth=2.5,
                label=f"{loss} (test R$^2$ {r2:.2f})")
ax_reg.set_ylim(-4.5, 11)
ax_reg.set_xlabel("x")
ax_reg.set_ylabel("y")
ax_reg.set_title("Regression with outliers")
ax_reg.legend(fontsize="small", loc="lower center", ncol=2)
fig.tight_layout()
plt.show()
