"""A search on a real dask.distributed cluster matches the serial search bit for bit.

The cluster is a LocalCluster of two worker processes with one thread each,
on loopback: the same code path as a remote cluster (tasks and data are
pickled to other processes), with nothing leaving the machine.
"""
import numpy as np
import pytest

import hpframe as hp
from hpframe.search import Choice, LogUniform, random_search, successive_halving

from helpers import blobs

distributed = pytest.importorskip("distributed")


X, Y = blobs(n=200, spread=2.0)
BASE = hp.HyperParams(hidden_layers=(8,), epochs=2, validation_split=0.25)
SPACE = {"learning_rate": LogUniform(1e-3, 1e-1), "batch_size": Choice([16, 32])}


def signature(result):
    return [(t.number, t.status, t.value, t.seed, t.params,
             {k: v for k, v in t.history.items() if k != "time"}) for t in result.trials]


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_dask_cluster_matches_serial(client, tmp_path):
    serial = random_search(X, Y, SPACE, n_trials=6, base=BASE, verbose=0)
    executor = client.get_executor()
    path = tmp_path / "search.jsonl"
    on_dask = random_search(X, Y, SPACE, n_trials=6, base=BASE, verbose=0,
                            executor=executor, log=path)
    assert signature(on_dask) == signature(serial)
    assert all(t.status == "ok" for t in on_dask.trials)
    # each trial ran alone in a worker process: its memory was measured
    assert {t.memory_source for t in on_dask.trials} == {"tracemalloc"}
    # resuming from the log on the cluster runs nothing new and changes nothing
    again = random_search(X, Y, SPACE, n_trials=6, base=BASE, verbose=0,
                          executor=executor, log=path)
    assert signature(again) == signature(serial)


def test_successive_halving_on_dask_matches_serial(client):
    kwargs = dict(n_trials=4, min_epochs=1, max_epochs=2, eta=2, base=BASE, verbose=0)
    serial = successive_halving(X, Y, SPACE, **kwargs)
    on_dask = successive_halving(X, Y, SPACE, executor=client.get_executor(), **kwargs)
    assert signature(on_dask) == signature(serial)
    assert sorted(t.epochs for t in on_dask.trials) == [1, 1, 2, 2]


def test_tpe_cv_and_asha_on_dask(client):
    from hpframe.search import asha, tpe_search
    kwargs = dict(n_trials=8, base=BASE, verbose=0, n_startup_trials=4, batch=2)
    serial = tpe_search(X, Y, SPACE, **kwargs)
    assert signature(tpe_search(X, Y, SPACE, executor=client.get_executor(), **kwargs)) == \
        signature(serial)
    cv = random_search(X, Y, SPACE, n_trials=3, base=BASE, verbose=0, cv=2, repeats=2)
    on_dask = random_search(X, Y, SPACE, n_trials=3, base=BASE, verbose=0, cv=2, repeats=2,
                            executor=client.get_executor())
    assert signature(on_dask) == signature(cv)
    assert [t.scores for t in on_dask.trials] == [t.scores for t in cv.trials]
    reference = {(t.number, t.rung): t.value
                 for t in asha(X, Y, SPACE, n_trials=6, min_epochs=1, max_epochs=4, eta=2,
                               base=BASE, verbose=0).records}
    result = asha(X, Y, SPACE, n_trials=6, min_epochs=1, max_epochs=4, eta=2, base=BASE,
                  verbose=0, executor=client.get_executor())
    assert sum(t.rung == 0 for t in result.records) == 6
    assert all(t.value == reference[(t.number, t.rung)] for t in result.records
               if (t.number, t.rung) in reference)
