"""
=========================================
Quickstart: parameters vs hyperparameters
=========================================

A neural network has two kinds of numbers, and this first example trains one
network to show both.

* **Hyperparameters** are chosen by you *before* training: how many hidden
  units, which activation, the learning rate, the batch size, the number of
  epochs, ... In hpframe they live in a :class:`~hpframe.HyperParams` and a
  trained model keeps them in ``trainer.hparams``. Training never changes them.
* **Model parameters** are the weights and biases that training *learns* from
  the data. They live in ``trainer.params``; there are thousands of them even
  for this small network, and nobody chooses them by hand.

Like the knobs of a radio, hyperparameters have no formula for their best
setting: you try a few and keep what works on held-out data. The other
examples turn one knob at a time.
"""

# %%
# A first training in ten lines
# -----------------------------
# Load the bundled handwritten digits (1,797 8x8 images, no download), keep a
# test set aside with :func:`hpframe.data.split`, choose the hyperparameters,
# and train. ``validation_split=0.2`` holds out a fifth of the training data
# to watch for overfitting while training.
import matplotlib.pyplot as plt

import hpframe as hp

X, y = hp.datasets.load_digits()
(X_train, y_train), _, (X_test, y_test) = hp.data.split(X, y, val=0.0, test=0.2, seed=0)

hparams = hp.HyperParams(hidden_layers=(64,), activation="relu", learning_rate=0.003,
                         batch_size=32, epochs=20, validation_split=0.2, seed=0)
trainer = hp.Trainer(hparams)
trainer.fit(X_train, y_train, verbose=0)    # verbose=1 shows a progress bar
print("test set:", trainer.evaluate(X_test, y_test))

# %%
# Learning curves
# ---------------
# :meth:`History.plot <hpframe.History.plot>` draws the loss and the accuracy
# of every epoch, on the training data (solid) and on the validation data
# (dashed). Both losses fall: the parameters are learning something that
# carries over to images the network has never seen.
trainer.history.plot()
plt.suptitle("Digits, hidden_layers=(64,), learning_rate=0.003")
plt.tight_layout()

# %%
# What was learned: the parameters
# --------------------------------
# One weight matrix of shape ``(n_in, n_out)`` and one bias vector per dense
# layer. Their number follows from the architecture: :math:`64 \cdot 64 + 64`
# for the hidden layer plus :math:`64 \cdot 10 + 10` for the output layer.
for name, value in trainer.params.items():
    print(f"{name:15s} shape {str(value.shape):9s} e.g. {value.ravel()[0]:+.4f}")
print("learned parameters:", trainer.n_params)

# %%
# What was chosen: the hyperparameters
# ------------------------------------
# Twenty-odd settings, each fixed before training. Those we did not pass keep
# their defaults (``optimizer="adam"``, ``dropout=0.0``, ...).
for name, value in trainer.hparams.to_dict().items():
    print(f"{name:17s} {value!r}")

# %%
# Training changes the parameters, never the hyperparameters
# -----------------------------------------------------------
# Five more epochs (``fit`` continues from the current parameters) move most
# weights, while ``trainer.hparams`` stays exactly what we chose. (The weights
# that stay put get a zero gradient: they belong to the few pixels that are
# blank in every image, or to a hidden ReLU unit that outputs 0 for every
# image - a "dead" unit.)
weights_before = trainer.params["dense_0.weight"]
hparams_before = trainer.hparams
trainer.fit(X_train, y_train, epochs=5, verbose=0)
print(f"dead hidden units: {trainer.dead_units(X_train):.0%}")
moved = (trainer.params["dense_0.weight"] != weights_before).mean()
print(f"share of dense_0 weights changed by 5 more epochs: {moved:.0%}")
print("hyperparameters unchanged:", trainer.hparams == hparams_before)

# %%
# :meth:`Trainer.summary <hpframe.Trainer.summary>` puts the two side by side:
# the parameters per layer and what the chosen hyperparameters cost in memory.
print(trainer.summary())

plt.show()
