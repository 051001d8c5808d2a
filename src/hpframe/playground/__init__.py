"""The playground: turn the knobs and watch hpframe's real core learn, live in the browser.

Install the web extra (``pip install "hpframe[playground]"``, which brings Bokeh),
then run ``python -m hpframe playground`` or, in a Jupyter notebook,
``hp.playground()``. The app listens on 127.0.0.1 only, accepts websocket
connections from this machine only, serves every script and style itself, and
never runs code sent by the page: the page sends widget values, which are
checked like any other hyperparameters.

This package imports no web code until it is used: ``hpframe.playground.datasets``
(the data sets the shown code rebuilds) needs only NumPy.
"""
import sys
import types

__all__ = ["playground", "serve"]

_MISSING = ("the playground needs the web extra: pip install \"hpframe[playground]\" "
            "(it installs Bokeh)")


def _require_bokeh():
    try:
        import bokeh  # noqa: F401
    except ImportError:
        raise ImportError(_MISSING) from None


def serve(port=0, open_browser=True):
    """Run the playground as a local web app until Ctrl-C (see ``python -m hpframe playground``).

    Parameters
    ----------
    port : int, default=0
        TCP port on 127.0.0.1; 0 picks a free one (printed).
    open_browser : bool, default=True
        Open the page in the default web browser.
    """
    _require_bokeh()
    from hpframe.playground.server import serve as _serve
    _serve(port, open_browser)


def _in_notebook():
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def playground(port=0, notebook_url="localhost:8888", open_browser=True):
    """Open the playground: inside a Jupyter notebook, or as a local web app.

    In a notebook the page appears below the cell, served by a Bokeh server that
    listens on 127.0.0.1 and accepts only the notebook's own page. Elsewhere this
    runs :func:`serve` (it returns when you press Ctrl-C).

    Parameters
    ----------
    port : int, default=0
        TCP port on 127.0.0.1 for the app; 0 picks a free one.
    notebook_url : str, default="localhost:8888"
        ``host:port`` of the Jupyter server whose page shows the app (its
        websocket origin is the only other one accepted).
    open_browser : bool, default=True
        Outside a notebook: open the page in the default web browser.

    Returns
    -------
    bokeh.server.server.Server or None
        In a notebook, the running server (``.stop()`` ends it); otherwise None.

    Examples
    --------
    >>> import hpframe as hp
    >>> hp.playground()          # doctest: +SKIP
    """
    _require_bokeh()
    if not _in_notebook():
        serve(port, open_browser)
        return None
    from bokeh.embed import server_document
    from IPython.display import HTML, display
    from tornado.ioloop import IOLoop

    from hpframe.playground.server import LOOPBACK, make_server
    host = notebook_url.split("://")[-1].rstrip("/")
    origins = [host]
    name, _, nb_port = host.partition(":")
    if name in ("localhost", LOOPBACK):       # the same notebook under either name
        origins += [f"localhost:{nb_port}", f"{LOOPBACK}:{nb_port}"]
    server = make_server(port, extra_origins=origins, io_loop=IOLoop.current())
    server.start()
    display(HTML(server_document(f"http://{LOOPBACK}:{server.port}/")))
    return server


class _CallablePackage(types.ModuleType):
    """``hp.playground(...)`` calls :func:`playground`.

    The package and the function share the name ``hpframe.playground``; importing
    any submodule (``hpframe.playground.datasets``) rebinds that name to the
    package, so the package itself forwards calls to the function.
    """

    def __call__(self, port=0, notebook_url="localhost:8888", open_browser=True):
        return playground(port=port, notebook_url=notebook_url, open_browser=open_browser)


sys.modules[__name__].__class__ = _CallablePackage
