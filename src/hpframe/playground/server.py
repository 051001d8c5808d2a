"""Serve the playground on the loopback address, to this machine only.

The Bokeh server binds ``127.0.0.1`` and accepts websocket connections only from
pages served by ``127.0.0.1:PORT`` or ``localhost:PORT`` (or, in a notebook, the
notebook's own address), so no other machine and no other web site can drive
it. Every script and style sheet is served by this server from the installed
Bokeh package; the page fetches nothing from anywhere else.
"""
import socket
import webbrowser

from bokeh.application import Application
from bokeh.application.handlers.function import FunctionHandler
from bokeh.server.server import Server

from hpframe.playground.app import make_document

__all__ = ["LOOPBACK", "free_port", "make_server", "serve"]

LOOPBACK = "127.0.0.1"


def free_port():
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _check_port(port):
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be a whole number from 0 to 65535 (0: any free port), "
                         f"got {port!r}")
    return port or free_port()


def make_server(port=0, extra_origins=(), io_loop=None):
    """A started-on-demand Bokeh server for the playground at ``/``.

    Parameters
    ----------
    port : int, default=0
        0 picks a free port.
    extra_origins : sequence of str
        More ``host:port`` websocket origins to accept (a notebook's address).
    io_loop : tornado.ioloop.IOLoop, optional

    Returns
    -------
    bokeh.server.server.Server
        Not yet started: call ``.start()``; its URL is ``http://127.0.0.1:{port}/``.
    """
    port = _check_port(port)
    origins = [f"{LOOPBACK}:{port}", f"localhost:{port}", *extra_origins]
    kwargs = {} if io_loop is None else {"io_loop": io_loop}
    return Server({"/": Application(FunctionHandler(make_document))}, address=LOOPBACK,
                  port=port, allow_websocket_origin=origins, num_procs=1, **kwargs)


def serve(port=0, open_browser=True):
    """Run the playground until interrupted (Ctrl-C), printing its address.

    Parameters
    ----------
    port : int, default=0
        TCP port on 127.0.0.1; 0 picks a free one.
    open_browser : bool, default=True
        Open the page in the default web browser.
    """
    server = make_server(port)
    server.start()
    url = f"http://{LOOPBACK}:{server.port}/"
    print(f"hpframe playground: {url}  (loopback only; Ctrl-C stops it)", flush=True)
    if open_browser:
        server.io_loop.add_callback(webbrowser.open_new_tab, url)
    try:
        server.io_loop.start()
    except KeyboardInterrupt:
        print("\nhpframe playground stopped.")
    finally:
        server.stop()
