"""The BLAS policy: how products are cut is measured once per machine and kept.

Nothing here times anything: the measurement is replaced by hand-made times
(or forbidden, to show it is not run), and the oracle is what the policy must
do with them - written out here, not computed the same way.
"""
import json

import numpy as np
import pytest

from hpframe._core import _gemm_policy as policy
from hpframe._core.network import Network
from hpframe._core.spec import NetworkSpec
from hpframe.__main__ import main


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """No override, an empty cache folder of our own, and no remembered answer."""
    monkeypatch.delenv(policy.ENV_VAR, raising=False)
    monkeypatch.delenv(policy.KERNEL_ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path))
    policy.forget()
    yield tmp_path
    policy.forget()


def write_cache(entries):
    path = policy.cache_file()
    import os
    os.makedirs(policy.cache_dir(), exist_ok=True)
    with open(path, "w") as f:
        json.dump({"format": policy.FORMAT, "kernels": entries}, f)
    return path


def forbid_measuring(monkeypatch):
    def measure():
        raise AssertionError("the policy was measured again, though it was known")
    monkeypatch.setattr(policy, "measure", measure)


def new_network():
    return Network(NetworkSpec((5, 4, 3), capacity=2, seed=0))


def test_the_environment_variable_wins_over_the_cache(fresh, monkeypatch):
    write_cache({policy.blas_kernel(): {"gemm_piece": 250_000}})
    forbid_measuring(monkeypatch)
    monkeypatch.setenv(policy.ENV_VAR, "6000")
    chosen = policy.gemm_policy()
    assert (chosen["gemm_piece"], chosen["source"]) == (6000, "environment")
    assert new_network().gemm_piece == 6000, "a new network must use the override"


@pytest.mark.parametrize("name, raw, allowed", [
    ("HPFRAME_GEMM_PIECE", "-1", "an integer >= 0"),
    ("HPFRAME_GEMM_PIECE", "1e6", "an integer >= 0"),
    ("HPFRAME_GEMM_PIECE", "many", "an integer >= 0"),
    ("HPFRAME_GEMM_KERNEL", "mkl", "'blas'"),
    ("HPFRAME_GEMM_KERNEL", "1", "'blas'")])
def test_a_bad_environment_variable_is_an_error_naming_it(fresh, monkeypatch, name, raw,
                                                          allowed):
    assert name in (policy.ENV_VAR, policy.KERNEL_ENV_VAR)
    monkeypatch.setenv(name, raw)
    with pytest.raises(ValueError, match=f"{name}='{raw}' is not allowed; use {allowed}"):
        policy.gemm_policy()


def test_the_cache_is_read_not_measured_again(fresh, monkeypatch):
    kernel = policy.blas_kernel()
    write_cache({kernel: {"gemm_piece": 12_345}, "other BLAS | other CPU": {"gemm_piece": 7}})
    forbid_measuring(monkeypatch)
    chosen = policy.gemm_policy()
    assert (chosen["gemm_piece"], chosen["source"], chosen["kernel"]) == (12_345, "cache", kernel)
    assert new_network().gemm_piece == 12_345


def test_a_missing_entry_is_measured_once_and_kept(fresh, monkeypatch):
    # hand-made times: 250,000 is 20% faster on both workloads, 1,000,000 only 10%
    calls = []

    def fake_times():
        calls.append(1)
        return {"a": {0: 1.0, 250_000: 0.8, 1_000_000: 0.9, 4_000_000: 1.1},
                "b": {0: 2.0, 250_000: 1.6, 1_000_000: 1.8, 4_000_000: 2.2}}
    monkeypatch.setattr(policy, "_time_candidates", fake_times)
    monkeypatch.setattr(policy, "_time_predict", lambda piece: {"blas": [1.0], "own": [1.0]})
    write_cache({"other BLAS | other CPU": {"gemm_piece": 7}})
    chosen = policy.gemm_policy()
    assert (chosen["gemm_piece"], chosen["source"]) == (250_000, "measured")
    saved = json.loads(open(policy.cache_file()).read())["kernels"]
    assert saved[policy.blas_kernel()]["gemm_piece"] == 250_000
    assert saved["other BLAS | other CPU"] == {"gemm_piece": 7}, "other kernels' entries kept"
    policy.forget()                          # a new process: reads the file
    again = policy.gemm_policy()
    assert (again["gemm_piece"], again["source"], len(calls)) == (250_000, "cache", 1)


