"""The playground (issue 17): its session logic, its server, and the page in a real browser.

Oracles: the shown code, run here, must rebuild the same arrays and the same
parameters bit for bit (a Trainer trained in one call versus the playground's
epoch-by-epoch worker); the held-out points shown as "validation" must give the
validation metrics the history records; the divergence message must be the
Trainer's own DivergenceWarning text. The browser test drives Debian's chromium
through selenium and compares what the page displays with a Trainer trained by
the page's own code. It skips, saying why, without bokeh, selenium or chromium.
"""
import gc
import json
import math
import os
import re
import subprocess
import sys
import threading
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest

import hpframe as hp
from hpframe.playground import datasets
from hpframe.playground.session import DEFAULTS, Session, parse_layers

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# the playground's worker thread trains diverging runs on purpose
pytestmark = pytest.mark.filterwarnings("ignore::hpframe.DivergenceWarning")


def _wait(session, timeout=60):
    end = time.monotonic() + timeout
    while session.running:
        assert time.monotonic() < end, "the playground's training thread did not finish"
        time.sleep(0.01)


def _run_code(code, quiet=True):
    """Run the shown code here, in the test (the app itself never runs code)."""
    namespace = {}
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore", hp.DivergenceWarning)
        exec(compile(code, "<shown code>", "exec"), namespace)
    return namespace


def _same_params(a, b):
    pa, pb = a.params, b.params
    return pa.keys() == pb.keys() and all(np.array_equal(pa[k], pb[k]) for k in pa)


# ---------------------------------------------------------------------------
# data sets
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", datasets.NAMES)
def test_shown_data_code_rebuilds_the_same_arrays(name):
    X, y = datasets.load(name, n_samples=120, noise=0.3, seed=5)
    ns = _run_code("\n".join(datasets.code_lines(name, 120, 0.3, 5)))
    assert np.array_equal(ns["X"], X) and np.array_equal(ns["y"], y), \
        f"the shown code must rebuild the {name} data set exactly"
    assert len(X) == 120 and np.isfinite(X).all()


def test_circles_and_xor_are_what_they_say():
    # they live in hp.datasets; the playground's names are the same functions
    assert datasets.make_circles is hp.datasets.make_circles
    assert datasets.make_xor is hp.datasets.make_xor
    assert "playground" not in "\n".join(datasets.code_lines("xor"))
    X, y = hp.datasets.make_circles(200, noise=0.0, factor=0.4, seed=1)
    radius = np.hypot(X[:, 0], X[:, 1])
    assert np.allclose(radius[y == 0], 1.0) and np.allclose(radius[y == 1], 0.4)
    assert np.bincount(y).tolist() == [100, 100]
    X, y = hp.datasets.make_xor(500, noise=0.0, seed=2)
    assert np.array_equal(y, (np.sign(X[:, 0]) != np.sign(X[:, 1])).astype(int))
    X, y = datasets.make_curve(100, noise=0.0, seed=3)
    x = X[:, 0]
    assert np.allclose(y, np.sin(np.pi * x) + 0.5 * x * x)   # written out by hand
    with pytest.raises(ValueError, match="noise"):
        datasets.make_xor(10, noise=-1)
    with pytest.raises(ValueError, match="dataset must be one of"):
        datasets.load("mnist")


# ---------------------------------------------------------------------------
# the session: training in a thread, the code that reproduces it
# ---------------------------------------------------------------------------

CASES = [
    {},
    {"dataset": "spirals", "hidden_layers": "16, 16", "activation": "relu", "dropout": 0.2,
     "optimizer": "sgd", "learning_rate": 0.3, "batch_size": 8},
    {"dataset": "xor", "loss": "binary_cross_entropy", "hidden_layers": "", "weight_decay": 1e-3,
     "validation_split": 0.0},
    {"dataset": "regression", "loss": "huber", "optimizer": "nesterov", "activation": "gelu"},
    {"dataset": "blobs", "noise": 0.5, "optimizer": "adamw", "weight_decay": 1e-2},
]


