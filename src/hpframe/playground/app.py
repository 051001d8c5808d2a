"""The playground's page: Bokeh widgets and plots over a :class:`Session`.

Each browser tab gets its own document and :class:`Session`. Widget changes call
``Session.configure`` (values are checked there; nothing the page sends is ever
run as code), buttons call start / pause / step / reset, and a periodic callback
on the server's event loop copies the session's latest snapshot into the plots
several times a second. Training itself runs in the session's worker thread.
"""
import html
import math
import threading

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import (Button, CheckboxGroup, ColumnDataSource, CustomJSTickFormatter, Div,
                          PreText, Range1d, Select, Slider, Spinner, TabPanel, Tabs, TextInput)
from bokeh.plotting import figure

from hpframe.playground import datasets
from hpframe.playground.render import PALETTE, boundary_rgba
from hpframe.playground.session import CHOICES, DEFAULTS, GRID, Session
from hpframe.playground.trials import KNOBS, MAX_TRIAL_EPOCHS, run_trials

__all__ = ["make_document"]

UPDATE_MS = 150                           # the page refreshes about 6-7 times a second
BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 2000)
WEIGHT_DECAYS = (0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
SPEEDS = {5: "5 epochs/s", 10: "10 epochs/s", 30: "30 epochs/s", 100: "100 epochs/s",
          0: "as fast as the core goes"}
# the slider holds log10(learning rate); the page shows the rate itself (our own script,
# sent with the page: nothing the page sends back is run)
LR_FORMAT_JS = "return Number(Math.pow(10, tick).toPrecision(2)).toString()"


def _nice_lr(log10_value):
    """The learning rate a log10 slider position stands for, to two significant digits."""
    return float(f"{10 ** float(log10_value):.2g}")


def _fmt(v, digits=4):
    return "–" if v is None or not math.isfinite(v) else f"{v:.{digits}g}"


def _kb(n):
    return f"{n:,} B" if n < 10 * 1024 else f"{n / 1024:,.1f} KB" if n < 10 * 2**20 \
        else f"{n / 2**20:,.1f} MB"


def _losses(settings):
    if settings["dataset"] not in datasets.CLASSIFICATION:
        return list(CHOICES["regression_loss"])
    if settings["dataset"] in ("spirals", "blobs"):
        return ["cross_entropy"]
    return list(CHOICES["classification_loss"])


class Playground:
    """The widgets, plots and callbacks of one page."""

    def __init__(self, doc, session=None):
        self.doc = doc
        self.session = session or Session()
        self.shown_version = None
        self.search_thread = None
        self.search_stop = threading.Event()
        self.search_rows = None
        self.search_error = ""
        self.search_shown = None
        self._quiet = False               # True while we set widgets ourselves
        self._points_for = None
        self._build()
        doc.add_root(self.layout)
        doc.title = "hpframe playground"
        self.callback = doc.add_periodic_callback(self.update, UPDATE_MS)
        doc.on_session_destroyed(self._destroyed)
        self.update()

    # ---- widgets -------------------------------------------------------------------
    def _build(self):
        s = self.session.settings
        w = {}
        w["dataset"] = Select(title="data set", value=s["dataset"], options=list(datasets.NAMES))
        w["noise"] = Slider(title="noise", start=0.0, end=1.0, step=0.05, value=s["noise"])
        w["n_samples"] = Slider(title="samples", start=50, end=1000, step=50,
                                value=s["n_samples"])
        w["seed"] = Spinner(title="seed (data, weights, shuffling)", low=0, high=10**6,
                            step=1, value=s["seed"])
        w["hidden_layers"] = TextInput(title="hidden layers (units, comma separated; empty: none)",
                                       value=", ".join(map(str, s["hidden_layers"])))
        w["activation"] = Select(title="activation", value=s["activation"],
                                 options=list(CHOICES["activation"]))
        w["learning_rate"] = Slider(title="learning rate (log scale)", start=-4, end=3,
                                    step=0.1, value=round(math.log10(s["learning_rate"]), 1),
                                    format=CustomJSTickFormatter(code=LR_FORMAT_JS))
        w["epochs"] = Spinner(title="epochs", low=1, high=5000, step=10, value=s["epochs"])
        w["batch_size"] = Select(title="batch size", value=str(s["batch_size"]),
                                 options=[str(b) for b in BATCH_SIZES])
        w["loss"] = Select(title="loss", value=s["loss"], options=_losses(s))
        w["optimizer"] = Select(title="optimizer", value=s["optimizer"],
                                options=list(CHOICES["optimizer"]))
        w["dropout"] = Slider(title="dropout", start=0.0, end=0.9, step=0.05, value=s["dropout"])
        w["weight_decay"] = Select(title="weight decay", value=repr(s["weight_decay"]),
                                   options=[repr(v) for v in WEIGHT_DECAYS])
        w["validation_split"] = Slider(title="validation %", start=0, end=50, step=5,
                                       value=round(100 * s["validation_split"]))
        w["speed"] = Select(title="speed (changes no result)", value=str(s["speed"]),
                            options=[(str(k), v) for k, v in SPEEDS.items()])
        for name, widget in w.items():
            widget.html_id = f"ctl-{name}"
            # a slider reports its value when released (value_throttled), not at every
            # pixel of a drag, so a drag starts the run over once
            widget.on_change("value_throttled" if isinstance(widget, Slider) else "value",
                             self._changed(name))
        self.widgets = w

        self.start = Button(label="▶ start", button_type="success", html_id="start",
                            width=80)
        self.pause = Button(label="❚❚ pause", html_id="pause", width=80)
        self.step = Button(label="step 1 epoch", html_id="step", width=100)
        self.reset = Button(label="⟲ reset", html_id="reset", width=80)
        self.start.on_click(self._guard(self.session.start))
        self.pause.on_click(self._guard(self.session.pause))
        self.step.on_click(self._guard(self.session.step))
        self.reset.on_click(self._guard(self.session.reset))

        # the picture: boundary image (classification) or curve (regression), and points
        # named, so that tests can read what the page holds
        self.image_source = ColumnDataSource(dict(image=[np.zeros((GRID, GRID), np.uint32)],
                                                  x=[0], y=[0], dw=[1], dh=[1]),
                                             name="boundary-image")
        self.curve_source = ColumnDataSource(dict(x=[], y=[]))
        self.train_source = ColumnDataSource(dict(x=[], y=[], colour=[]))
        self.val_source = ColumnDataSource(dict(x=[], y=[], colour=[]))
        b = figure(width=440, height=440, title="decision boundary", toolbar_location=None,
                   x_range=Range1d(0, 1), y_range=Range1d(0, 1), html_id="boundary")
        self.image = b.image_rgba("image", x="x", y="y", dw="dw", dh="dh",
                                  source=self.image_source)
        self.curve = b.line("x", "y", source=self.curve_source, line_width=3, color="#cc3311")
        b.scatter("x", "y", source=self.train_source, fill_color="colour", line_color="#222222",
                  size=6, legend_label="training")
        b.scatter("x", "y", source=self.val_source, marker="triangle", fill_color="colour",
                  line_color="#222222", size=8, fill_alpha=0.5, legend_label="validation")
        b.legend.location = "top_left"
        b.legend.background_fill_alpha = 0.6
        self.boundary = b

        self.history_source = ColumnDataSource(dict(epoch=[], loss=[], val_loss=[],
                                                     accuracy=[], val_accuracy=[]),
                                               name="history")
        lf = figure(width=420, height=215, title="loss (log scale)", y_axis_type="log",
                    toolbar_location=None, html_id="loss-plot", x_axis_label="epoch")
        lf.line("epoch", "loss", source=self.history_source, legend_label="training",
                line_width=2, color="#0072b2")
        lf.line("epoch", "val_loss", source=self.history_source, legend_label="validation",
                line_width=2, color="#d55e00", line_dash="dashed")
        lf.legend.location = "top_right"
        af = figure(width=420, height=215, title="accuracy", toolbar_location=None,
                    html_id="accuracy-plot", x_axis_label="epoch")
        af.line("epoch", "accuracy", source=self.history_source, legend_label="training",
                line_width=2, color="#0072b2")
        af.line("epoch", "val_accuracy", source=self.history_source, legend_label="validation",
                line_width=2, color="#d55e00", line_dash="dashed")
        af.legend.location = "bottom_right"
        self.loss_fig, self.acc_fig = lf, af

        self.stats = Div(html_id="stats", width=880)
        self.message = Div(html_id="message", width=880)
        self.code = PreText(html_id="code", width=880, height=520)

        self.trial_knobs = CheckboxGroup(labels=list(KNOBS), active=[0, 1, 2],
                                         html_id="trial-knobs")
        self.trial_count = Spinner(title="trials", low=1, high=50, step=1, value=8,
                                   html_id="trial-count", width=100)
        self.trial_button = Button(label="run the search", button_type="primary",
                                   html_id="search", width=160)
        self.trial_button.on_click(self._run_search)
        self.trials = Div(html_id="trials", width=880)

        controls = column(
            Div(text="<b>Data</b>"), w["dataset"], w["noise"], w["n_samples"], w["seed"],
            Div(text="<b>Network</b>"), w["hidden_layers"], w["activation"],
            Div(text="<b>Training</b>"), w["learning_rate"], w["epochs"], w["batch_size"],
            w["loss"], w["optimizer"], w["dropout"], w["weight_decay"], w["validation_split"],
            w["speed"], width=300)
        buttons = row(self.start, self.pause, self.step, self.reset)
        train_tab = column(buttons, self.message, row(b, column(lf, af)), self.stats)
        code_tab = column(Div(text=(
            "<p>This Python reproduces the run shown on the <i>train</i> tab bit for bit: "
            "the same data, the same hyperparameters (with the seed), and one "
            "<code>fit</code> call over the epochs trained so far. Training epoch by epoch "
            "(as the playground does) and in one call give identical parameters.</p>"),
            width=880), self.code)
        trial_tab = column(Div(text=(
            "<p>Trial and error: a random search (<code>hp.random_search</code>) over the "
            "knobs you tick, on this data set, with your other settings as the base "
            f"(at most {MAX_TRIAL_EPOCHS} epochs per trial; a validation split of 0 becomes "
            "20%). Trials are ranked by validation loss.</p>"), width=880),
            row(self.trial_knobs, column(self.trial_count, self.trial_button)), self.trials)
        tabs = Tabs(tabs=[TabPanel(child=train_tab, title="train"),
                          TabPanel(child=code_tab, title="show code"),
                          TabPanel(child=trial_tab, title="trial and error")],
                    html_id="tabs")
        header = Div(text=(
            "<h2 style='margin:0'>hpframe playground</h2><p style='margin:0'>Turn the knobs "
            "and watch hpframe's compiled core learn. Changing a setting (but the speed) "
            "starts over from epoch 0.</p>"), width=1200)
        self.layout = column(header, row(controls, tabs))

    # ---- callbacks -------------------------------------------------------------------
    def _guard(self, action):
        def run(*_):
            self.session.error = ""
            try:
                action()
            except (ValueError, TypeError) as exc:
                self.session.error = str(exc)
            self.update()
        return run

    def _changed(self, name):
        def on_change(attr, old, new):
            if self._quiet:
                return
            try:
                value = self._value(name, new)
                changes = {name: value}
                if name == "dataset":       # a new kind of data may need another loss
                    losses = _losses(dict(self.session.settings, dataset=value))
                    loss = self.session.settings["loss"]
                    changes["loss"] = loss if loss in losses else losses[0]
                    self._set("loss", changes["loss"], options=losses)
                self.session.configure(**changes)
                self.session.error = ""
            except (ValueError, TypeError) as exc:
                self.session.error = str(exc)
            self.update()
        return on_change

    def _set(self, name, value, options=None):
        self._quiet = True
        try:
            if options is not None:
                self.widgets[name].options = options
            self.widgets[name].value = value
        finally:
            self._quiet = False

    @staticmethod
    def _value(name, raw):
        """A widget's value as the setting it stands for (checked again by the session)."""
        if name == "learning_rate":
            return _nice_lr(raw)
        if name in ("batch_size", "speed"):
            return int(raw)
        if name in ("n_samples", "epochs", "seed"):
            if raw is None or float(raw) != int(raw):
                raise ValueError(f"{name} must be a whole number, got {raw!r}")
            return int(raw)
        if name == "weight_decay":
            return float(raw)
        if name == "validation_split":
            return round(float(raw)) / 100
        if name in ("noise", "dropout"):
            return float(raw)
        return raw

    def _run_search(self, *_):
        if self.search_thread is not None and self.search_thread.is_alive():
            return                            # one search at a time: extra clicks are ignored
        labels = list(KNOBS)
        knobs = [labels[i] for i in self.trial_knobs.active]
        n = self.trial_count.value
        self.search_rows, self.search_error = None, ""
        self.trials.text = "<p>searching…</p>"
        self.search_stop.clear()

        def work():
            try:
                rows = run_trials(self.session, knobs, int(n or 0), stop=self.search_stop)
                self.search_rows = rows
            except (ValueError, TypeError) as exc:
                self.search_error = str(exc)
        self.search_thread = threading.Thread(target=work, daemon=True,
                                              name="hpframe-playground-search")
        self.search_thread.start()

    def _destroyed(self, context):
        # the page is gone: stop training (an epoch, at most, to wait for); a running
        # search skips its remaining pictures and its thread ends by itself - joining it
        # here would hold up the server for every other page
        self.search_stop.set()
        self.session.close()

    # ---- drawing -----------------------------------------------------------------------
    def update(self):
        """Copy the session's latest snapshot into the page (runs on the event loop)."""
        self._draw_trials()
        snap = self.session.snapshot()
        if (snap["version"], self.session.error) == self.shown_version:
            return
        self.shown_version = (snap["version"], self.session.error)
        sess = self.session
        self._draw_picture(snap)
        h = snap["history"]
        n = len(h.get("loss", []))
        regression = sess.regression

        def finite(key, positive=False):
            vals = h.get(key, [])
            return [v if math.isfinite(v) and (v > 0 or not positive) else math.nan
                    for v in vals] if len(vals) == n else [math.nan] * n
        acc_key = "r2" if regression else "accuracy"
        self.history_source.data = dict(
            epoch=list(range(1, n + 1)), loss=finite("loss", True),
            val_loss=finite("val_loss", True),
            accuracy=finite(acc_key) if not regression else [math.nan] * n,
            val_accuracy=finite(f"val_{acc_key}"))
        self.acc_fig.title.text = "validation R² (regression)" if regression else "accuracy"
        self.boundary.title.text = ("prediction" if regression else "decision boundary") + \
            f" after epoch {snap['epoch']}"

        def last(key):
            vals = h.get(key, [])
            return vals[-1] if vals else math.nan
        state = "training…" if snap["running"] else ("diverged" if snap["diverged"] else
                                                     "done" if snap["epoch"] >= snap["epochs"]
                                                     else "paused" if snap["epoch"] else "ready")
        mem = sess.memory
        rows = [
            ("epoch", f"<span id='epoch'>{snap['epoch']}</span> / {snap['epochs']} "
                      f"(<span id='state'>{state}</span>)"),
            ("training loss", f"<span id='train-loss'>{_fmt(last('loss'))}</span>"),
            ("validation loss", f"<span id='val-loss'>{_fmt(last('val_loss'))}</span>"),
        ]
        if regression:
            rows.append(("validation R²", f"<span id='val-r2'>{_fmt(last('val_r2'))}</span>"))
        else:
            rows += [("training accuracy",
                      f"<span id='train-accuracy'>{_fmt(last('accuracy'))}</span>"),
                     ("validation accuracy",
                      f"<span id='val-accuracy'>{_fmt(last('val_accuracy'))}</span>")]
        rows += [
            ("parameters (learned)", f"<span id='n-params'>{sess.n_params:,}</span> numbers = "
                                     f"{_kb(sess.param_bytes)} as {sess.hparams.dtype}"),
            ("time per epoch (measured)",
             f"<span id='epoch-time'>{_fmt(1e3 * snap['time_per_epoch'], 3)}</span> ms last, "
             f"{_fmt(1e3 * snap['mean_time_per_epoch'], 3)} ms mean"),
            ("memory estimate", f"<span id='memory'>{_kb(mem['total'])}</span> in total: " +
             ", ".join(f"{k.replace('_', ' ')} {_kb(v)}" for k, v in mem.items()
                       if k != "total")),
        ]
        self.stats.text = "<table>" + "".join(
            f"<tr><td style='padding-right:1em'>{k}</td><td>{v}</td></tr>" for k, v in rows) \
            + "</table>"
        if snap["diverged"]:
            self.message.text = ("<div style='color:#b00020;font-weight:bold' "
                                 f"id='diverged'>{html.escape(snap['diverged'])}</div>")
        elif self.session.error:
            self.message.text = ("<div style='color:#a05000' id='error'>"
                                 f"{html.escape(self.session.error)}</div>")
        else:
            self.message.text = ""
        self.code.text = sess.code(snap["epoch"])

    def _draw_picture(self, snap):
        sess = self.session
        X, y = sess.X, sess.y
        colours = (np.full(len(y), "#555555") if sess.regression
                   else np.asarray(PALETTE)[y.astype(int)])
        ycoord = y if sess.regression else X[:, 1]
        ti, vi = sess.train_idx, sess.val_idx
        if self._points_for != (id(X), id(ti)):      # send the points only when they change
            self._points_for = (id(X), id(ti))
            self.train_source.data = dict(x=X[ti, 0], y=ycoord[ti], colour=colours[ti])
            self.val_source.data = dict(x=X[vi, 0], y=ycoord[vi], colour=colours[vi])
            x0, x1, y0, y1 = sess.extent
            if sess.regression:
                y0, y1 = float(y.min()) - 0.5, float(y.max()) + 0.5
            self.boundary.x_range.update(start=x0, end=x1)
            self.boundary.y_range.update(start=y0, end=y1)
        x0, x1, y0, y1 = sess.extent
        if sess.regression:
            self.image.visible, self.curve.visible = False, True
            self.curve_source.data = dict(x=sess.grid[:, 0], y=snap["output"])
        else:
            self.image.visible, self.curve.visible = True, False
            rgba = boundary_rgba(snap["output"], (GRID, GRID))
            self.image_source.data = dict(image=[rgba.view(np.uint32).reshape(GRID, GRID)],
                                          x=[x0], y=[y0], dw=[x1 - x0], dh=[y1 - y0])
            self.curve_source.data = dict(x=[], y=[])

    def _draw_trials(self):
        if self.search_error and self.search_shown != ("error", self.search_error):
            self.search_shown = ("error", self.search_error)
            self.trials.text = f"<p style='color:#a05000'>{html.escape(self.search_error)}</p>"
        rows = self.search_rows
        if rows is None or self.search_shown is rows:
            return
        self.search_shown = rows
        cells = []
        for r in rows:
            img = (f"<img src='{r['thumbnail']}' width='96' height='96' alt='boundary of "
                   f"trial {r['number']}'>" if r["thumbnail"] else "")
            cells.append(
                f"<tr><td>{r['rank']}</td><td>{img}</td><td>{html.escape(r['status'])}</td>"
                f"<td>{_fmt(r['value'])}</td><td>{_fmt(r['val_accuracy'], 3)}</td>"
                f"<td>{html.escape(r['knobs'])}</td></tr>")
        self.trials.text = (
            "<table id='trial-table'><tr><th>rank</th><th>boundary</th><th>status</th>"
            "<th>validation loss</th><th>validation accuracy</th><th>knobs</th></tr>"
            + "".join(cells) + "</table>")


def make_document(doc):
    """Fill a Bokeh document with one playground page (a Bokeh application handler)."""
    Playground(doc)
