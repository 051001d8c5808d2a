"""Nothing lost, nothing mixed up: saving that never destroys the previous file, models
that load without asking for more memory than they need, a failed build that leaves
nothing half-built, a memory estimate that counts the real peak, and errors that name
the culprit.

Oracles: the old and the new model's own parameters (a killed or failing save must
leave one of them), tracemalloc's measured peaks, the trainer's state before a
failure, and each message's required words.
"""
import errno
import json
import os
import pickle
import random
import re
import signal
import subprocess
import sys
import textwrap
import time
import tracemalloc

import numpy as np
import pytest

import hpframe as hp
import hpframe.trainer as trainer_module

from helpers import blobs

SRC = os.path.dirname(os.path.dirname(os.path.abspath(hp.__file__)))


def _child(code):
    """A Python subprocess running ``code`` with this hpframe first on the path."""
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _fingerprint(trainer):
    return {k: v.copy() for k, v in trainer.params.items()}


def _same(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


# ---- 1. saving never destroys the previous file -------------------------------------

BIG = dict(hidden_layers=(1500,), optimizer="adam", seed=5)       # ~ 3 x 4.5 MB of arrays


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")
def test_a_save_killed_at_any_moment_leaves_the_old_or_the_new_model(tmp_path):
    path = tmp_path / "model.npz"
    old = hp.Trainer(hidden_layers=(3,), seed=1).build(750, 4)
    new = hp.Trainer(**BIG).build(750, 4)
    old_params, new_params = _fingerprint(old), _fingerprint(new)
    rng = random.Random(0)
    seen = {"old": 0, "new": 0}
    for attempt in range(20):
        old.save(path)
        pid = os.fork()
        if pid == 0:                         # the child saves over and over until killed
            try:
                while True:
                    new.save(path)
            finally:
                os._exit(1)
        time.sleep(rng.uniform(0.0, 0.3))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        loaded = _fingerprint(hp.Trainer.load(path))
        which = "old" if _same(loaded, old_params) else "new" if _same(loaded, new_params) \
            else None
        assert which, f"attempt {attempt}: the file holds neither the old nor the new model"
        seen[which] += 1
    assert seen["old"] + seen["new"] == 20
    leftovers = list(tmp_path.glob(".model.npz.*.tmp"))     # kills in the middle of a write
    assert leftovers, "no kill landed in the middle of a save: the test tested nothing"


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE (POSIX)")
@pytest.mark.parametrize("on_limit", ["error", "signal"])
def test_a_save_that_fails_part_way_keeps_the_old_file(tmp_path, on_limit):
    # RLIMIT_FSIZE: writing past the limit raises EFBIG (SIGXFSZ ignored) or kills the
    # process with SIGXFSZ - like a disk that fills up in the middle of a save
    path = tmp_path / "model.npz"
    old = hp.Trainer(hidden_layers=(3,), seed=1).build(200, 4)
    old.save(path)
    before = path.read_bytes()
    child = _child(f"""
        import errno, resource, signal, hpframe as hp
        t = hp.Trainer(hidden_layers=(600,), seed=2).build(200, 4)     # ~ 1.5 MB
        # Python starts with SIGXFSZ ignored; "signal" restores the default (killed)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN if {on_limit!r} == "error" else
                      signal.SIG_DFL)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
        try:
            t.save({str(path)!r})
        except OSError as exc:
            print("errno", exc.errno)
    """)
    out, err = child.communicate(timeout=120)
    if on_limit == "error":
        assert child.returncode == 0, err
        assert out.split() == ["errno", str(errno.EFBIG)]
        assert not list(tmp_path.glob("*.tmp")), "the temporary file was not removed"
    else:
        assert child.returncode == -signal.SIGXFSZ, (out, err)
    assert path.read_bytes() == before
    assert _same(_fingerprint(hp.Trainer.load(path)), _fingerprint(old))


def test_saving_to_a_file_object_still_works(tmp_path):
    t = hp.Trainer(hidden_layers=(4,)).build(3, 2)
    with open(tmp_path / "m.npz", "wb") as f:
        t.save(f)
    assert _same(_fingerprint(hp.Trainer.load(tmp_path / "m.npz")), _fingerprint(t))


# ---- 3. a model that trained loads ------------------------------------------------------

def test_a_huge_batch_size_model_saves_loads_and_unpickles_in_little_memory(tmp_path):
    X, y = blobs(n=300, d=20)
    t = hp.Trainer(hidden_layers=(32,), batch_size=10**8, epochs=2).fit(X, y, verbose=0)
    t.save(tmp_path / "m.npz")
    assert os.path.getsize(tmp_path / "m.npz") < 100_000
    tracemalloc.start()
    try:
        loaded = hp.Trainer.load(tmp_path / "m.npz")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * 2**20, f"loading asked for {peak / 2**20:.1f} MB"
    np.testing.assert_array_equal(loaded.predict_proba(X), t.predict_proba(X))
    loaded.fit(X, y, verbose=0, epochs=1)                 # and it trains on
    t.fit(X, y, verbose=0, epochs=1)
    assert _same(_fingerprint(loaded), _fingerprint(t))

    pytest.importorskip("sklearn")
    from hpframe.sklearn import HPClassifier
    clf = HPClassifier(hidden_layers=(32,), batch_size=10**8, epochs=2).fit(X, y)
    blob = pickle.dumps(clf)
    tracemalloc.start()
    try:
        again = pickle.loads(blob)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * 2**20, f"unpickling asked for {peak / 2**20:.1f} MB"
    np.testing.assert_array_equal(again.predict(X), clf.predict(X))


def test_build_allocates_for_prediction_not_for_the_raw_batch_size():
    tracemalloc.start()
    try:
        t = hp.Trainer(hidden_layers=(16,), batch_size=10**8).build(10, 3)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**20
    X, y = blobs(n=90, d=10)
    t.fit(X, y, verbose=0, epochs=1)                 # fit grows the buffers it needs
    assert t.predict(X).shape == (90,)


# ---- 5. a failed build leaves nothing half-built ------------------------------------------

def test_a_memory_error_while_initialising_leaves_the_trainer_as_it_was(monkeypatch):
    X, y = blobs()

    def no_memory(*args, **kwargs):
        raise MemoryError("simulated")
    fresh = hp.Trainer(hidden_layers=(8,))
    monkeypatch.setattr(trainer_module, "init_weights", no_memory)
    with pytest.raises(MemoryError):
        fresh.build(5, 3)
    with pytest.raises(MemoryError):
        fresh.fit(X, y, verbose=0)
    assert not fresh.is_built and fresh.classes_ is None and fresh.epoch_ == 0
    monkeypatch.undo()
    trained = hp.Trainer(hidden_layers=(8,), epochs=2).fit(X, y, verbose=0)
    before, proba = _fingerprint(trained), trained.predict_proba(X)
    monkeypatch.setattr(trainer_module, "init_weights", no_memory)
    with pytest.raises(MemoryError):
        trained.build(5, 3)
    assert trained.is_built and trained.epoch_ == 2 and _same(_fingerprint(trained), before)
    np.testing.assert_array_equal(trained.predict_proba(X), proba)
    monkeypatch.undo()
    # usable after: it trains exactly as a trainer that never failed
    never_failed = hp.Trainer(hidden_layers=(8,)).fit(X, y, verbose=0)
    assert _same(_fingerprint(fresh.fit(X, y, verbose=0)), _fingerprint(never_failed))


# ---- 6. estimate_memory counts the real peak ----------------------------------------------

@pytest.mark.parametrize("n_features, hidden, n_samples, fields", [
    (2000, (1500,), 200, {"optimizer": "sgd"}),                    # one wide layer
    (1500, (1200, 300), 200, {"optimizer": "momentum", "activation": "tanh"}),
    (300, (2000,), 400, {"dropout": 0.2}),
    (64, (64,), 1797, {}),                                          # the digits' shape
])
def test_estimate_memory_is_within_20_percent_of_the_peak_of_fit(n_features, hidden,
                                                                 n_samples, fields):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_samples, n_features)).astype(np.float32)
    y = np.arange(n_samples) % 10
    t = hp.Trainer(hidden_layers=hidden, epochs=1, **fields)
    hp.Trainer(hidden_layers=(2,), epochs=1).fit(X[:20, :3], y[:20], verbose=0)  # warm up
    tracemalloc.start()
    try:
        t.fit(X, y, verbose=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    estimate = hp.estimate_memory(t.hparams, n_features, 10, n_samples)["total"]
    assert 0.8 * peak <= estimate <= 1.2 * peak, \
        f"estimate {estimate / 2**20:.2f} MB vs measured peak {peak / 2**20:.2f} MB"


# ---- 7. every error names the culprit -----------------------------------------------------

def _saved_arrays(tmp_path, **fields):
    X, y = blobs()
    hp.Trainer(hidden_layers=(6,), epochs=1, **fields).fit(X, y, verbose=0).save(
        tmp_path / "good.npz")
    with np.load(tmp_path / "good.npz") as f:
        return {k: f[k] for k in f.files}


def _tampered(tmp_path, change):
    arrays = _saved_arrays(tmp_path)
    meta = json.loads(str(arrays["meta"]))
    change(meta, arrays)
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "bad.npz", **arrays)
    return tmp_path / "bad.npz"