@pytest.mark.parametrize("settings", CASES)
def test_shown_code_reproduces_the_run_bit_for_bit(settings):
    session = Session(**dict(settings, epochs=12, speed=0))
    for _ in range(3):                       # step, step, step: as the page's button does
        session.step()
        _wait(session)
    session.start()
    _wait(session)
    snap = session.snapshot()
    assert snap["epoch"] == 12 and len(snap["history"]["loss"]) == 12
    trainer = _run_code(session.code())["trainer"]
    assert _same_params(trainer, session.trainer), \
        "the shown code (one fit call) must give the playground's parameters bit for bit"
    assert trainer.history.history["loss"] == snap["history"]["loss"]
    # a paused run: the code reproduces the epoch on show, not the last one set
    assert "epochs=12" in session.code()


def test_changing_the_speed_mid_run_changes_no_result():
    session = Session(epochs=30, speed=100)
    session.start()
    time.sleep(0.05)
    session.configure(speed=0)               # pacing only: the run goes on, not over
    _wait(session)
    assert session.snapshot()["epoch"] == 30 and session.settings["speed"] == 0
    assert _same_params(_run_code(session.code())["trainer"], session.trainer)
    assert "speed" not in session.code()


def test_tabs_training_at_once_still_reproduce_bit_for_bit():
    """Two pages training and a trial search at the same time (one process, as the server)."""
    pytest.importorskip("PIL")
    from hpframe.playground.trials import run_trials
    a = Session(epochs=40, speed=0, batch_size=64, hidden_layers="32, 32")
    b = Session(dataset="circles", epochs=40, speed=0, optimizer="sgd", learning_rate=0.1)
    search = threading.Thread(target=run_trials, args=(Session(epochs=20, speed=0),
                                                       ["learning_rate"], 4))
    a.start(), b.start(), search.start()
    _wait(a), _wait(b), search.join()
    for session in (a, b):
        assert session.snapshot()["epoch"] == 40
        assert _same_params(_run_code(session.code())["trainer"], session.trainer)


def test_shown_validation_points_are_the_ones_fit_holds_out():
    session = Session(epochs=5, speed=0, validation_split=0.3, n_samples=200)
    session.start()
    _wait(session)
    v = session.val_idx
    assert len(v) == 60 and len(np.intersect1d(v, session.train_idx)) == 0
    assert len(v) + len(session.train_idx) == 200
    metrics = session.trainer.evaluate(session.X[v], session.y[v])
    h = session.snapshot()["history"]
    assert metrics["accuracy"] == h["val_accuracy"][-1]
    assert math.isclose(metrics["loss"], h["val_loss"][-1], rel_tol=1e-12)


def test_epoch_zero_shows_the_untrained_network_it_will_train():
    session = Session(speed=0)
    t = hp.Trainer(session.hparams).build(2, 2)
    assert session.n_params == t.n_params == 2 * 8 + 8 + 8 * 8 + 8 + 8 * 2 + 2
    assert session.param_bytes == 4 * session.n_params                    # float32
    assert session.memory == hp.estimate_memory(session.hparams, 2, 2, 300)
    snap = session.snapshot()
    assert snap["epoch"] == 0 and snap["output"].shape == (80 * 80, 2)
    assert np.allclose(snap["output"], t.predict_proba(session.grid))


def test_huge_learning_rate_shows_the_divergence_warning_and_recovers():
    session = Session(learning_rate=1e3, speed=0, epochs=50)
    session.start()
    _wait(session)
    snap = session.snapshot()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _run_code(session.code(), quiet=False)
    words = [str(w.message) for w in caught if issubclass(w.category, hp.DivergenceWarning)]
    assert snap["diverged"].startswith("Training diverged")
    assert words == [snap["diverged"]], "the page must show the DivergenceWarning's words"
    assert snap["epoch"] < 50
    session.start()                          # pressing start again does nothing harmful
    _wait(session)
    assert session.snapshot()["epoch"] == snap["epoch"]
    session.configure(learning_rate=0.03)    # turn it back: a fresh run that learns
    session.start()
    _wait(session)
    snap = session.snapshot()
    assert snap["diverged"] == "" and snap["epoch"] == 50
    assert snap["history"]["val_accuracy"][-1] > 0.9, "moons at lr 0.03 should be learned"