def test_pieces_are_kept_only_if_clearly_faster():
    candidates = (0, 1000, 2000)
    # 1000 is 1% faster - within noise: one call per product stays
    assert policy.choose({"w": {0: 1.0, 1000: 0.99, 2000: 1.2}}, candidates)[0] == 0
    # 2000 is 10% faster on one workload, equal on the other: mean 5% -> chosen
    times = {"w": {0: 1.0, 1000: 1.0, 2000: 0.9}, "v": {0: 1.0, 1000: 1.1, 2000: 1.0}}
    piece, rel = policy.choose(times, candidates)
    assert piece == 2000
    assert rel[2000] == pytest.approx(np.sqrt(0.9))
    # times by repeat: the ratio within each repeat counts (repeat 2 was slowed for all)
    by_repeat = {"w": {0: [1.0, 3.0, 1.0], 1000: [0.9, 2.7, 0.9], 2000: [1.2, 1.2, 1.2]}}
    piece, rel = policy.choose(by_repeat, candidates)
    assert piece == 1000 and rel[1000] == pytest.approx(0.9)
    assert rel[2000] == pytest.approx(1.2), "median of 1.2, 0.4, 1.2"


@pytest.mark.parametrize("text", ["{not json", '{"format": 1, "kernels": []}',
                                  '{"format": 99, "kernels": {}}',
                                  '{"format": 1, "kernels": {"k": {"gemm_piece": -5}}}',
                                  '{"format": 1, "kernels": {"k": {}}}'])
def test_a_corrupt_cache_is_an_error_naming_the_file(fresh, monkeypatch, text):
    # an error, not a silent new measurement: the kept value decided the last bits
    # of earlier results, and a new measurement may choose differently
    import os
    os.makedirs(policy.cache_dir())
    path = policy.cache_file()
    with open(path, "w") as f:
        f.write(text)
    forbid_measuring(monkeypatch)
    with pytest.raises(ValueError, match="the cache file .* is corrupt") as err:
        policy.gemm_policy()
    assert path in str(err.value) and "HPFRAME_GEMM_PIECE" in str(err.value)
    with pytest.raises(ValueError, match="is corrupt"):
        new_network()
    assert open(path).read() == text, "the corrupt file must be left for the user to see"


def test_info_says_what_was_chosen_and_where_from(fresh, monkeypatch, capsys):
    import hpframe
    monkeypatch.setenv(policy.ENV_VAR, "0")
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "products: one BLAS call each" in out
    assert "chosen: set by HPFRAME_GEMM_PIECE" in out
    policy.forget()
    monkeypatch.delenv(policy.ENV_VAR)
    write_cache({policy.blas_kernel(): {"gemm_piece": 1_000_000, "measured": "then",
                                        "relative_time": {"0": 1.0, "1000000": 0.9}}})
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "products: in pieces of at most 1,000,000 multiply-adds" in out
    assert f"read from {policy.cache_file()}" in out
    assert "1,000,000: 0.900" in out
    assert hpframe.build_info()["gemm_piece"] == 1_000_000


def test_info_reports_a_corrupt_cache_without_crashing(fresh, capsys):
    import os
    os.makedirs(policy.cache_dir())
    with open(policy.cache_file(), "w") as f:
        f.write("garbage")
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "products: ERROR - the cache file" in out and policy.cache_file() in out


# ---- hpframe's own float32 product: a candidate like the piece sizes --------------------

needs_own = pytest.mark.skipif(not policy.own_available(),
                               reason="hpframe's own product needs AVX2 and FMA")


def new_float32_network():
    return Network(NetworkSpec((5, 4, 3), capacity=2, seed=0, dtype=np.float32))


