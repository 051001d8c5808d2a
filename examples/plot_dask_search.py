r"""
==============================
A search on a dask cluster
==============================

Trials of a search are independent, so they can run at the same time on
different cores or machines. ``n_jobs=k`` runs ``k`` trials at once on your
computer; ``executor=`` sends them to any :class:`concurrent.futures.Executor`,
and `dask.distributed <https://distributed.dask.org>`_ turns a cluster of
machines into one: ``Client(...).get_executor()``. The search code does not
change, only where the trials run.

Two guarantees make this safe:

* the results do not depend on where trials ran: every trial's
  hyperparameters and seed are fixed before it is sent, and every trial uses
  one BLAS thread (a matrix product's last bits can change with the number of
  threads), so the cluster returns *bit-identical* values to a serial run;
* a trial that fails or whose worker dies is recorded as failed, and the
  search goes on (and with ``log=`` it can be resumed, as in the random search
  example).

This example starts a small dask ``LocalCluster`` - two worker processes on
this machine, the same software as a real cluster - runs a tiny search on it,
and checks the results against the same search run serially. Without dask it
says how to install it and falls back to ``n_jobs=2``.
"""

# %%
# The search to run
# -----------------
import time

import matplotlib.pyplot as plt
import numpy as np

import hpframe as hp

X, y = hp.datasets.load_digits()
space = {"learning_rate": hp.LogUniform(1e-4, 1e-1),
         "hidden_layers": hp.Choice([(32,), (64,), (128,)])}
base = hp.HyperParams(epochs=15, validation_split=0.2)

try:
    from distributed import Client, LocalCluster
except ImportError:
    Client = LocalCluster = None

# %%
# Run it on a local dask cluster
# ------------------------------
# Worker processes start by importing the script that created them; the
# ``if __name__ == "__main__":`` guard keeps them from starting clusters and
# searches of their own (plain top-level code such as loading the data above
# is fine). On a real cluster, replace ``LocalCluster(...)`` by the
# scheduler's address: ``Client("tcp://scheduler-host:8786")``. The ``with``
# blocks shut the cluster down when the search is over.
if __name__ == "__main__":
    start = time.perf_counter()
    if LocalCluster is not None:
        with (LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
              as cluster, Client(cluster) as client):
            print("workers:", len(client.scheduler_info()["workers"]))
            result = hp.random_search(X, y, space, n_trials=8, base=base, seed=0,
                                      executor=client.get_executor(), verbose=0)
        where = "a dask LocalCluster with 2 workers"
    else:
        print('dask.distributed is not installed; to run this on dask: '
              'pip install "hpframe[dask]". Running on 2 local worker processes instead.')
        result = hp.random_search(X, y, space, n_trials=8, base=base, seed=0, n_jobs=2,
                                  verbose=0)
        where = "2 local worker processes"
    print(f"8 trials on {where}: {time.perf_counter() - start:.1f} s "
          "(including starting the workers)")
    print(result.summary())

# %%
# The same search, serially
# -------------------------
# One trial after another in this process. The values agree to the last bit.
# Serially, this tiny search is also much *faster*: its trials take a few
# hundredths of a second each, far less than starting worker processes and
# sending them the data. A cluster pays off when each trial takes seconds or
# hours - then ``n`` workers finish about ``n`` times sooner.
if __name__ == "__main__":
    start = time.perf_counter()
    serial = hp.random_search(X, y, space, n_trials=8, base=base, seed=0, verbose=0)
    print(f"8 trials serially: {time.perf_counter() - start:.1f} s")
    same = [a.value == b.value for a, b in zip(result.trials, serial.trials)]
    print(f"identical values: {sum(same)} of {len(same)}; best parameters "
          f"{result.best_params} in both: {result.best_params == serial.best_params}")

# %%
# What came back from the workers
# -------------------------------
# Left: each trial's validation loss, from the workers and from the serial
# run - the markers coincide. Right: a trial record holds the full learning
# curves, not just the final value, so you can look at how every
# configuration trained wherever it ran.
if __name__ == "__main__":
    fig, (ax_values, ax_curves) = plt.subplots(1, 2, figsize=(11, 4.2))
    numbers = [t.number for t in serial.trials]
    ax_values.scatter(numbers, [t.value for t in serial.trials], s=150, facecolors="none",
                      edgecolors="C0", linewidths=2, label="serial")
    ax_values.scatter(numbers, [t.value for t in result.trials], marker="x", s=60,
                      color="C3", label=where)
    ax_values.set_yscale("log")
    ax_values.set_xlabel("trial")
    ax_values.set_ylabel("val_loss")
    ax_values.set_title("Same trials, same values")
    ax_values.legend(fontsize="small")
    for trial in result.trials:
        lr = trial.params["learning_rate"]
        ax_curves.plot(np.arange(1, len(trial.history["val_loss"]) + 1),
                       trial.history["val_loss"],
                       label=f"{trial.number}: lr {lr:.1e}, {trial.params['hidden_layers']}")
    ax_curves.set_yscale("log")
    ax_curves.set_xlabel("epoch")
    ax_curves.set_ylabel("val_loss")
    ax_curves.set_title("Learning curves returned by the workers")
    ax_curves.legend(fontsize="x-small", ncol=2)
    fig.tight_layout()
    plt.show()