def test_bad_settings_are_refused_with_the_field_and_nothing_changes():
    assert parse_layers("") == () and parse_layers(" 8, 4 ") == (8, 4)
    assert parse_layers("16 16") == (16, 16)
    for bad in ("abc", "8, -1", "0", "1e3", "2.5", "1,2,3,4,5,6,7", "100000"):
        with pytest.raises(ValueError, match="hidden layers must be"):
            parse_layers(bad)
    session = Session(speed=0)
    before = session.settings
    for change, words in [({"dataset": "mnist"}, "dataset must be one of"),
                          ({"loss": "mse"}, "does not fit the moons"),
                          ({"dataset": "spirals", "loss": "binary_cross_entropy"}, "spirals"),
                          ({"epochs": 0}, "epochs must be"), ({"noise": float("nan")}, "noise"),
                          ({"dropout": 1.5}, "dropout"), ({"learning_rate": -1.0}, "learning_rate"),
                          ({"hidden_layers": "eight"}, "hidden layers"),
                          ({"batch_size": True}, "batch_size"), ({"speed": 7}, "speed"),
                          ({"colour": "red"}, "unknown setting")]:
        with pytest.raises(ValueError, match=words):
            session.configure(**change)
        assert session.settings == before, f"a refused {change} must change nothing"
    session.configure(hidden_layers="")      # no hidden layer: a linear model still trains
    session.start()
    _wait(session)
    assert session.trainer.n_params == 2 * 2 + 2 and session.snapshot()["epoch"] == 200


def test_many_quick_restarts_leak_no_threads_or_memory():
    baseline = threading.active_count()
    session = Session(speed=0, epochs=30)

    def churn(i):
        session.start()
        session.step()                       # ignored while running
        session.pause()
        session.step()
        session.configure(seed=i % 3, learning_rate=[0.03, 1e3][i % 2])
        session.start()
        session.reset()
        session.start()
        assert threading.active_count() <= baseline + 1, "at most one training thread"

    for i in range(20):
        churn(i)
    session.close()
    gc.collect()
    tracemalloc.start()
    first = tracemalloc.get_traced_memory()[0]
    for i in range(100):
        churn(i)
    session.close()
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - first
    tracemalloc.stop()
    assert not session.running
    assert threading.active_count() == baseline, "every training thread must have ended"
    assert grown < 2 * 2**20, f"100 restarts kept {grown} bytes: something accumulates"


def test_trial_and_error_ranks_trials_and_draws_each_model():
    pytest.importorskip("PIL")
    from hpframe.playground.trials import run_trials, space_for
    session = Session(epochs=30, speed=0)
    rows = run_trials(session, ["learning_rate", "activation"], n_trials=5, seed=1)
    result = hp.random_search(session.X, session.y, space=space_for(["learning_rate",
                                                                      "activation"]),
                              n_trials=5, base=session.hparams, seed=1, verbose=0)
    by_number = {t.number: t for t in result.trials}
    values = [r["value"] for r in rows]
    assert values == sorted(values) and [r["rank"] for r in rows] == [1, 2, 3, 4, 5]
    for r in rows:
        trial = by_number[r["number"]]
        assert r["value"] == trial.value
        # the thumbnail's model was retrained from the trial's hyperparameters and seed:
        # it must be the very model the search scored
        assert r["val_accuracy"] == trial.history["val_accuracy"][-1]
        assert r["thumbnail"].startswith("data:image/png;base64,")
    with pytest.raises(ValueError, match="choose one or more knobs"):
        run_trials(session, [])


# ---------------------------------------------------------------------------
# the server: loopback only, this machine's origins only, nothing from elsewhere
# ---------------------------------------------------------------------------

