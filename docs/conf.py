"""Sphinx configuration for hpframe's documentation.

Build (offline; warnings are errors, every reference must resolve)::

    sphinx-build -W --keep-going -n docs docs/_build/html

Which hpframe is documented
---------------------------
The pages run hpframe (snippets, measurements, the example gallery), so they
need a copy with a compiled core.  In CI the package is pip-installed into a
virtual environment and the docs are built from the clone, whose
``src/hpframe/`` folder has no compiled modules; in development the core is
built in place (``python setup.py build_ext --inplace``).  :func:`_import_hpframe`
takes the first copy whose core imports: normally the installed one; the clone
(``src/`` put first on ``sys.path``) only when it has been built in place.
"""
import importlib
import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
SRC = ROOT / "src"
sys.path.insert(0, str(DOCS / "_ext"))
os.environ.setdefault("MPLBACKEND", "Agg")
# Snippets that read files of the repository (benchmarks/last_full_run.json) find it here.
os.environ["HPFRAME_SOURCE"] = str(ROOT)


def _purge_hpframe():
    for name in [m for m in sys.modules if m == "hpframe" or m.startswith("hpframe.")]:
        del sys.modules[name]


def _try_import():
    try:
        importlib.import_module("hpframe")
        importlib.import_module("hpframe._core.network")
        return sys.modules["hpframe"]
    except ImportError:
        _purge_hpframe()
        return None


def _is_root(entry):
    try:
        return Path(entry or os.getcwd()).resolve() in (ROOT, SRC)
    except OSError:
        return False


def _import_hpframe():
    """Import hpframe with a compiled core; prefer an installed copy."""
    # 1. Whatever sys.path finds first (``python -m sphinx`` from the clone
    #    puts the clone first; the ``sphinx-build`` script does not).
    module = _try_import()
    if module is not None:
        return module
    # 2. The clone was found first but is not built: hide it, take the installed one.
    saved = list(sys.path)
    sys.path[:] = [p for p in sys.path if not _is_root(p)]
    module = _try_import()
    if module is not None:
        return module
    sys.path[:] = saved
    # 3. Nothing installed: the in-place build of this clone.
    sys.path.insert(0, str(SRC))
    module = _try_import()
    if module is not None:
        return module
    raise RuntimeError(
        "The docs need hpframe with its compiled core: `pip install .` (or "
        "`pip install '.[docs]'`) or `python setup.py build_ext --inplace` first.")


hpframe = _import_hpframe()
print(f"hpframe {hpframe.__version__} from {Path(hpframe.__file__).parent}")

# -- Project -------------------------------------------------------------------
project = "hpframe"
author = "The hpframe developers"
copyright = "The hpframe developers"
version = release = hpframe.__version__

# -- Extensions ----------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",     # MathJax 3 served from _static: no CDN
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "sphinx.ext.viewcode",        # [source] links next to every documented object
    "myst_parser",                # Markdown, for the parts of README.md quoted here
    "hpframe_docs",               # docs/_ext: runcode, hyperparameter table, machine
]
# The pages themselves are reStructuredText; Markdown is only ever included.
source_suffix = {".rst": "restructuredtext"}

templates_path = ["_templates"]
exclude_patterns = ["_build", "_generated", "Thumbs.db", ".DS_Store", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip", "**/*.codeobj.json"]
root_doc = "index"
nitpicky = True

# -- autodoc / autosummary / numpydoc --------------------------------------------
autosummary_generate = True
autodoc_member_order = "bysource"
autoclass_content = "class"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
# Types in "Parameters" sections stay plain text: linking them would need every
# word of "ndarray of shape (n_features_in_,)" to be a resolvable name (and a
# trailing underscore is reST link syntax).  Explicit references in the text
# (:class:`~hpframe.HyperParams`, ...) are links, and must resolve.
numpydoc_xref_param_type = False

# Names from outside hpframe written as explicit references in docstrings
# (``:class:`numpy.random.PCG64``` ...).  With no intersphinx they cannot
# resolve; they are listed here.  Everything of hpframe's own must resolve.
_external = [
    "str", "int", "float", "bool", "bytes", "dict", "list", "tuple", "object", "None",
    "True", "False", "callable", "json.dumps", "json.loads", "os.PathLike",
    "concurrent.futures.Executor", "concurrent.futures.ProcessPoolExecutor",
    "concurrent.futures.ThreadPoolExecutor", "collections.namedtuple",
    "numpy.ndarray", "numpy.dtype", "numpy.float32", "numpy.float64", "numpy.random.PCG64",
    "numpy.random.Generator", "numpy.random.SeedSequence", "numpy.random.BitGenerator",
    "numpy.random.default_rng", "numpy.inf", "numpy.nan",
    "pandas.DataFrame", "matplotlib.axes.Axes", "matplotlib.figure.Figure",
    "sklearn.base.BaseEstimator", "sklearn.base.ClassifierMixin",
    "sklearn.base.RegressorMixin", "sklearn.pipeline.Pipeline",
    "sklearn.model_selection.RandomizedSearchCV", "sklearn.model_selection.GridSearchCV",
    "sklearn.model_selection.cross_val_score",
    "dask.distributed.Client", "distributed.Client", "distributed.LocalCluster",
    "sklearn.base.clone", "sklearn.set_config", "sklearn.compose.TransformedTargetRegressor", "tracemalloc", "multiprocessing.Pool",
]
nitpick_ignore = [(role, name) for name in _external
                  for role in ("py:class", "py:obj", "py:exc", "py:func", "py:meth",
                               "py:data", "py:mod", "py:attr")]

# -- HTML ------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"hpframe {release}"
html_static_path = ["_static"]
html_css_files = ["hpframe.css"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 8,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    # nothing fetched from the web: no icon links, no version switcher, no analytics
    "icon_links": [],
}
# Pages without sub-pages need no left sidebar: the room goes to code and output.
html_sidebars = {page: [] for page in [
    "index", "getting_started", "parameters_vs_hyperparameters", "time_and_memory",
    "tuning_workflow", "trial_and_error", "inside_the_core", "whats_new"]}
html_show_sourcelink = False
html_copy_source = False

# -- Math ------------------------------------------------------------------------
# sphinx-mathjax-offline sets mathjax_path to its bundled MathJax 3 (tex-chtml)
# and copies it, fonts included, into _static/mathjax.

# -- sphinx-gallery --------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",          # execute every plot_*.py
    "ignore_pattern": r"/_|__init__\.py",
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "remove_config_comments": True,
    "download_all_examples": False,
    "plot_gallery": "True",
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    # matplotlib's defaults back, and warnings printed as "Category: message",
    # without the build machine's path to the script (docs/_ext)
    "reset_modules": ("matplotlib", "hpframe_docs.reset_warnings"),
    "within_subsection_order": "hpframe_docs.GalleryOrder",   # docs/_ext: reading order
    "show_signature": False,
    "min_reported_time": 0,
    # the execution-times page loads jQuery and DataTables from CDNs: not written
    "write_computation_times": False,
}
