"""Sphinx helpers for hpframe's documentation (local extension, no network).

Directives
----------
``.. runcode::``
    Runs its Python content when the page is built and shows the code followed
    by what it printed.  Every snippet on a page shares one namespace, top to
    bottom, like the cells of a notebook, and runs in a fresh temporary folder.
    A snippet that raises fails the build (a warning, and the build uses ``-W``),
    so every snippet in the docs is known to run.  Options: ``:hide-output:``.

``.. hparams-table::``
    A table of every :class:`hpframe.HyperParams` field (or the fields named in
    ``:fields:``): its name, kind, default and allowed values, and what it controls, read
    from :data:`hpframe.hparams.FIELDS` at build time so it never drifts from
    the code.

``.. hparam-doc:: name``
    One field's documentation from :data:`hpframe.hparams.FIELDS` (the text
    ``hp.explain(name)`` prints) as a definition list: what, allowed, too low,
    too high, watch, cost.

Substitution
------------
``|machine|`` names the machine the docs were built on (CPU, cores, BLAS), so
measured numbers say where they were measured.
"""
import contextlib
import dataclasses
import io
import os
import platform
import shutil
import tempfile
import traceback
import warnings

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------------------
# runcode
# ------------------------------------------------------------------------------
def _clean_output(text):
    """Keep what a terminal would finally show of lines rewritten with ``\\r``."""
    lines = []
    for line in text.splitlines():
        lines.append(line.rsplit("\r", 1)[-1] if "\r" in line.rstrip("\r") else line.rstrip("\r"))
    return "\n".join(lines).rstrip()


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"{category.__name__}: {message}")


def _format_warning(message, category, filename, lineno, line=None):
    return f"{category.__name__}: {message}\n"


def reset_warnings(gallery_conf, fname):
    """sphinx-gallery reset: show an example's warnings as "Category: message".

    Python's default adds the file's path and line, which would put the build
    machine's folders into the gallery's output.  sphinx-gallery writes the
    warnings an example raises with :func:`warnings.formatwarning`.
    """
    warnings.formatwarning = _format_warning


class RunCode(SphinxDirective):
    has_content = True
    option_spec = {"hide-output": directives.flag}

    def _state(self):
        data = self.env.temp_data
        if "runcode_ns" not in data:
            data["runcode_ns"] = {"__name__": "__main__"}
            data["runcode_dir"] = tempfile.mkdtemp(prefix="hpframe-docs-")
        return data["runcode_ns"], data["runcode_dir"]

    def run(self):
        code = "\n".join(self.content)
        namespace, workdir = self._state()
        buffer = io.StringIO()
        _close_figures()
        cwd = os.getcwd()
        error = None
        try:
            os.chdir(workdir)
            with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer), \
                    warnings.catch_warnings():
                warnings.simplefilter("always")
                warnings.showwarning = _show_warning
                exec(compile(code, f"<{self.env.docname}:{self.lineno}>", "exec"), namespace)
        except BaseException:           # noqa: BLE001 - reported as a build warning
            error = traceback.format_exc()
        finally:
            os.chdir(cwd)
            figures = self._save_figures()
        out = [nodes.literal_block(code, code, language="python")]
        output = _clean_output(buffer.getvalue())
        if error:
            logger.warning("runcode snippet failed:\n%s\n%s", output, error,
                           location=(self.env.docname, self.lineno))
            output = (output + "\n" + error).strip()
        if output and "hide-output" not in self.options:
            block = nodes.literal_block(output, output, language="none")
            block["classes"].append("runcode-output")
            out.append(block)
        for uri in figures:
            out.append(nodes.image(uri=uri, classes=["runcode-figure"]))
        return out

    def _save_figures(self):
        """Save the figures the snippet left open as PNGs; return their URIs."""
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            return []
        uris = []
        folder = os.path.join(self.env.srcdir, "_generated", "figures")
        os.makedirs(folder, exist_ok=True)
        stem = self.env.docname.replace("/", "-")
        for number in plt.get_fignums():
            name = f"{stem}-{self.lineno}-{number}.png"
            plt.figure(number).savefig(os.path.join(folder, name), dpi=90,
                                       bbox_inches="tight")
            uris.append(f"/_generated/figures/{name}")
        plt.close("all")
        return uris


def _close_figures():
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        return
    plt.close("all")


def _cleanup(app, doctree):
    workdir = app.env.temp_data.get("runcode_dir")
    if workdir:
        shutil.rmtree(workdir, ignore_errors=True)


# ------------------------------------------------------------------------------
# the order of the example gallery: the order a learner reads them in
# ------------------------------------------------------------------------------
EXAMPLE_ORDER = [
    "plot_quickstart.py",
    "plot_learning_rate.py", "plot_lr_find.py", "plot_epochs.py", "plot_batch_size.py",
    "plot_activation.py", "plot_loss_function.py", "plot_regression.py", "plot_dropout.py",
    "plot_validation_split.py", "plot_optimizer.py", "plot_save_load.py",
    "plot_random_search.py", "plot_successive_halving.py", "plot_dask_search.py",
]


