r"""
==========
Batch size
==========

Training does not compute the gradient on all the data at once: it takes a
*mini-batch* of ``batch_size`` samples, computes the gradient of the loss on
those, takes one step, and moves on to the next batch. An epoch therefore has
:math:`\lceil n / \text{batch\_size} \rceil` updates, and each update sees a
*noisy* estimate of the full gradient - the smaller the batch, the noisier.

* **too small** (1-4 samples) - many cheap, noisy steps: the loss jumps about,
  and the per-step overhead makes an epoch slow, because the hardware does its
  best work on larger matrices;
* **too large** (the whole training set) - one smooth but expensive step per
  epoch: with the same learning rate and number of epochs the network has
  taken so few steps that it has barely learned anything.

In between lies a wide range of good values (powers of two between 16 and
256 are the usual choices). Batch size and learning rate interact: larger
batches give steadier gradients and usually tolerate a larger learning rate.
Memory grows with the batch too, but only past 256: the activations of every
layer are stored for each sample of the batch, in buffers at least 256 rows
deep because prediction runs 256 rows at a time through the same buffers (see
:func:`hpframe.estimate_memory` and the batch size page).

This example trains the same network on the bundled digits with six batch
sizes and the same learning rate and number of epochs, and reads the time of
each epoch from ``trainer.history.history["time"]``.
"""

# %%
# Train with six batch sizes
# --------------------------
import matplotlib.pyplot as plt
import numpy as np

import hpframe as hp

X, y = hp.datasets.load_digits()
base = hp.HyperParams(hidden_layers=(64,), learning_rate=1e-3, epochs=30, seed=0)
n_train = round(len(X) * (1 - base.validation_split))

batch_sizes = [1, 4, 16, 64, 256, n_train]
runs = {}
for batch_size in batch_sizes:
    runs[batch_size] = hp.Trainer(base.replace(batch_size=batch_size)).fit(X, y, verbose=0)

print("batch_size  updates/epoch  time/epoch  final val_loss  val_accuracy  epoch-to-epoch jitter")
for batch_size, trainer in runs.items():
    h = trainer.history.history
    val_loss = np.array(h["val_loss"])
    # jitter: spread of the relative change of val_loss between consecutive epochs
    jitter = np.std(np.diff(np.log(val_loss[5:])))
    print(f"{batch_size:10d}  {int(np.ceil(n_train / batch_size)):13d}  "
          f"{np.median(h['time']) * 1e3:7.1f} ms  {val_loss[-1]:14.3f}  "
          f"{h['val_accuracy'][-1]:12.3f}  {jitter:21.3f}")

# %%
# Five seeds: is it luck?
# -----------------------
# The final validation loss and the jitter of every batch size, over five
# seeds (mean ± standard deviation), and the claims below, checked. (Times
# are never checked: they are measurements of a busy machine.)
final, jitter = {}, {}
for batch_size in batch_sizes:
    trainers = [hp.Trainer(base.replace(batch_size=batch_size, seed=s)).fit(X, y, verbose=0)
                for s in range(5)]
    curves = [np.array(t.history.history["val_loss"]) for t in trainers]
    final[batch_size] = np.array([c[-1] for c in curves])
    jitter[batch_size] = np.array([np.std(np.diff(np.log(c[5:]))) for c in curves])
    print(f"batch_size={batch_size:5d}: final val_loss {final[batch_size].mean():.3f} ± "
          f"{final[batch_size].std():.3f}   jitter {jitter[batch_size].mean():.3f} ± "
          f"{jitter[batch_size].std():.3f}")
assert jitter[1].mean() > 3 * jitter[64].mean(), "batch size 1 is the most jagged"
assert final[n_train].mean() > 5 * final[16].mean(), \
    "the full batch is far behind batch size 16 after 30 epochs"

# %%
# Noise, time per epoch, and progress per second
# ----------------------------------------------
# Seed 0's runs. Left: validation loss per epoch. Batch size 1 makes fast progress per
# epoch but its curve is the most jagged; the full batch is perfectly smooth
# and barely moves in 30 epochs (30 updates in all). Middle: the median time of
# an epoch (on the machine that built this page; yours will differ) falls
# steeply from batch size 1 as the per-step overhead is shared by more
# samples, then levels off: beyond a few dozen samples a bigger batch no
# longer makes an epoch faster. Right: what you usually care about, the
# validation loss reached after a given training time. The small-to-middle
# batch sizes get low first; the largest ones are far behind, because their
# few updates are no cheaper than many small ones.
fig, (ax_epoch, ax_time, ax_wall) = plt.subplots(1, 3, figsize=(15, 4))
for i, (batch_size, trainer) in enumerate(runs.items()):
    h = trainer.history.history
    label = f"batch_size={batch_size}" + (" (full)" if batch_size == n_train else "")
    epochs = np.arange(1, len(h["val_loss"]) + 1)
    ax_epoch.plot(epochs, h["val_loss"], color=f"C{i}", label=label)
    ax_wall.plot(np.cumsum(h["time"]), h["val_loss"], color=f"C{i}", label=label)
    ax_time.plot(batch_size, np.median(h["time"]) * 1e3, "o", color=f"C{i}", markersize=9)
ax_epoch.set_yscale("log")
ax_epoch.set_xlabel("epoch")
ax_epoch.set_ylabel("validation loss")
ax_epoch.set_title("Small batches: noisy but fast per epoch")

ax_time.plot(batch_sizes, [np.median(runs[b].history.history["time"]) * 1e3
                           for b in batch_sizes], color="0.6", zorder=0)
ax_time.set_xscale("log")
ax_time.set_yscale("log")
ax_time.yaxis.set_major_formatter("{x:g}")
ax_time.yaxis.set_minor_formatter("{x:g}")
ax_time.set_xlabel("batch size")
ax_time.set_ylabel("time per epoch (ms, median)")
ax_time.set_title("Time per epoch")
ax_time.legend(*ax_epoch.get_legend_handles_labels(), fontsize="small")

ax_wall.set_yscale("log")
ax_wall.set_xscale("log")
ax_wall.set_xlabel("training time (s)")
ax_wall.set_ylabel("validation loss")
ax_wall.set_title("Progress per second")
fig.tight_layout()
plt.show()