@pytest.mark.parametrize("change, message", [
    (lambda m, a: m.update(task="bogus"), "task='bogus'"),
    (lambda m, a: a.update(params=np.full_like(a["params"], np.nan)),
     "params contains NaN or infinity"),
    (lambda m, a: m.update(n_features="5"), "n_features='5'"),
    (lambda m, a: m.update(n_features=10**12), "params has shape"),
    (lambda m, a: m.update(n_outputs=7), "params has shape"),
    (lambda m, a: m.update(classes=[0, 1]), "classes must be a list of 3 labels"),
    (lambda m, a: m.update(classes=5), "classes must be a list of 3 labels"),
    (lambda m, a: m.update(hparams=[1, 2]), "hparams"),
    (lambda m, a: m["hparams"].update(loss="mse"), "task='multiclass'"),
    (lambda m, a: m.update(shuffle_rng={"state": 3}), "shuffle_rng is not a PCG64"),
    (lambda m, a: m.update(dropout_rngs=[None]), "dropout_rngs[0] is not a PCG64"),
    (lambda m, a: m.update(history=[]), "history"),
    (lambda m, a: m.update(step=-1), "step=-1"),
    (lambda m, a: m.update(first_loss="x"), "first_loss='x'"),
    (lambda m, a: m.update(capacity=10**12), "capacity=1000000000000"),
    (lambda m, a: a.update(state_1=a["state_1"][:-1]), "state_1 has shape"),
])
def test_tampered_metadata_is_refused_naming_the_entry(tmp_path, change, message):
    path = _tampered(tmp_path, change)
    with pytest.raises(ValueError, match=re.escape(message)):
        hp.Trainer.load(path)


