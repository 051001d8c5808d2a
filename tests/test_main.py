"""``python -m hpframe``: the README's main job and ``info``."""
import subprocess
import sys
from pathlib import Path

import pytest

import hpframe
from hpframe.__main__ import main


def test_demo_trains_explains_and_searches(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    assert main(["--trials", "3", "--epochs", "5", "--verbose", "0",
                 "--plots", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out
    assert "LEARNED by training" in out and "CHOSEN before training" in out
    assert "4,810" in out                       # 64*64 + 64 + 64*10 + 10 parameters
    assert "best hyperparameters" in out and "rank" in out
    assert "retrained with them (5 epochs, as in the search; step 1 trained 5)" in out
    assert (tmp_path / "learning_curves.png").stat().st_size > 0
    assert (tmp_path / "search.png").stat().st_size > 0


def test_demo_retrains_the_winner_with_the_epochs_it_was_chosen_with(capsys):
    # 20 epochs for the hand-picked run, 15 in the search: the winner is retrained
    # with the 15 it won with (epochs are a hyperparameter too)
    assert main(["--trials", "2", "--epochs", "20", "--verbose", "0"]) == 0
    assert "retrained with them (15 epochs, as in the search; step 1 trained 20)" in \
        capsys.readouterr().out


def test_info_reports_every_core_module(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for name in hpframe._core.CORE_MODULES:
        assert f"hpframe._core.{name}" in out
    assert "core build: " + hpframe.build_info()["mode"] in out


def test_info_reports_the_size_of_blas_calls(capsys):
    # the piece size is the policy's choice for this BLAS kernel (measured once and
    # kept, or HPFRAME_GEMM_PIECE; tests/test_policy.py), and a new network uses it
    from hpframe._core._gemm_policy import gemm_policy
    from hpframe._core.network import Network
    from hpframe._core.spec import NetworkSpec
    info = hpframe.build_info()
    assert info["gemm_piece"] == gemm_policy()["gemm_piece"]
    assert Network(NetworkSpec((3, 2), capacity=1)).gemm_piece == info["gemm_piece"]
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert (f"products: in pieces of at most {info['gemm_piece']:,}" if info["gemm_piece"]
            else "products: one BLAS call each") in out


def test_module_entry_point_help():
    # as a user runs it, next to the installed hpframe (not a source tree)
    root = Path(hpframe.__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-m", "hpframe", "--help"], capture_output=True,
                         text=True, check=True, cwd=root).stdout
    assert "--trials" in out and "--plots" in out


def test_bad_options_exit_with_a_message(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--trials", "-1"])
    assert exc.value.code == 2
    assert "--trials must be >= 0" in capsys.readouterr().err
