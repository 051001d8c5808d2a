r"""
==================================
Gradient clipping by global norm
==================================

A large gradient times a large learning rate is a step that can throw the
weights far from anywhere useful; the next gradient is larger still, and the
run diverges. ``clip_norm`` bounds the length of every step's gradient. Before
each optimizer step the core computes the L2 norm of all gradients together
(weights and biases),

.. math::

    n = \sqrt{\textstyle\sum_k \lVert g_k \rVert^2}, \qquad
    c = \frac{\text{clip\_norm}}{n + 10^{-6}},

and when :math:`c < 1` multiplies every gradient by :math:`c` (PyTorch's
``clip_grad_norm_``): the direction is kept, the length is at most
``clip_norm``. Steps with a small gradient are left alone.

Here: plain ``sgd`` on the bundled digits with ``tanh`` units and a learning
rate far too high (3.0), eight epochs, five seeds, without clipping and with
``clip_norm=1.0``.
"""

# %%
# Five seeds with and without clipping
# ------------------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np

import hpframe as hp

X, y = hp.datasets.load_digits()
base = hp.HyperParams(hidden_layers=(64,), activation="tanh", optimizer="sgd",
                      learning_rate=3.0, epochs=8)

runs = {None: [], 1.0: []}
with warnings.catch_warnings():
    warnings.simplefilter("ignore", hp.DivergenceWarning)      # counted instead
    for clip_norm in runs:
        for seed in range(5):
            trainer = hp.Trainer(base.replace(clip_norm=clip_norm, seed=seed))
            runs[clip_norm].append(trainer.fit(X, y, verbose=0))

accuracy, diverged = {}, {}
for clip_norm, trainers in runs.items():
    diverged[clip_norm] = sum(t.history.diverged for t in trainers)
    # a diverged run predicts nothing useful: count it at chance, 1 in 10
    accuracy[clip_norm] = np.array([0.1 if t.history.diverged else
                                    t.history.history["val_accuracy"][-1] for t in trainers])
    print(f"clip_norm={clip_norm!s:4}: {diverged[clip_norm]} of 5 runs diverged; "
          f"val_accuracy {accuracy[clip_norm].mean():.3f} ± {accuracy[clip_norm].std():.3f}")

assert diverged[None] == 5, "without clipping every one of the five seeds diverges"
assert diverged[1.0] == 0, "with clip_norm=1.0 none of the five seeds diverges"
assert accuracy[1.0].mean() - accuracy[1.0].std() > 0.9, \
    "the clipped runs reach a val_accuracy above 0.9 (mean minus sd)"

# %%
# Without clipping all five runs blow up (hpframe stops each one with a
# :class:`~hpframe.DivergenceWarning`); with ``clip_norm=1.0`` the same rate
# trains all five to a validation accuracy above 0.9. Clipping does not make
# 3.0 a good rate: it turns an exploding step into a step of bounded length.
# A well-chosen learning rate (see :ref:`sphx_glr_auto_examples_plot_learning_rate.py`)
# usually does better, and clipping then mostly guards against the rare
# outlier batch.
#
# The training loss, epoch by epoch
# ---------------------------------
# Seed 0 of each; the unclipped run stops when it diverges.
fig, ax = plt.subplots(figsize=(7, 4))
for clip_norm, style in ((None, "tab:red"), (1.0, "tab:blue")):
    loss = runs[clip_norm][0].history.history["loss"]
    ax.plot(range(1, len(loss) + 1), loss, "o-", color=style, label=f"clip_norm={clip_norm}")
ax.set(xlabel="epoch", ylabel="training loss", yscale="log",
       title="sgd at learning_rate=3.0 on the digits")
ax.legend()
fig.tight_layout()
plt.show()