class GalleryOrder:
    """sphinx-gallery sort key: :data:`EXAMPLE_ORDER` first, any other example after."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        if filename in EXAMPLE_ORDER:
            return (0, EXAMPLE_ORDER.index(filename), filename)
        return (1, 0, filename)

    def __repr__(self):
        return "<GalleryOrder>"


# ------------------------------------------------------------------------------
# the hyperparameter tables
# ------------------------------------------------------------------------------
def _para(text, literal=False):
    para = nodes.paragraph()
    para += nodes.literal(text, text) if literal else nodes.Text(text)
    return para


def _table(header, rows, widths):
    table = nodes.table(classes=["hparams-table", "colwidths-given"])
    group = nodes.tgroup(cols=len(header))
    table += group
    for w in widths:
        group += nodes.colspec(colwidth=w)
    head = nodes.thead()
    group += head
    body = nodes.tbody()
    group += body
    for parent, cells in [(head, header)] + [(body, r) for r in rows]:
        row = nodes.row()
        for cell in cells:
            entry = nodes.entry()
            entry += cell if isinstance(cell, nodes.Node) else _para(cell)
            row += entry
        parent += row
    return table


def _defaults():
    from hpframe import HyperParams
    return {f.name: f.default for f in dataclasses.fields(HyperParams)}


class HParamsTable(SphinxDirective):
    option_spec = {"fields": directives.unchanged}

    def run(self):
        from hpframe.hparams import FIELDS
        defaults = _defaults()
        names = list(FIELDS)
        if "fields" in self.options:
            names = self.options["fields"].replace(",", " ").split()
            unknown = [n for n in names if n not in FIELDS]
            if unknown:
                raise self.error(f"hparams-table: unknown field(s) {unknown}")
        rows = []
        for name in names:
            doc = FIELDS[name]
            # one narrow column for the field's facts, one wide one for the prose:
            # readable in the article column beside the navigation at 1280 px
            facts = nodes.container(classes=["hparams-facts"])
            facts += _para(name, literal=True)
            for label, value, literal in (("kind", doc.kind, False),
                                          ("default", repr(defaults[name]), True),
                                          ("allowed", doc.allowed, False)):
                line = nodes.paragraph()
                line += nodes.emphasis(label, label)
                line += nodes.Text(" ")
                line += nodes.literal(value, value) if literal else nodes.Text(value)
                facts += line
            rows.append([facts, doc.summary])
        return [_table(["field", "what it controls"], rows, [34, 66])]


class HParamDoc(SphinxDirective):
    required_arguments = 1

    def run(self):
        from hpframe.hparams import FIELDS
        name = self.arguments[0]
        if name not in FIELDS:
            raise self.error(f"hparam-doc: unknown field {name!r}")
        doc = FIELDS[name]
        items = [("kind", doc.kind), ("default", repr(_defaults()[name])),
                 ("allowed", doc.allowed), ("what", doc.summary), ("too low", doc.too_low),
                 ("too high", doc.too_high), ("watch", doc.pitfalls), ("cost", doc.cost)]
        fields = nodes.field_list(classes=["hparam-doc"])
        for term, text in items:
            if not text:
                continue
            field = nodes.field()
            field += nodes.field_name(term, term)
            body = nodes.field_body()
            body += _para(text, literal=term == "default")
            field += body
            fields += field
        intro = _para("")
        intro += nodes.Text("From ")
        intro += nodes.literal(f'hp.explain("{name}")', f'hp.explain("{name}")')
        intro += nodes.Text(":")
        dl = nodes.container("", intro, fields, classes=["hparam-doc-box"])
        return [dl]


# ------------------------------------------------------------------------------
# references written relative to the module that defines the docstring
# ------------------------------------------------------------------------------
# hpframe documents its public names where users import them (``hp.Trainer``,
# not ``hpframe.trainer.Trainer``), so a docstring's ``:data:`ACTIVATIONS``` in
# ``HyperParams`` (documented in module ``hpframe``) or ``:class:`HyperParams```
# in ``hpframe.hparams`` names an object that *is* documented, under another
# name.  This resolver finds that name by importing both and comparing the
# objects themselves, so it only ever links to the very object referred to;
# anything it cannot match stays a warning.

def _static_get(obj, name):
    if isinstance(obj, type):
        for klass in obj.__mro__:
            if name in vars(klass):
                return vars(klass)[name]
        raise AttributeError(name)
    return getattr(obj, name)


_MISSING = object()


def _import_dotted(path):
    import importlib
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for part in parts[i:]:
                obj = _static_get(obj, part)
        except AttributeError:
            return _MISSING
        return obj
    return _MISSING


def _documented(env):
    """id(object) -> documented full names, for every hpframe object documented."""
    cache = env.temp_data.get("hpframe_documented")
    if cache is None:
        cache = {}
        for name in env.get_domain("py").objects:
            if name == "hpframe" or name.startswith("hpframe."):
                obj = _import_dotted(name)
                if obj is not _MISSING:
                    cache.setdefault(id(obj), []).append(name)
        env.temp_data["hpframe_documented"] = cache
    return cache


def _resolve_alias(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip(".~")
    modname, clsname = node.get("py:module"), node.get("py:class")
    scopes = []
    if modname:
        scopes.append(modname)
        if clsname:
            owner = _import_dotted(f"{modname}.{clsname}")
            defined_in = getattr(owner, "__module__", None)
            if isinstance(defined_in, str):
                scopes += [f"{modname}.{clsname}", f"{defined_in}.{clsname}", defined_in]
    candidates = [f"{scope}.{target}" for scope in scopes] + [target]
    documented = _documented(env)
    py = env.get_domain("py")
    from sphinx.util.nodes import make_refnode
    # an instance attribute listed in its class's "Attributes" section
    if node["reftype"] == "attr":
        owner_name, _, attr = target.rpartition(".")
        owners = [f"{scope}.{owner_name}" for scope in scopes] if owner_name else scopes[1:2]
        for owner_path in owners:
            owner = _import_dotted(owner_path)
            if isinstance(owner, type) and attr in _listed_attributes(owner):
                names = documented.get(id(owner), [])
                if names:
                    entry = py.objects[names[0]]
                    return make_refnode(app.builder, node["refdoc"], entry.docname,
                                        entry.node_id, contnode, f"{names[0]}.{attr}")
    for full in candidates:
        obj = _import_dotted(full)
        if obj is _MISSING:
            continue
        last = full.rsplit(".", 1)[-1]
        names = [n for n in documented.get(id(obj), []) if n.rsplit(".", 1)[-1] == last]
        if names:
            entry = py.objects[names[0]]
            return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id,
                                contnode, names[0])
    return None


def _listed_attributes(cls):
    """Names in the numpydoc "Attributes" section of ``cls``'s docstring."""
    import inspect
    from numpydoc.docscrape import NumpyDocString
    try:
        section = NumpyDocString(inspect.getdoc(cls) or "")["Attributes"]
    except Exception:           # noqa: BLE001 - a docstring numpydoc cannot parse
        return set()
    return {name.strip() for param in section for name in param.name.split(",")}


