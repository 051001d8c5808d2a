"""``python -m hpframe``: a tour of parameters vs hyperparameters on bundled data.

``python -m hpframe``          train on the bundled digits, then a short search
``python -m hpframe info``     versions, build mode of the core, BLAS
``python -m hpframe playground [--port N] [--no-browser]``   the live web app (extra:
                               playground); loopback only, runs no code sent by the page
"""
import argparse
import sys
import time

from hpframe._atomic import atomic_open


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m hpframe",
        description="Train a small network on the bundled handwritten digits, show what was "
                    "learned (parameters) versus what was chosen (hyperparameters), then try "
                    "several hyperparameter settings with a short random search.")
    parser.add_argument("command", nargs="?", default="demo",
                        choices=["demo", "info", "playground"],
                        help="demo (default), info (versions, build mode, BLAS) or playground "
                             "(a local web app: turn the hyperparameters and watch the core "
                             "learn; it listens on 127.0.0.1 only, accepts connections from "
                             "this machine only and runs no code sent by the page; needs "
                             'pip install "hpframe[playground]")')
    parser.add_argument("--port", type=int, default=0,
                        help="playground: TCP port on 127.0.0.1 (default: a free one, printed)")
    parser.add_argument("--no-browser", action="store_true",
                        help="playground: do not open the page in a web browser")
    parser.add_argument("--trials", type=int, default=20,
                        help="random-search trials (default 20; 0 skips the search)")
    parser.add_argument("--epochs", type=int, default=20, help="epochs of the first training")
    parser.add_argument("--plots", metavar="DIR",
                        help="save the learning curves (and the search plot) as PNGs in DIR")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2],
                        help="0 silent, 1 progress bars (default), 2 a line per epoch")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    import hpframe as hp

    if args.command == "info":
        hp.show_config()
        return 0
    if args.command == "playground":
        if not 0 <= args.port <= 65535:
            _parser().error(f"--port must be from 0 to 65535 (0: any free port), got {args.port}")
        from hpframe.playground import serve
        try:
            serve(port=args.port, open_browser=not args.no_browser)
        except ImportError as exc:
            print(f"hpframe: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:           # e.g. the port is taken
            print(f"hpframe: cannot listen on 127.0.0.1:{args.port}: {exc}. Choose another "
                  "--port (0 picks a free one)", file=sys.stderr)
            return 1
        return 0
    if args.trials < 0 or args.epochs < 1:
        _parser().error("--trials must be >= 0 and --epochs >= 1")

    X, y = hp.datasets.load_digits()
    (X_train, y_train), (X_val, y_val), (X_test, y_test) = hp.data.split(
        X, y, val=0.15, test=0.15, seed=args.seed)
    print(f"hpframe {hp.__version__} - the UCI handwritten digits: {len(X)} images of 8x8 "
          f"pixels, 10 classes\nsplit into {len(X_train)} training, {len(X_val)} validation "
          f"and {len(X_test)} test samples.\n")

    hparams = hp.HyperParams(hidden_layers=(64,), learning_rate=3e-3, epochs=args.epochs,
                             batch_size=32, dropout=0.1, seed=args.seed)
    trainer = hp.Trainer(hparams)
    print("1. Training with hand-picked hyperparameters")
    start = time.perf_counter()
    trainer.fit(X_train, y_train, validation_data=(X_val, y_val), verbose=args.verbose)
    seconds = time.perf_counter() - start
    test = trainer.evaluate(X_test, y_test)
    print(f"   trained {trainer.epoch_} epochs in {seconds:.2f} s; test accuracy "
          f"{test['accuracy']:.3f} (test loss {test['loss']:.3f})\n")

    print("2. Parameters vs hyperparameters")
    print(f"   LEARNED by training - model parameters: {trainer.n_params:,} numbers "
          f"({trainer.n_params * 4 / 1024:.1f} KB as {hparams.dtype}):")
    for name, value in trainer.params.items():
        print(f"     {name:<16} shape {str(value.shape):<10} mean {value.mean():+.4f}  "
              f"std {value.std():.4f}")
    print("   CHOSEN before training - hyperparameters (none of them changed by fit):")
    for name, value in hparams.to_dict().items():
        print(f"     {name:<17} = {value!r}")
    print()
    print(trainer.summary())
    print()

    if args.plots:
        _save_plots(args.plots, trainer)

    if args.trials:
        print(f"3. Trial and error: a random search of {args.trials} trials "
              "(validation loss decides)")
        space = {
            "learning_rate": hp.LogUniform(1e-4, 3e-2),
            "hidden_layers": hp.Choice([(16,), (64,), (128,), (64, 64)]),
            "batch_size": hp.Choice([16, 32, 128]),
            "dropout": hp.Uniform(0.0, 0.4),
        }
        base = hparams.replace(epochs=min(args.epochs, 15), validation_split=0.2)
        result = hp.random_search(X_train, y_train, space=space, n_trials=args.trials,
                                  base=base, seed=args.seed, verbose=args.verbose)
        print(result.summary())
        print(f"\n   best hyperparameters: {result.best_params}")
        # the same epochs as in the search: they are a hyperparameter the choice was made with
        best = hp.Trainer(base.replace(**result.best_params))
        best.fit(X_train, y_train, validation_data=(X_val, y_val), verbose=0)
        print(f"   retrained with them ({best.epoch_} epochs, as in the search; step 1 "
              f"trained {trainer.epoch_}): test accuracy "
              f"{best.evaluate(X_test, y_test)['accuracy']:.3f}")
        if args.plots:
            _save_search_plot(args.plots, result)
    print("\nNext: read the tutorial, run the scripts in examples/, or "
          "print(hp.HyperParams.describe()).")
    return 0


def _save_plots(folder, trainer):
    import os
    import matplotlib
    matplotlib.use("Agg")
    os.makedirs(folder, exist_ok=True)
    ax = trainer.history.plot()
    fig = ax.flat[0].figure if hasattr(ax, "flat") else ax.figure
    path = os.path.join(folder, "learning_curves.png")
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=100, bbox_inches="tight")
    print(f"   saved {path}")


def _save_search_plot(folder, result):
    import os
    import matplotlib
    matplotlib.use("Agg")
    fig = result.plot()
    fig = getattr(fig, "figure", fig)
    path = os.path.join(folder, "search.png")
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=100, bbox_inches="tight")
    print(f"   saved {path}")


if __name__ == "__main__":
    sys.exit(main())
