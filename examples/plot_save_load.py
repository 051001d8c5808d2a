r"""
==================================
Saving, loading, resuming training
==================================

A trained model is its parameters - but to *continue* training exactly where
it stopped, more must be kept: the optimizer's running state (Adam's
averages of past gradients and squared gradients, one pair per parameter),
its step counter, the state of the random generators that shuffle the
batches and draw dropout masks, and the epoch count that drives a learning
rate schedule. :meth:`Trainer.save <hpframe.Trainer.save>` writes all of
it, with the hyperparameters and the training history, into one ``.npz``
file that holds only arrays and JSON (never pickle, so loading a file
cannot run code). :meth:`Trainer.load <hpframe.Trainer.load>` gives back a
trainer whose next ``fit`` continues *bit for bit* as if it had never
stopped.

This example trains a network for 20 epochs in one go, and again for 10
epochs, saved, loaded and trained for 10 more. The two end with identical
parameters. A third run copies only the parameters into a fresh trainer
(:meth:`~hpframe.Trainer.load_params`) and continues from there: without
the optimizer's state, it does not follow the same path.
"""

# %%
# Train in one go
# ---------------
import json
import os
import tempfile

import matplotlib.pyplot as plt
import numpy as np

import hpframe as hp

X, y = hp.datasets.load_digits()
hparams = hp.HyperParams(hidden_layers=(64,), dropout=0.2, epochs=20, seed=0)
straight = hp.Trainer(hparams).fit(X, y, verbose=0)

# %%
# Train, save, load, continue
# ---------------------------
# ``fit(..., epochs=10)`` runs 10 epochs instead of ``hparams.epochs``. We
# save into a temporary directory that is deleted afterwards.
first_half = hp.Trainer(hparams).fit(X, y, epochs=10, verbose=0)
with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "digits_model.npz")
    first_half.save(path)
    print(f"saved {os.path.getsize(path):,} bytes to {os.path.basename(path)}")
    with np.load(path) as contents:   # what is inside: arrays, and JSON text
        for name in contents.files:
            print(f"  {name:8s} {contents[name].dtype}, shape {contents[name].shape}")
        meta = json.loads(str(contents["meta"]))
    print("  meta holds:", ", ".join(meta))

    resumed = hp.Trainer.load(path)
print(f"loaded: {resumed.epoch_} epochs trained, hyperparameters equal: "
      f"{resumed.hparams == hparams}")
resumed.fit(X, y, epochs=10, verbose=0)

identical = all(np.array_equal(straight.params[k], resumed.params[k]) for k in straight.params)
print(f"20 epochs straight vs 10 + save/load + 10: parameters identical: {identical}")
assert identical, "saving, loading and continuing gives the very same parameters as one run"

# %%
# Copy only the parameters
# ------------------------
# A fresh trainer with the same hyperparameters, built for 64 features and
# 10 classes, gets the parameters of the first 10 epochs and trains 10 more.
# Its optimizer starts from zero and its random generators from the start.
weights_only = hp.Trainer(hparams).build(n_features=64, n_outputs=10)
weights_only.load_params(first_half.params)
weights_only.fit(X, y, epochs=10, verbose=0)
gap = max(np.abs(straight.params[k] - weights_only.params[k]).max() for k in straight.params)
print(f"parameters only: largest difference from the straight run {gap:.3f}")

# %%
# The three runs
# --------------
# The resumed run's history continues the saved one (the history is in the
# file too), and its last 10 epochs lie exactly on the straight run's curve.
# The run that kept only the weights starts from the same point but, with
# Adam's averages reset, takes a different path (here it happens to end a
# little lower; with another seed it may end higher). Better or worse is not
# the point: it is not the training run you saved, so results cannot
# be reproduced.
fig, ax = plt.subplots(figsize=(7, 4.2))
epochs = np.arange(1, 21)
ax.plot(epochs, straight.history.history["val_loss"], "-", linewidth=3, color="C0",
        label="20 epochs straight")
ax.plot(epochs, resumed.history.history["val_loss"], "o", color="C1",
        label="10 epochs, save, load, 10 more")
ax.plot(epochs[10:], weights_only.history.history["val_loss"], "s--", color="C3",
        label="only the parameters copied, 10 more")
ax.axvline(10.5, color="0.6", linestyle=":")
ax.annotate("save / load", (10.6, ax.get_ylim()[1]), va="top", color="0.4")
ax.set_yscale("log")
ax.yaxis.set_major_formatter("{x:g}")
ax.yaxis.set_minor_formatter("{x:g}")
ax.set_xlabel("epoch")
ax.set_ylabel("validation loss")
ax.legend()
fig.tight_layout()
plt.show()
