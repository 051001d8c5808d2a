r"""
===================
Activation function
===================

Each hidden unit computes a weighted sum :math:`z = x^\top w + b` of its
inputs and passes it through a fixed nonlinear *activation function*
:math:`f(z)`. Without it, a stack of dense layers collapses into a single
linear map, and the network can only draw straight boundaries, however many
layers it has. Which nonlinearity you choose changes how fast and how well
the network learns:

* ``identity`` (no nonlinearity) - a linear model: no hidden layer helps;
* ``sigmoid`` and ``tanh`` - smooth S-curves that *saturate*: for large
  :math:`|z|` their slope :math:`f'(z)` is nearly 0, so the gradient that
  flows back through them shrinks layer by layer (the *vanishing gradient*)
  and training is slow. The sigmoid's slope is at most 1/4, tanh's at most 1;
* ``relu`` :math:`\max(z, 0)` and its smooth relatives ``leaky_relu``, ``elu``
  and ``gelu`` - slope 1 for positive :math:`z`, so gradients pass through
  unchanged; they train fastest and are today's default. A ReLU unit whose
  :math:`z` is negative for every input outputs 0 and gets no gradient - it
  is "dead"; ``leaky_relu`` and ``elu`` keep a small slope there.

hpframe uses PyTorch's constants (leaky slope 0.01, ELU :math:`\alpha = 1`,
the exact erf form of GELU), and He initialisation for the ReLU family,
Glorot for the others (``init="auto"``).

This example first draws the seven functions with
:func:`hpframe.ops.activation`, which calls the same compiled kernels that
training uses, then trains the same network with each of them on three
interleaved spirals.
"""

# %%
# The functions and their slopes
# ------------------------------
# :func:`hpframe.ops.activation_grad` multiplies an incoming gradient by
# :math:`f'(z)`; with an incoming gradient of ones it gives the slope itself.
import matplotlib.pyplot as plt
import numpy as np

import hpframe as hp

activations = ["relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh", "identity"]
z = np.linspace(-4, 4, 401)
fig, axes = plt.subplots(2, 4, figsize=(14, 6), sharex=True, sharey=True)
for ax, name in zip(axes.ravel(), activations):
    ax.axhline(0, color="0.8", linewidth=0.8)
    ax.axvline(0, color="0.8", linewidth=0.8)
    ax.plot(z, hp.ops.activation(z, name), label="f(z)")
    ax.plot(z, hp.ops.activation_grad(z, np.ones_like(z), name), "--", label="slope f'(z)")
    ax.set_title(name)
    ax.set_ylim(-1.5, 3)
axes[0, 0].legend(loc="upper left")
axes[1, 3].axis("off")
fig.tight_layout()

# %%
# Train with each activation
# --------------------------
# Three spiral arms, 600 points, two hidden layers of 32 units, 100 epochs.
# Only ``activation`` changes between runs (and the initialisation it implies).
X, y = hp.datasets.make_spirals(n_samples=600, n_classes=3, noise=0.2, seed=0)
base = hp.HyperParams(hidden_layers=(32, 32), learning_rate=0.01, epochs=100, seed=0)

runs = {}
for name in activations:
    runs[name] = hp.Trainer(base.replace(activation=name)).fit(X, y, verbose=0)
    h = runs[name].history.history
    print(f"{name:10s} val_loss {h['val_loss'][-1]:.3f}  val_accuracy {h['val_accuracy'][-1]:.3f}")

# %%
# Five seeds: is it luck?
# -----------------------
# The same seven trainings with five seeds each (mean ± standard deviation),
# and what this example claims about them, checked:
val_loss, val_acc = {}, {}
for name in activations:
    trainers = [hp.Trainer(base.replace(activation=name, seed=s)).fit(X, y, verbose=0)
                for s in range(5)]
    val_loss[name] = np.array([t.history.history["val_loss"][-1] for t in trainers])
    val_acc[name] = np.array([t.history.history["val_accuracy"][-1] for t in trainers])
    print(f"{name:10s} val_loss {val_loss[name].mean():.3f} ± {val_loss[name].std():.3f}  "
          f"val_accuracy {val_acc[name].mean():.3f} ± {val_acc[name].std():.3f}")
relu_family = ["relu", "leaky_relu", "elu", "gelu"]
assert val_acc["identity"].mean() < 0.45, "identity stays at chance level (a third right)"
assert min(val_acc[n].mean() for n in relu_family) > 0.95, "the ReLU family learns the spirals"
assert val_loss["sigmoid"].mean() > 3 * max(val_loss[n].mean() for n in relu_family), \
    "after 100 epochs sigmoid's validation loss is several times that of the ReLU family"

# %%
# Learning curves and decision regions
# ------------------------------------
# Seed 0's runs. Top left, the validation loss: the ReLU family learns the spirals within a
# few dozen epochs. ``tanh`` gets there too, after a plateau; ``sigmoid``,
# whose slope is at most 1/4, learns slowest - after 100 epochs its loss is
# still several times that of the ReLU family and its regions are rougher. ``identity`` stays at
# chance level (a third of the points right): its boundaries are straight
# lines, and no straight line separates spirals.
fig, axes = plt.subplots(2, 4, figsize=(14, 7))
ax_curves, maps = axes[0, 0], axes.ravel()[1:]
for name, trainer in runs.items():
    ax_curves.plot(np.arange(1, 101), trainer.history.history["val_loss"], label=name)
ax_curves.set_yscale("log")
ax_curves.set_xlabel("epoch")
ax_curves.set_ylabel("validation loss")
ax_curves.legend(fontsize="small")

xx, yy = np.meshgrid(np.linspace(-1.3, 1.3, 150), np.linspace(-1.3, 1.3, 150))
grid = np.column_stack([xx.ravel(), yy.ravel()])
for ax, (name, trainer) in zip(maps, runs.items()):
    regions = trainer.predict(grid).reshape(xx.shape)
    ax.contourf(xx, yy, regions, levels=[-0.5, 0.5, 1.5, 2.5], cmap="viridis", alpha=0.35)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="viridis", s=5)
    accuracy = trainer.history.history["val_accuracy"][-1]
    ax.set_title(f"{name}: val. accuracy {accuracy:.2f}")
    ax.set_xticks([])
    ax.set_yticks([])
fig.tight_layout()
plt.show()

# sphinx_gallery_thumbnail_number = 2