@pytest.mark.parametrize("content", [
    os.urandom(3000), b"hello, I am a text file\n", b"PK\x03\x04 broken zip",
    pickle.dumps({"a": 1}),
])
def test_a_file_that_is_not_a_model_says_so_and_never_suggests_pickle(tmp_path, content):
    path = tmp_path / "thing.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError) as info:
        hp.Trainer.load(path)
    assert "not an hpframe model file" in str(info.value) or \
        "not a readable hpframe model file" in str(info.value)
    assert "pickle" not in str(info.value).replace("never loads", "")
    with pytest.raises(ValueError, match="hpframe model file"):
        hp.io.from_bytes(content)


def test_a_model_file_holding_python_objects_is_refused_without_pickle_advice(tmp_path):
    arrays = _saved_arrays(tmp_path)
    arrays["state_2"] = np.array([{"x": 1}], dtype=object)
    np.savez(tmp_path / "objects.npz", **arrays)
    with pytest.raises(ValueError, match="holds Python objects, which hpframe never loads") \
            as info:
        hp.Trainer.load(tmp_path / "objects.npz")
    assert "allow_pickle" not in str(info.value)


@pytest.mark.parametrize("call, error, message", [
    (lambda X, y: hp.Trainer(validation_split=0.9999).fit(X, y, verbose=0), ValueError,
     r"validation_split=0.9999 cannot split these 240 samples"),
    (lambda X, y: hp.Trainer().fit(X, __import__("scipy.sparse").sparse.csr_matrix(
        y[:, None]), verbose=0), TypeError,
     r"y is a scipy.sparse csr_matrix: sparse targets are not supported"),
    (lambda X, y: hp.Trainer().fit(np.full((4, 2), 1e39), [0, 1, 0, 1], verbose=0),
     ValueError, r"X has values too large for float32 .* became infinity when converted"),
    (lambda X, y: hp.Trainer(loss="mse").fit(X, np.full(len(X), -1e39), verbose=0),
     ValueError, r"y has values too large for float32 .* became infinity when converted"),
    (lambda X, y: hp.set_num_threads(10**6), ValueError,
     r"n=1000000 is more than 1024 threads"),
])
def test_each_bad_input_is_named(call, error, message):
    X, y = blobs()
    try:
        with pytest.raises(error, match=message) as info:
            call(X, y)
    finally:
        hp.set_num_threads(None)
    assert "stratify" not in str(info.value)
    assert "shape ()" not in str(info.value)


