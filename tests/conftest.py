"""Fixtures shared by the test modules; shared plain helpers are in ``helpers.py``."""
import os
import sys

import pytest

# ``from helpers import ...`` works whichever import mode pytest runs in.
sys.path.insert(0, os.path.dirname(__file__))


@pytest.fixture
def plt():
    """``matplotlib.pyplot`` on the Agg backend (skips without matplotlib); closes every
    figure afterwards."""
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as pyplot
    yield pyplot
    pyplot.close("all")
