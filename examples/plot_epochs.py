r"""
================================
Number of epochs and overfitting
================================

An *epoch* is one pass over the whole training set; ``epochs`` says how many
passes training makes. Each pass nudges the parameters to fit the training
data a little better, so the training loss keeps falling. The validation
loss - measured on data the network never trains on - tells a different
story:

* **too few epochs** - both losses are still falling when training stops: the
  network is *underfitted* and more epochs would help;
* **too many epochs** - the training loss keeps falling, but the validation
  loss turns around and rises: the network has started to memorise the noise
  of its training samples instead of the pattern. This is *overfitting*, and
  the widening gap between the two curves is how you see it.

Rather than guessing the right number, set a generous ``epochs`` and let
*early stopping* pick it: with ``patience=10`` hpframe stops once the
validation loss has not improved for 10 epochs, and gives back the parameters
of the best epoch (see also :class:`~hpframe.EarlyStopping`).

To make overfitting quick to see, this example uses a small, noisy two-moons
data set split in half with :func:`hpframe.data.split` (150 training and 150
validation points, passed to ``fit`` as ``validation_data``) and a large
network (two hidden layers of 128 units).
"""

# %%
# Train far too long
# ------------------
import matplotlib.pyplot as plt
import numpy as np

import hpframe as hp

X, y = hp.datasets.make_moons(n_samples=300, noise=0.3, seed=0)
(X_train, y_train), (X_val, y_val), _ = hp.data.split(X, y, val=0.5, test=0.0, seed=0)
base = hp.HyperParams(hidden_layers=(128, 128), learning_rate=3e-3, batch_size=16,
                      epochs=300, seed=0)

long_run = hp.Trainer(base).fit(X_train, y_train, validation_data=(X_val, y_val), verbose=0)
val_loss = np.array(long_run.history.history["val_loss"])
best = int(val_loss.argmin())
print(f"lowest validation loss {val_loss[best]:.3f} after {best + 1} epochs; "
      f"after 300 epochs it is {val_loss[-1]:.3f}")

# %%
# The same run with early stopping
# --------------------------------
# Same hyperparameters and seed, plus ``patience=10``. Training stops 10
# epochs after the best one and restores the best parameters, so the model
# we keep is the one from the bottom of the validation curve.
early = hp.Trainer(base.replace(patience=10))
early.fit(X_train, y_train, validation_data=(X_val, y_val), verbose=0)
print(f"early stopping: stopped after {len(early.history)} of 300 epochs "
      f"(stopped_early={early.history.stopped_early})")
for name, trainer in (("300 epochs", long_run), ("early stopping", early)):
    train, val = trainer.evaluate(X_train, y_train), trainer.evaluate(X_val, y_val)
    print(f"{name:15s} train accuracy {train['accuracy']:.3f}  "
          f"validation accuracy {val['accuracy']:.3f}  validation loss {val['loss']:.3f}")

# %%
# Five seeds: is it luck?
# -----------------------
# One seed could be luck. The same two runs with four more seeds (each seed
# draws other initial weights and another order of batches):
runs = []
for seed in range(5):
    full = hp.Trainer(base.replace(seed=seed))
    full.fit(X_train, y_train, validation_data=(X_val, y_val), verbose=0)
    stopped = hp.Trainer(base.replace(patience=10, seed=seed))
    stopped.fit(X_train, y_train, validation_data=(X_val, y_val), verbose=0)
    f, e = full.evaluate(X_val, y_val), stopped.evaluate(X_val, y_val)
    runs.append((int(np.argmin(full.history.history["val_loss"])) + 1, len(stopped.history),
                 f["loss"], e["loss"], f["accuracy"], e["accuracy"]))
best_epoch, stop_epoch, loss_full, loss_early, acc_full, acc_early = np.array(runs).T
print(f"lowest validation loss after {best_epoch.mean():.0f} ± {best_epoch.std():.0f} epochs; "
      f"early stopping stops after {stop_epoch.mean():.0f} ± {stop_epoch.std():.0f}")
print(f"validation loss:     300 epochs {loss_full.mean():.3f} ± {loss_full.std():.3f}   "
      f"early stopping {loss_early.mean():.3f} ± {loss_early.std():.3f}")
print(f"validation accuracy: 300 epochs {acc_full.mean():.3f} ± {acc_full.std():.3f}   "
      f"early stopping {acc_early.mean():.3f} ± {acc_early.std():.3f}")
assert np.all(loss_full > 1.5 * loss_early), \
    "with every seed, 300 epochs leave a validation loss over 1.5 times early stopping's"
assert abs(acc_full.mean() - acc_early.mean()) < 0.03, \
    "the validation accuracies differ by less than 3 points on average"
assert np.all(stop_epoch < 150), "early stopping ends every run before epoch 150"

# %%
# Learning curves and what the models predict
# -------------------------------------------
# Seed 0's runs. Left: the training loss falls all the way, while the
# validation loss is lowest at the dotted line and then climbs as the network
# overfits; early stopping ends the run shortly after the best epoch. Middle
# and right: the probability of class 1 that each model predicts over the
# plane (training points as dots, validation points as crosses). The
# early-stopped model is unsure (white) where the moons overlap. After 300
# epochs the model is certain almost everywhere: its boundary is a sharp
# cliff, bent here and there to follow single training points, and every
# confident mistake on a validation point costs a lot of loss. That is why,
# over the five seeds above, its validation loss is well above early
# stopping's while its validation accuracy is about the same.
fig, (ax_loss, *ax_maps) = plt.subplots(1, 3, figsize=(15, 4.2))
epochs = np.arange(1, len(val_loss) + 1)
ax_loss.plot(epochs, long_run.history.history["loss"], label="training loss")
ax_loss.plot(epochs, val_loss, label="validation loss")
ax_loss.axvline(best + 1, color="0.5", linestyle=":", label=f"best epoch ({best + 1})")
ax_loss.axvline(len(early.history), color="C3", linestyle="--",
                label=f"early stopping stops ({len(early.history)})")
ax_loss.set_yscale("log")
ax_loss.set_xlabel("epoch")
ax_loss.set_ylabel("cross-entropy loss")
ax_loss.set_title("Too many epochs: the curves part ways")
ax_loss.legend(fontsize="small")

xx, yy = np.meshgrid(np.linspace(-2.0, 3.0, 200), np.linspace(-1.6, 2.1, 200))
grid = np.column_stack([xx.ravel(), yy.ravel()])
for ax, trainer, name in ((ax_maps[0], early, f"early stopping ({len(early.history)} epochs)"),
                          (ax_maps[1], long_run, "300 epochs")):
    p = trainer.predict_proba(grid)[:, 1].reshape(xx.shape)
    ax.contourf(xx, yy, p, levels=np.linspace(0, 1, 11), cmap="coolwarm", alpha=0.7)
    ax.scatter(X_train[:, 0], X_train[:, 1], c=y_train, cmap="coolwarm", s=12,
               edgecolors="k", linewidths=0.3)
    ax.scatter(X_val[:, 0], X_val[:, 1], c=y_val, cmap="coolwarm", s=18, marker="x")
    ax.set_title(f"P(class 1), {name}")
fig.tight_layout()
plt.show()