@needs_own
def test_the_own_product_is_kept_only_if_clearly_faster_than_every_piece_size(fresh,
                                                                              monkeypatch):
    # hand-made times: own 25% faster than one call, 250,000 only 20% -> own
    monkeypatch.setattr(policy, "_time_candidates", lambda: {
        "a": {0: 1.0, 250_000: 0.8, "own": 0.75}, "b": {0: 2.0, 250_000: 1.6, "own": 1.5}})
    # prediction: the own product 1% slower in one repeat, 2% faster in two (median
    # 0.98: within the 3% margin) -> BLAS
    pieces = []

    def fake_predict(piece):
        pieces.append(piece)
        return {"blas": [1.0, 2.0, 1.0], "own": [1.01, 1.96, 0.98]}
    monkeypatch.setattr(policy, "_time_predict", fake_predict)
    chosen = policy.gemm_policy()
    assert (chosen["gemm_kernel"], chosen["gemm_piece"], chosen["source"]) == ("own", 0,
                                                                              "measured")
    assert chosen["predict_kernel"] == "blas" and pieces == [0]
    saved = json.loads(open(policy.cache_file()).read())["kernels"][policy.blas_kernel()]
    assert (saved["gemm_kernel"], saved["gemm_piece"]) == ("own", 0)
    assert saved["relative_time"]["own"] == pytest.approx(0.75)
    assert new_float32_network().gemm_kernel == "own"
    assert Network(NetworkSpec((5, 4, 3), capacity=2, dtype=np.float64)).gemm_kernel == \
        "blas", "float64 products stay with BLAS"
    # 2% faster only: within noise, one BLAS call per product stays
    assert policy.choose({"a": {0: 1.0, 250_000: 1.1, "own": 0.98}},
                         (0, 250_000, "own"))[0] == 0


def test_an_entry_measured_before_the_own_product_keeps_blas(fresh, monkeypatch):
    write_cache({policy.blas_kernel(): {"gemm_piece": 250_000}})
    forbid_measuring(monkeypatch)
    chosen = policy.gemm_policy()
    assert (chosen["gemm_kernel"], chosen["gemm_piece"]) == ("blas", 250_000)
    net = new_float32_network()
    assert (net.gemm_kernel, net.gemm_piece) == ("blas", 250_000)


@needs_own
def test_the_kernel_variable_overrides_the_cache_both_ways(fresh, monkeypatch, capsys):
    write_cache({policy.blas_kernel(): {"gemm_piece": 0, "gemm_kernel": "own"}})
    forbid_measuring(monkeypatch)
    assert new_float32_network().gemm_kernel == "own", "the cached choice"
    policy.forget()
    monkeypatch.setenv(policy.KERNEL_ENV_VAR, "blas")
    chosen = policy.gemm_policy()
    assert (chosen["gemm_kernel"], chosen["source"]) == ("blas", "environment")
    assert new_float32_network().gemm_kernel == "blas"
    policy.forget()
    write_cache({policy.blas_kernel(): {"gemm_piece": 1_000_000}})
    monkeypatch.setenv(policy.KERNEL_ENV_VAR, "own")
    assert new_float32_network().gemm_kernel == "own"
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "products: hpframe's own float32 product (AVX2, FMA), one call each, up to 256 " \
        "columns; BLAS for wider ones and for float64" in out
    assert "set by HPFRAME_GEMM_PIECE / HPFRAME_GEMM_KERNEL" in out


def test_a_piece_size_set_by_hand_means_blas(fresh, monkeypatch):
    write_cache({policy.blas_kernel(): {"gemm_piece": 0, "gemm_kernel": "own"}})
    forbid_measuring(monkeypatch)
    monkeypatch.setenv(policy.ENV_VAR, "6000")
    net = new_float32_network()
    assert (net.gemm_kernel, net.gemm_piece) == ("blas", 6000)


def test_a_cached_kernel_must_be_known(fresh, monkeypatch):
    path = write_cache({policy.blas_kernel(): {"gemm_piece": 0, "gemm_kernel": "fast"}})
    with pytest.raises(ValueError, match="is corrupt .*gemm_kernel 'fast'"):
        policy.gemm_policy()
    assert path


@needs_own
def test_prediction_is_measured_on_its_own(fresh, monkeypatch):
    # training keeps pieces of 250,000; prediction is 10% faster with the own product
    monkeypatch.setattr(policy, "_time_candidates", lambda: {
        "a": {0: 1.0, 250_000: 0.8, "own": 0.9}})
    monkeypatch.setattr(policy, "_time_predict",
                        lambda piece: {"blas": [1.0, 1.0], "own": [0.9, 0.9]})
    chosen = policy.gemm_policy()
    assert (chosen["gemm_piece"], chosen["gemm_kernel"], chosen["predict_kernel"]) == \
        (250_000, "blas", "own")
    net = new_float32_network()
    assert (net.gemm_kernel, net.predict_kernel) == ("blas", "own")
    saved = json.loads(open(policy.cache_file()).read())["kernels"][policy.blas_kernel()]
    assert saved["predict_relative_time"] == {"blas": 1.0, "own": 0.9}
    monkeypatch.setenv(policy.KERNEL_ENV_VAR, "blas")
    policy.forget()
    assert new_float32_network().predict_kernel == "blas", "the variable rules both"
