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

Dropout has no parameters, but it is not free: it keeps a mask and a masked
copy of every hidden layer's output for the backward pass - two more buffers
a batch deep per hidden layer (see :func:`hpframe.estimate_memory` and the
dropout page) - and draws one random number per hidden unit per sample.

This example reuses the overfitting setup of the epochs example (a large
network, 150 noisy two-moons points, 300 epochs) with four dropout rates,
each trained with five seeds, so that an effect can be told from luck.
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
# Four dropout rates, five seeds each
# -----------------------------------
X, y = hp.datasets.make_moons(n_samples=300, noise=0.3, seed=0)
(X_train, y_train), (X_val, y_val), _ = hp.data.split(X, y, val=0.5, test=0.0, seed=0)
base = hp.HyperParams(hidden_layers=(128, 128), learning_rate=3e-3, batch_size=16,
                      epochs=300)

rates, seeds = [0.0, 0.5, 0.7, 0.9], range(5)
curves, final = {}, {}
for p in rates:
    curves[p], final[p] = [], []
    for seed in seeds:
        trainer = hp.Trainer(base.replace(dropout=p, seed=seed))
        recorder = TrainingLoss(X_train, y_train)
        trainer.fit(X_train, y_train, validation_data=(X_val, y_val), callbacks=[recorder],
                    verbose=0)
        curves[p].append((recorder.values, trainer.history.history["val_loss"]))
        train, val = trainer.evaluate(X_train, y_train), trainer.evaluate(X_val, y_val)
        final[p].append((train["loss"], val["loss"], val["loss"] - train["loss"],
                         val["accuracy"]))
    final[p] = np.array(final[p])
    (tl, vl, gap, acc), (tl_sd, vl_sd, gap_sd, acc_sd) = final[p].mean(0), final[p].std(0)
    print(f"dropout={p}: training loss {tl:.3f} ± {tl_sd:.3f}  validation loss {vl:.3f} ± "
          f"{vl_sd:.3f}  gap {gap:+.3f} ± {gap_sd:.3f}  validation accuracy {acc:.3f} ± {acc_sd:.3f}")

# %%
# What the five seeds show, checked
# ---------------------------------
mean = {p: final[p].mean(axis=0) for p in rates}
assert mean[0.0][2] > mean[0.5][2] > mean[0.7][2], \
    "from 0 to 0.7, more dropout narrows the gap between validation and training loss"
assert mean[0.0][1] > mean[0.5][1] > mean[0.7][1], \
    "from 0 to 0.7, more dropout lowers the validation loss"
assert mean[0.9][0] > mean[0.7][0] > mean[0.0][0], "0.9 fits the training data worst"
assert mean[0.9][3] < mean[0.0][3] - 0.03, \
    "at 0.9 the validation accuracy falls clearly below that of no dropout"
print("checked: on this data dropout up to 0.7 narrows the gap and lowers the validation "
      "loss; 0.9 underfits")

# %%
# Dropout closes the gap
# ----------------------
# The curves of seed 0 (the table above has all five). Without dropout the
# validation loss climbs far above the training loss after the first few
# dozen epochs (the shaded gap). Dropout 0.5 and 0.7 shrink the gap and keep
# the validation loss from climbing much; the validation *accuracy* barely
# moves (see the table): the models get as many points right, but stop being
# confidently wrong. 0.9 closes the gap completely, but with nine in ten
# units off at each step the network learns too little: its training loss
# stays high and its validation accuracy falls several points below no
# dropout - too much regularisation turns overfitting into underfitting.
fig, axes = plt.subplots(1, len(rates), figsize=(15, 3.8), sharey=True)
epochs = np.arange(1, base.epochs + 1)
for ax, p in zip(axes, rates):
    train_loss, val_loss = curves[p][0]
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