def _start_app(port=0):
    """``python -m hpframe playground --no-browser`` in a subprocess; returns (proc, url)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(Path(hp.__file__).parents[1])] + os.environ.get("PYTHONPATH", "").split(os.pathsep)))
    proc = subprocess.Popen([sys.executable, "-m", "hpframe", "playground", "--no-browser",
                             "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
    if not match:
        proc.kill()
        raise AssertionError(f"the app did not print its address: {line!r} "
                             f"{proc.stderr.read()[-2000:]}")
    return proc, match.group(0)


def _stop_app(proc):
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err


def test_server_listens_on_loopback_and_checks_origins():
    pytest.importorskip("bokeh")
    from urllib.request import urlopen

    from tornado.httpclient import HTTPClientError
    from tornado.ioloop import IOLoop
    from tornado.websocket import websocket_connect
    from tornado.httpclient import HTTPRequest

    from hpframe.playground.server import free_port, make_server

    port = free_port()
    server = make_server(port)
    assert server.address == "127.0.0.1"
    assert sorted(server._tornado.websocket_origins) == [f"127.0.0.1:{port}",
                                                         f"localhost:{port}"]
    with pytest.raises(ValueError, match="port must be"):
        make_server(70000)

    proc, url = _start_app()
    try:
        page = urlopen(url, timeout=30).read().decode()
        assert "hpframe playground" in page
        # every script and style comes from this server: no absolute URL at all
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), page[:2000]
        ws = url.replace("http://", "ws://") + "ws"

        async def connect(origin):
            req = HTTPRequest(ws, headers={"Origin": origin})
            try:
                conn = await websocket_connect(req)
            except HTTPClientError as exc:
                return exc.code
            conn.close()
            return 101
        assert IOLoop.current().run_sync(lambda: connect("http://evil.example.com")) == 403
        port = url.rsplit(":", 1)[1].strip("/")
        assert IOLoop.current().run_sync(
            lambda: connect(f"http://evil.example.com:{port}")) == 403
    finally:
        err = _stop_app(proc)
    assert "Traceback" not in err, err


def test_notebook_app_listens_on_loopback_and_accepts_only_the_notebook(monkeypatch):
    pytest.importorskip("bokeh")
    import types

    import hpframe.playground as pg
    shown = []
    fake = types.ModuleType("IPython.display")
    fake.HTML = lambda text: text
    fake.display = shown.append
    package = types.ModuleType("IPython")
    package.display = fake
    monkeypatch.setitem(sys.modules, "IPython", package)
    monkeypatch.setitem(sys.modules, "IPython.display", fake)
    monkeypatch.setattr(pg, "_in_notebook", lambda: True)
    server = hp.playground(notebook_url="http://localhost:8890/")
    try:
        port = server.port
        assert server.address == "127.0.0.1"
        assert sorted(server._tornado.websocket_origins) == sorted(
            {f"127.0.0.1:{port}", f"localhost:{port}", "localhost:8890", "127.0.0.1:8890"})
        assert len(shown) == 1 and f"http://127.0.0.1:{port}/autoload.js" in shown[0]
    finally:
        server.stop()


def test_without_the_extra_it_says_how_to_install_it(monkeypatch, capsys):
    from hpframe.__main__ import main
    monkeypatch.setitem(sys.modules, "bokeh", None)       # as if bokeh were not installed
    with pytest.raises(ImportError, match=r'pip install "hpframe\[playground\]"'):
        hp.playground()
    assert main(["playground", "--no-browser"]) == 1
    assert 'pip install "hpframe[playground]"' in capsys.readouterr().err


def test_a_taken_port_is_reported_not_a_traceback():
    pytest.importorskip("bokeh")
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run([sys.executable, "-m", "hpframe", "playground", "--no-browser",
                              "--port", str(port)], capture_output=True, text=True, timeout=60,
                             env=dict(os.environ, PYTHONPATH=str(Path(hp.__file__).parents[1])))
    assert run.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in run.stderr
    assert "Traceback" not in run.stderr


def test_command_line_says_loopback_and_no_code_in_its_help():
    out = subprocess.run([sys.executable, "-m", "hpframe", "--help"], capture_output=True,
                         text=True, env=dict(os.environ, PYTHONPATH=str(
                             Path(hp.__file__).parents[1]))).stdout
    flat = " ".join(out.split())
    assert "127.0.0.1 only" in flat and "runs no code sent by the page" in flat
    assert "--port" in flat and "--no-browser" in flat


# ---------------------------------------------------------------------------
# the page, in a real headless browser
# ---------------------------------------------------------------------------

FIND = """
function find(root, sel) {
  const hit = root.querySelector(sel);
  if (hit) return hit;
  for (const n of root.querySelectorAll('*'))
    if (n.shadowRoot) { const f = find(n.shadowRoot, sel); if (f) return f; }
  return null;
}
let root = document;
if (arguments[1]) { const host = find(document, arguments[1]); root = host && (host.shadowRoot || host); }
return root ? find(root, arguments[0]) : null;
"""


@pytest.fixture
def browser():
    pytest.importorskip("bokeh", reason="the playground extra (bokeh) is not installed")
    webdriver = pytest.importorskip("selenium.webdriver",
                                    reason="selenium is not installed")
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip("browser test skipped: chromium not installed "
                    "(apt-get install chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1300,1100", "--disable-gpu",
                # as if offline: every host name but the loopback address fails to resolve
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


class Page:
    def __init__(self, driver):
        self.d = driver

    def find(self, selector, within=None, timeout=30):
        end = time.monotonic() + timeout
        while True:
            el = self.d.execute_script(FIND, selector, within)
            if el is not None:
                return el
            assert time.monotonic() < end, f"nothing matches {selector!r} on the page"
            time.sleep(0.1)

    def text(self, selector, within=None, timeout=30):
        # found and read in one script: the page replaces these elements as it updates
        end = time.monotonic() + timeout
        script = FIND.replace("return root ? find(root, arguments[0]) : null;",
                              "const el = root ? find(root, arguments[0]) : null;\n"
                              "return el ? el.textContent : null;")
        while True:
            text = self.d.execute_script(script, selector, within)
            if text is not None:
                return text
            assert time.monotonic() < end, f"nothing matches {selector!r} on the page"
            time.sleep(0.1)

    def until(self, condition, what, timeout=60):
        end = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < end, f"timed out waiting until {what}"
            time.sleep(0.1)

    def shot(self, selector):
        return self.find(selector).screenshot_as_png

    def click(self, element_id):
        self.find(f"button", f"#{element_id}").click()

    def keys(self, control, *keys):
        handle = self.find(".noUi-handle", f"#ctl-{control}")
        for k in keys:
            handle.send_keys(k)

    def choose(self, control, value):
        from selenium.webdriver.support.ui import Select
        Select(self.find("select", f"#ctl-{control}")).select_by_value(value)

    def code(self):
        return self.text("pre", "#code")

    def column(self, source, column):
        """A column of a named data source, as the page's BokehJS document holds it."""
        return self.d.execute_script(
            "const src = Bokeh.documents[0].get_model_by_name(arguments[0]);"
            "const col = src.data[arguments[1]];"
            "const v = arguments[1] === 'image' ? col[0] : col;"
            "return Array.from(v.length !== undefined ? v : v.array);", source, column)


