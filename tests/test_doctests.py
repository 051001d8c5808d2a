"""Every example in hpframe's docstrings runs and prints what it shows.

The installed package is walked (so this checks the build under test, release
or checked), each module's docstring examples are run by :mod:`doctest`, and
a module that needs an optional dependency which is not installed is skipped.
Examples whose numbers vary print them with ``...`` or only to a few digits.
"""
import doctest
import importlib
import pkgutil

import pytest

import hpframe

MODULES = sorted({"hpframe"} | {m.name for m in pkgutil.walk_packages(hpframe.__path__,
                                                                      "hpframe.")})


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                # an example that writes a file writes here
    try:
        module = importlib.import_module(name)
    except ImportError as exc:                 # an extra that is not installed
        pytest.skip(f"{name} needs {exc.name or exc}")
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in finder.find(module, name) if t.examples]
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"


def test_the_package_example_is_checked():
    """The example in hpframe's own docstring (what a reader sees first) is among them."""
    tests = doctest.DocTestFinder().find(hpframe, "hpframe")
    assert any("trainer.hparams.learning_rate" in e.source for t in tests for e in t.examples)