def _check_public_names(app, env):
    """Warn for every public name of hpframe that the API reference misses."""
    import importlib
    py = env.get_domain("py")
    documented = set(py.objects) | set(py.modules)
    modules = ["hpframe", "hpframe.data", "hpframe.datasets", "hpframe.ops",
               "hpframe.reference", "hpframe.search", "hpframe.sklearn", "hpframe.hparams"]
    for modname in modules:
        try:
            module = importlib.import_module(modname)
        except ImportError as exc:
            logger.warning("API check: cannot import %s: %s", modname, exc)
            continue
        for name in getattr(module, "__all__", []):
            full = f"{modname}.{name}"
            value = getattr(module, name, None)
            # a re-export documented under its top-level name counts
            aliases = {full, f"hpframe.{name}"}
            if getattr(value, "__name__", None) and getattr(value, "__module__", None):
                aliases.add(f"{value.__module__}.{value.__name__}")
            if not aliases & documented:
                logger.warning("API check: %s is public (in %s.__all__) but not documented "
                               "in docs/api/", full, modname, type="hpframe", subtype="api")


def _reset_documented(app, env):
    env.temp_data.pop("hpframe_documented", None)


# ------------------------------------------------------------------------------
# where the numbers were measured
# ------------------------------------------------------------------------------
def machine_description():
    """CPU model, logical cores, BLAS and versions, in one line."""
    import numpy as np
    import hpframe
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    blas = "unknown BLAS"
    try:
        from threadpoolctl import threadpool_info
        pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        if pools:
            p = pools[0]
            blas = f"{p.get('internal_api')} {p.get('version')} ({p.get('num_threads')} threads)"
    except ImportError:
        pass
    return (f"{cpu}, {os.cpu_count()} logical cores, {platform.system()}; {blas}; "
            f"Python {platform.python_version()}, NumPy {np.__version__}, "
            f"hpframe {hpframe.__version__}")


def _add_prolog(app, config):
    line = f".. |machine| replace:: {machine_description()}\n"
    config.rst_prolog = (config.rst_prolog or "") + "\n" + line


def setup(app):
    app.add_directive("runcode", RunCode)
    app.add_directive("hparams-table", HParamsTable)
    app.add_directive("hparam-doc", HParamDoc)
    app.connect("config-inited", _add_prolog)
    app.connect("doctree-read", _cleanup)
    app.connect("missing-reference", _resolve_alias)
    app.connect("env-updated", _reset_documented)
    app.connect("env-check-consistency", _check_public_names)
    return {"version": "1.0", "parallel_read_safe": False, "parallel_write_safe": True}