def test_browser_turn_knobs_train_and_match_the_shown_code(browser):
    from selenium.webdriver.common.keys import Keys

    proc, url = _start_app()
    try:
        browser.get(url)
        page = Page(browser)
        start = page.find("#start")           # the start control carries id "start"
        assert start.tag_name.lower().startswith("div") or start is not None
        page.until(lambda: page.text("#state") == "ready", "the page is ready")
        # learning rate 0.032 -> 0.01 (log slider: 5 keyboard steps of 0.1 decade)
        page.keys("learning_rate", *[Keys.ARROW_LEFT] * 5)
        page.until(lambda: "learning_rate=0.01," in page.code(), "the learning rate is 0.01")
        page.choose("activation", "relu")
        page.until(lambda: "activation='relu'" in page.code(), "the activation is relu")
        time.sleep(0.5)                        # the untrained relu network's picture arrives
        image0 = page.column("boundary-image", "image")
        assert page.column("history", "loss") == [], "no loss curve before training"
        boundary0, loss0 = page.shot("#boundary"), page.shot("#loss-plot")
        page.click("start")
        page.until(lambda: page.text("#state") == "done", "200 epochs are trained", 120)
        assert page.text("#epoch") == "200"
        code = page.code()
        shown_accuracy = page.text("#val-accuracy")
        shown_loss = page.text("#train-loss")
        boundary1, loss1 = page.shot("#boundary"), page.shot("#loss-plot")
        image1, curve = page.column("boundary-image", "image"), page.column("history", "loss")
        assert len(image0) == len(image1) == 80 * 80
        changed = np.mean(np.array(image0) != np.array(image1))
        assert changed > 0.05, f"the boundary image must change with training ({changed:.1%})"
        assert boundary1 != boundary0 and loss1 != loss0   # and so do the drawn plots

        trainer = _run_code(code)["trainer"]
        h = trainer.history.history
        assert trainer.hparams.learning_rate == 0.01 and trainer.hparams.activation == "relu"
        assert len(h["loss"]) == 200
        assert shown_accuracy == f"{h['val_accuracy'][-1]:.4g}", \
            "the displayed accuracy must be the one the shown code gives"
        assert shown_loss == f"{h['loss'][-1]:.4g}"
        assert np.allclose(curve, h["loss"], rtol=1e-12, atol=0), \
            "the page's loss curve must be the shown code's history"
        # and the boundary is the shown code's model's: the same colouring of its
        # probabilities (to one unit of a colour channel: predictions in another process)
        from hpframe.playground.render import boundary_rgba
        grid = Session(learning_rate=0.01, activation="relu").grid
        expected = boundary_rgba(trainer.predict_proba(grid), (80, 80)).reshape(-1, 4)
        shown = np.array(image1, dtype=np.uint32).view(np.uint8).reshape(-1, 4)
        assert np.abs(shown.astype(int) - expected.astype(int)).max() <= 1

        # too high a learning rate: the divergence warning's words, and the app goes on
        page.keys("learning_rate", Keys.END)
        page.until(lambda: "learning_rate=1000.0," in page.code(), "the learning rate is 1e3")
        page.click("start")
        page.until(lambda: page.d.execute_script(FIND, "#diverged", None) is not None,
                   "the divergence message shows")
        assert page.text("#diverged").startswith("Training diverged in epoch")
        assert "learning rate that is too high" in page.text("#diverged")

        # rapid clicking, an empty hidden-layer list, then a normal run still works
        for _ in range(5):
            for button in ("start", "pause", "step", "reset", "start"):
                page.click(button)
        page.keys("learning_rate", Keys.HOME, *[Keys.ARROW_RIGHT] * 25)   # 10**-1.5
        page.until(lambda: "learning_rate=0.032," in page.code(), "the learning rate is back")
        field = page.find("input", "#ctl-hidden_layers")
        field.clear()
        field.send_keys(Keys.ENTER)
        page.until(lambda: "hidden_layers=()," in page.code(), "no hidden layer")
        page.click("start")
        page.until(lambda: page.text("#state") == "done", "the linear model is trained", 120)
        assert page.text("#n-params") == "6"         # 2 inputs x 2 classes + 2 biases

        # nothing was requested from anywhere but this server
        host = url.split("//")[1].rstrip("/")
        urls = set()
        for entry in browser.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg["method"] == "Network.requestWillBeSent":
                urls.add(msg["params"]["request"]["url"])
            elif msg["method"] == "Network.webSocketCreated":
                urls.add(msg["params"]["url"])
        outside = [u for u in urls if not (u.startswith((f"http://{host}/", f"ws://{host}/",
                                                          "data:")))]
        assert urls and not outside, f"requests left 127.0.0.1: {outside}"
    finally:
        err = _stop_app(proc)
    assert "Traceback" not in err, err[-3000:]


