r"""
=======
Dropout
=======

*Dropout* switches off a random share ``dropout`` of the hidden units at every
training step: each unit's output is set to 0 with probability :math:`p` and
the survivors are scaled by :math:`1/(1-p)`, so the expected output stays the
same (*inverted dropout*). At prediction time nothing is dropped. Because no
unit can count on any particular other unit being there, the network cannot
build the fragile, specialised combinations that memorise single training
samples; it is pushed towards features that many units agree on. The result is
*regularisation*: a smaller gap between training and validation loss.

* **too low** (0 for a large network on little data) - the network overfits:
  training loss near 0, validation loss far above it and rising;
* **too high** (0.9 here) - so much is dropped that the network can hardly
  learn: the gap is gone, but only because the training loss is as bad as the
  validation loss (*underfitting*), and training needs many more epochs.

Dropout costs almost no memory (one mask per hidden layer and batch) and a
little time per step; it usually needs more epochs to converge.

This example reuses the overfitting setup of the epochs example (a large
network, 150 noisy two-moons points, 300 epochs) with four dropout rates.
"""

# %%
# The training loss we compare
# ----------------------------
# ``trainer.history.history["loss"]`` is measured during training, *with*
# units dropped, so it is not the loss of the network we end up using. A
# small :class:`~hpframe.Callback` evaluates the training set at the end of
# every epoch with dropout off (``evaluate`` never drops units).
import matplotlib.pyplot as plt
import numpy as np

import hpframe as hp


class TrainingLoss(hp.Callback):
    """Record the loss on (X, y) at the end of every epoch, without dropout."""

    def __init__(self, X, y):
        self.X, self.y, self.values = X, y, []

    def on_epoch_end(self, epoch, logs=None):
        self.values.append(self.trainer.evaluate(self.X, self.y)["loss"])


# %%
# Four dropout rates
# ------------------
X, y = hp.datasets.make_moons(n_samples=300, noise=0.3, seed=0)
(X_train, y_train), (X_val, y_val), _ = hp.data.split(X, y, val=0.5, test=0.0, seed=0)
base = hp.HyperParams(hidden_layers=(128, 128), learning_rate=3e-3, batch_size=16,
                      epochs=300, seed=0)

rates = [0.0, 0.5, 0.7, 0.9]
curves = {}
for p in rates:
    trainer = hp.Trainer(base.replace(dropout=p))
    recorder = TrainingLoss(X_train, y_train)
    trainer.fit(X_train, y_train, validation_data=(X_val, y_val), callbacks=[recorder],
                verbose=0)
    curves[p] = recorder.values, trainer.history.history["val_loss"]
    train, val = trainer.evaluate(X_train, y_train), trainer.evaluate(X_val, y_val)
    print(f"dropout={p}: training loss {train['loss']:.3f}  validation loss {val['loss']:.3f}  "
          f"gap {val['loss'] - train['loss']:.3f}  "
          f"accuracy train {train['accuracy']:.3f} / validation {val['accuracy']:.3f}")

# %%
# Dropout closes the gap
# ----------------------
# Without dropout the validation loss climbs far above the training loss
# after the first few dozen epochs (the shaded gap). Dropout 0.5 and 0.7
# shrink the gap and keep the validation loss from climbing much; 0.7 gives
# the best validation accuracy. 0.9 closes the gap almost completely, but
# with nine in ten units off at each step the network learns slowly: its
# training loss stays high and its accuracy falls back to that of no dropout
# - too much regularisation turns overfitting into underfitting.
fig, axes = plt.subplots(1, len(rates), figsize=(15, 3.8), sharey=True)
epochs = np.arange(1, base.epochs + 1)
for ax, p in zip(axes, rates):
    train_loss, val_loss = curves[p]
    ax.plot(epochs, train_loss, label="training loss (no dropout)")
    ax.plot(epochs, val_loss, label="validation loss")
    ax.fill_between(epochs, train_loss, val_loss, color="C3", alpha=0.15, label="gap")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_title(f"dropout={p}")
axes[0].set_ylabel("cross-entropy loss")
axes[0].legend(fontsize="small", loc="lower left")
fig.tight_layout()
plt.show()