def test_a_sparse_matrix_predicts_what_its_dense_self_predicts():
    # sparse X is supported (tests/test_sklearn_sparse.py): never refused, never different
    sparse = pytest.importorskip("scipy.sparse")
    X, y = blobs()
    t = hp.Trainer(hidden_layers=(4,), epochs=1).fit(X, y, verbose=0)
    np.testing.assert_array_equal(t.decision_function(sparse.csr_matrix(X)),
                                  t.decision_function(X))


def test_the_environment_variable_has_the_same_bound(monkeypatch):
    monkeypatch.setenv("HPFRAME_NUM_THREADS", str(10**6))
    hp.set_num_threads(None)
    with pytest.raises(ValueError, match="HPFRAME_NUM_THREADS='1000000'.*from 1 to 1024"):
        hp.get_num_threads()


def _rewrite(path, out, member, payload, compress=False):
    import zipfile
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = payload if info.filename == f"{member}.npy" else src.read(info)
            packed = compress and info.filename == f"{member}.npy"
            dst.writestr(info.filename, data,
                         zipfile.ZIP_DEFLATED if packed else zipfile.ZIP_STORED)


def test_a_header_asking_for_more_than_the_file_holds_is_refused_before_allocating(tmp_path):
    import io as stdio
    _saved_arrays(tmp_path)                       # writes good.npz
    header = stdio.BytesIO()                      # magic, then a header claiming 1e10
    np.lib.format.write_array_header_1_0(          # float32 values (40 GB)
        header, {"descr": "<f4", "fortran_order": False, "shape": (10**10,)})
    _rewrite(tmp_path / "good.npz", tmp_path / "huge.npz", "params",
             header.getvalue() + b"\0" * 64)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"params's header says \(10000000000,\) "
                                             r"float32, which is not the 64 bytes"):
            hp.Trainer.load(tmp_path / "huge.npz")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**20


def test_a_compressed_member_is_refused(tmp_path):
    import zipfile
    _saved_arrays(tmp_path)
    with zipfile.ZipFile(tmp_path / "good.npz") as f:
        params = f.read("params.npy")
    _rewrite(tmp_path / "good.npz", tmp_path / "zipped.npz", "params", params, compress=True)
    with pytest.raises(ValueError, match="params is stored compressed"):
        hp.Trainer.load(tmp_path / "zipped.npz")
