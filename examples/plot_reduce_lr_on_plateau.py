r"""
==========================================================
Lowering the learning rate when the validation loss stalls
==========================================================

The ``learning_rate`` hyperparameter is chosen before training and never
changes. The rate an epoch *actually uses* is training state: the schedule
(``lr_schedule``, ``lr_warmup_epochs``) gives a rate for every epoch, and a
callback may multiply it from then on (:attr:`Trainer.lr_scale
<hpframe.Trainer.lr_scale>`). ``trainer.history.history["lr"]`` records the
rate of every epoch.

:class:`~hpframe.callbacks.ReduceLROnPlateau` uses that. It watches
``val_loss``; after ``patience`` epochs in a row without a new best, it
multiplies the rate by ``factor`` (Keras's rules, with the same arguments).
Large steps early cover ground fast; smaller ones later stop the parameters
from bouncing around the bottom of the valley.

This example trains on the digits with Adam at a rate on the high side
(``0.03``), once with a constant rate and once with ``ReduceLROnPlateau(factor=0.3,
patience=2)``, for five seeds each.
"""

# %%
# One run: the rate drops where the validation loss stalls
# --------------------------------------------------------
import matplotlib.pyplot as plt
import numpy as np

import hpframe as hp

X, y = hp.datasets.load_digits()
(X_train, y_train), (X_val, y_val), _ = hp.data.split(X, y, seed=0)
base = hp.HyperParams(hidden_layers=(64,), optimizer="adam", learning_rate=0.03, epochs=30)

plateau = hp.callbacks.ReduceLROnPlateau(factor=0.3, patience=2)
reduced = hp.Trainer(base).fit(X_train, y_train, validation_data=(X_val, y_val),
                               callbacks=[plateau], verbose=0)
constant = hp.Trainer(base).fit(X_train, y_train, validation_data=(X_val, y_val), verbose=0)
rates = reduced.history.history["lr"]
print("reductions after epochs", [epoch for epoch, _ in plateau.reductions])
print("rate of each epoch:", " ".join(f"{r:.2g}" for r in rates))
print("the hyperparameter is unchanged:", reduced.hparams.learning_rate)
assert rates[0] == 0.03 and rates[-1] < 0.03 and plateau.reductions, \
    "the recorded rate starts at learning_rate and drops during the run"
assert all(b <= a for a, b in zip(rates, rates[1:])), "the rate never rises"

# %%
# Five seeds: what it changes
# ---------------------------
final = {"constant": [], "ReduceLROnPlateau": []}
for seed in range(5):
    for name in final:
        callbacks = [hp.callbacks.ReduceLROnPlateau(factor=0.3, patience=2)] \
            if name != "constant" else []
        trainer = hp.Trainer(base.replace(seed=seed)).fit(
            X_train, y_train, validation_data=(X_val, y_val), callbacks=callbacks, verbose=0)
        final[name].append(trainer.history.history["val_loss"][-1])
for name, values in final.items():
    print(f"{name:18s} final val_loss {np.mean(values):.3f} ± {np.std(values):.3f}")
assert np.mean(final["ReduceLROnPlateau"]) < np.mean(final["constant"]), \
    "with ReduceLROnPlateau the final val_loss is lower on average over the five seeds"

# %%
# On this data the final validation loss with the callback is lower on average
# over the five seeds and varies less from seed to seed; the two spreads
# overlap, so five seeds make this a hint rather than a proof. Once the
# validation loss stops improving for good (the network starts to overfit),
# the callback keeps dividing the rate every ``patience + 1`` epochs until it
# is too small to change anything: ``min_lr`` puts a floor under it, and early
# stopping (``patience`` or :class:`~hpframe.EarlyStopping`) ends such a run.
#
# The plot
# --------
# Left, the validation loss of the single run above with and without the
# callback; right, the rate each epoch used (log scale): every step down is a
# reduction, two epochs after the validation loss stopped improving.
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
left.plot(constant.history.epoch, constant.history.history["val_loss"], label="constant rate")
left.plot(reduced.history.epoch, reduced.history.history["val_loss"],
          label="ReduceLROnPlateau")
left.set(xlabel="epoch", ylabel="val_loss", title="validation loss")
left.legend()
right.step(reduced.history.epoch, rates, where="post", label="ReduceLROnPlateau")
right.step(constant.history.epoch, constant.history.history["lr"], where="post",
           label="constant rate")
right.set(xlabel="epoch", ylabel="learning rate (history['lr'])", yscale="log",
          title="the rate each epoch used")
right.legend()
fig.tight_layout()
plt.show()