def test_the_numbers_printed_on_the_playground_page():
    """docs/playground.rst quotes these runs (the overfit and dropout screenshots, seed 1)."""
    def final(dropout, seed):
        session = Session(dataset="spirals", noise=0.1, hidden_layers="64, 64", n_samples=150,
                          dropout=dropout, seed=seed, speed=0)
        session.start()
        _wait(session)
        h = session.snapshot()["history"]
        return h["loss"][-1], h["val_loss"][-1]

    loss, val_loss = final(0.0, 1)
    assert (f"{loss:.2g}", f"{val_loss:.2g}") == ("0.0024", "0.2"), (loss, val_loss)
    loss, val_loss = final(0.15, 1)
    assert (f"{loss:.2g}", f"{val_loss:.2g}") == ("0.27", "0.058"), (loss, val_loss)
    runs = {d: np.array([final(d, seed) for seed in range(5)]) for d in (0.0, 0.15)}
    printed = {0.0: "0.020 ± 0.032 0.13 ± 0.13", 0.15: "0.36 ± 0.11 0.11 ± 0.07"}
    for d, r in runs.items():
        mean, sd = r.mean(axis=0), r.std(axis=0)
        digits = 3 if d == 0.0 else 2
        text = (f"{mean[0]:.{digits}f} ± {sd[0]:.{digits}f} {mean[1]:.2f} ± {sd[1]:.2f}")
        assert text == printed[d], f"dropout {d}: the page prints {printed[d]}, measured {text}"
    gap = {d: (r[:, 1] - r[:, 0]).mean() for d, r in runs.items()}
    assert gap[0.15] < 0 < gap[0.0], \
        "the page says dropout closes the train/validation gap (training loss ends above)"
    val = {d: r[:, 1] for d, r in runs.items()}
    assert abs(val[0.15].mean() - val[0.0].mean()) < min(val[0.15].std(), val[0.0].std()), \
        "the page says the two mean validation losses are within one sd of each other"
